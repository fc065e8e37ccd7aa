"""The step graph: topological order and step selection (the spec refuses a cycle: spec.find_cycle)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..errors import NotFoundError


def topological_order(needs: Mapping[str, Iterable[str]]) -> list[str]:
    """Steps so that each comes after everything it needs; ties keep spec order."""
    order: list[str] = []
    done: set[str] = set()
    remaining = list(needs)
    while remaining:
        progressed = False
        for node in list(remaining):
            if all(dep in done for dep in needs[node]):
                order.append(node)
                done.add(node)
                remaining.remove(node)
                progressed = True
                break
        if not progressed:  # validated specs have no cycles; stay total anyway
            order.extend(remaining)
            break
    return order


def downstream(needs: Mapping[str, Iterable[str]], roots: Iterable[str]) -> set[str]:
    """`roots` and every step that depends on them, directly or not."""
    result = set(roots)
    changed = True
    while changed:
        changed = False
        for node, deps in needs.items():
            if node not in result and any(dep in result for dep in deps):
                result.add(node)
                changed = True
    return result


def upstream(needs: Mapping[str, Iterable[str]], roots: Iterable[str]) -> set[str]:
    """Every step that `roots` depend on, directly or not (not `roots` themselves)."""
    result: set[str] = set()
    queue = [dep for root in roots for dep in needs.get(root, ())]
    while queue:
        step = queue.pop()
        if step not in result:
            result.add(step)
            queue.extend(needs.get(step, ()))
    return result


def select(
    needs: Mapping[str, Iterable[str]],
    *,
    only: Iterable[str] = (),
    start: Iterable[str] = (),
) -> list[str]:
    """The steps to run, in order: all, `--only` steps, or `--from` steps and downstream."""
    names = list(needs)
    only, start = list(only), list(start)
    for name in [*only, *start]:
        if name not in needs:
            raise NotFoundError("step", name, names)
    chosen = set(names)
    if start:
        chosen = downstream(needs, start)
    if only:
        chosen = (chosen & set(only)) if start else set(only)
    return [name for name in topological_order(needs) if name in chosen]
