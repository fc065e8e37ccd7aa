"""The Markdown summary of a slim CI run: what ran and why, what was deferred, the checks, the
notebook tests, the data diffs against the base and the changed code cells (a pull request's page)."""

from __future__ import annotations

from typing import Any

from ..metadata.diff import markdown as diff_markdown


def _cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def _fence(text: str, lang: str = "") -> list[str]:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return [ticks + lang, text, ticks]


def markdown(result: dict[str, Any]) -> str:
    env, base = result["environment"], result["base"]
    ran, deferred = result["ran"], result["deferred"]
    total = len(ran) + len(deferred)
    commit = (result.get("commit") or "")[:10]
    where = f"commit `{commit}`" + (" with uncommitted changes" if result.get("dirty") else "")
    if result.get("branch"):
        where += f" on branch `{_cell(result['branch'])}`"
    lines = [f"## dataops-nb ci: `{env}` against `{base}`", "",
             f"Tested {where}: {len(ran)} of {total} steps ran in `{env}`, {len(deferred)} deferred to `{base}`"
             + (f" (run `{result['run_id']}`)." if result.get("run_id") else "."), ""]
    if result["failed"]:
        lines += ["**Result: failed.** " + " ".join(_cell(p) for p in result["problems"]), ""]
    else:
        lines += ["**Result: passed.**", ""]
    if result.get("reset"):
        lines += [f"`{env}` was reset first: it pointed at {len(result['reset'])} version(s) of an earlier CI build.", ""]

    lines += ["### Steps run", ""]
    if ran:
        lines += ["| step | status | why | fingerprint part |", "|---|---|---|---|"]
        for item in ran:
            status = item.get("status") or ""
            if item.get("error"):
                status += f": {item['error']}"
            lines.append(f"| {_cell(item['step'])} | {_cell(status)} | {_cell('; '.join(item['reasons']))} | "
                         f"{_cell(', '.join(item['parts']))} |")
    else:
        lines.append(f"None: every step's fingerprint matches what is current in `{base}`.")
    lines += ["", f"### Steps deferred to `{base}`", "", ", ".join(f"`{s}`" for s in deferred) or "None.", ""]

    lines += ["### Checks", ""]
    checks = result["checks"]
    if checks:
        lines += ["| dataset | check | severity | status | message |", "|---|---|---|---|---|"]
        lines += [f"| {_cell(c['dataset'])} | {_cell(c['check'])} | {c['severity']} | {c['status']} | "
                  f"{_cell(c.get('message'))} |" for c in checks]
    else:
        lines.append("No checks ran." if ran else "Nothing was built, so nothing was checked.")
    lines += ["", "### Notebook tests (nbval)", ""]
    tests = result["tests"]
    if tests.get("notebooks"):
        lines += ["| step | notebook | result |", "|---|---|---|"]
        lines += [f"| {_cell(t['step'])} | {_cell(t['notebook'])} | {_cell(t['result'])} |" for t in tests["notebooks"]]
    if tests.get("notebooks"):
        lines.append("")
    if tests.get("note"):
        lines += [_cell(tests["note"]), ""]
    if tests.get("log"):
        lines += [f"nbval's output: `{_cell(tests['log'])}`.", ""]

    diff = result.get("diff")
    if diff and diff.get("datasets"):
        lines += diff_markdown(diff).splitlines()
    else:
        lines += [f"### Data diff: {base} → {env}", "", "No dataset changed."]
    for dataset, problem in (result.get("diff_errors") or {}).items():
        lines.append(f"- {_cell(dataset)}: not compared: {_cell(problem)}")
    lines += ["", "### Changed code cells", ""]
    notebooks = result.get("notebooks") or []
    if not notebooks:
        lines.append("No notebook's code changed.")
    for nb in notebooks:
        lines += [f"#### {_cell(nb['step'])} (`{_cell(nb['notebook'])}`)", ""]
        if nb["against"] is None:
            lines += [_cell(nb["note"]), ""]
        elif not nb["cells"]:
            same = f"No code cell differs from {nb['against']} (only whitespace or blank lines changed)."
            lines += [same, ""]
        else:
            lines += [f"{nb['cells']} code cell(s) changed against {_cell(nb['against'])}:", "",
                      *_fence(nb["diff"], "diff"), ""]
    return "\n".join(lines).rstrip() + "\n"
