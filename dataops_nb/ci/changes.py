"""Which steps a commit changes, compared with what is current in the base environment, and why.

A step differs when its fingerprint (code, parameters, local modules, input files, input
versions, environment) differs from that of the run behind the base's current state, or when the
base never built it; its dependents differ with it. Everything else is deferred: read from the base.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..project import Project
from ..runner.dag import downstream, topological_order
from ..runner.run import StepPlan, staleness

# the fingerprint part each reason of `stale_reasons` names
PARTS = (
    ("code changed", "code"),
    ("parameter changed", "parameters"),
    ("module changed", "local modules"),
    ("input changed", "input versions"),
    ("input file", "input files"),
    ("input URL", "input files"),
    ("environment changed", "environment"),
    ("upstream", "upstream"),
)


def part_of(reason: str) -> str:
    """The fingerprint part a staleness reason is about (`base` when the base has no good build)."""
    for prefix, part in PARTS:
        if reason.startswith(prefix):
            return part
    return "base"  # never ran there, its last run failed, no fingerprint recorded


@dataclass(frozen=True)
class StepChange:
    step: str
    reasons: list[str] = field(default_factory=list)  # empty: deferred to the base

    @property
    def parts(self) -> list[str]:
        return sorted({part_of(reason) for reason in self.reasons})

    @property
    def differs(self) -> bool:
        return bool(self.reasons)

    def as_dict(self) -> dict[str, object]:
        return {"step": self.step, "reasons": self.reasons, "parts": self.parts}


def compare(project: Project, plans: list[StepPlan], base: str) -> list[StepChange]:
    """Every step in DAG order, with why it differs from `base` ([] when the base's build stands)."""
    reasons = staleness(project, plans, base)
    needs = {step.name: step.needs for step in project.spec.steps}
    own = [name for name, why in reasons.items() if why and not all(part_of(r) == "upstream" for r in why)]
    dependents = downstream(needs, own)
    changes = []
    for name in topological_order(needs):
        why = [r for r in reasons.get(name, []) if part_of(r) != "upstream"]
        why += [f"upstream '{need}' changed" for need in needs[name] if need in dependents]
        changes.append(StepChange(name, why if name in dependents else []))
    return changes
