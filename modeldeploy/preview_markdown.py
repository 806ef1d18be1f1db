"""A deploy preview (modeldeploy/preview.py) as Markdown: for a job summary, a pull-request
comment or the file a pipeline's manual approval links to. The first line is a one-line
headline, so a caller can take it alone (CodePipeline's approval message)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modeldeploy.preview import ServedPackage, StackPreview

ACTIONS = ("Add", "Modify", "Remove")


def _cell(value: object) -> str:
    """A table cell: code, with what would break the table escaped; — for no value (an
    absent parameter), "" for an empty one."""
    if value is None:
        return "—"
    text = str(value).replace("|", "\\|").replace("`", "'").replace("\n", " ")
    return f"`{text}`" if text else '`""`'


def headline(preview: StackPreview) -> str:
    where = f"{preview.stage}: `{preview.stack_name}`"
    if preview.no_changes:
        return f"{where}: no changes (the deploy leaves it as it is)"
    counts = {action: 0 for action in ACTIONS}
    for change in preview.changes:
        action = change.get("Action", "Modify")
        counts[action] = counts.get(action, 0) + 1
    replaced = sum(1 for c in preview.changes if c.get("Replacement") == "True")
    maybe = sum(1 for c in preview.changes if c.get("Replacement") == "Conditional")
    parts = [
        f"{counts['Add']} added",
        f"{counts['Modify']} modified",
        f"{counts['Remove']} removed",
    ]
    if replaced or maybe:
        parts.append(f"{replaced} replaced" + (f", {maybe} maybe replaced" if maybe else ""))
    what = ", ".join(parts)
    if preview.replaces_status:
        return (
            f"{where} is {preview.replaces_status}: the deploy deletes it and creates it "
            f"again ({what})"
        )
    if preview.kind == "create":
        return f"{where} does not exist yet: the deploy creates it ({what})"
    return f"{where} would be updated ({what})"


def _package_line(label: str, package: ServedPackage) -> str:
    version = f"version {package.version}" if package.version is not None else "version unknown"
    status = f", {package.approval_status}" if package.approval_status else ""
    return f"{label} {version}{status}: `{package.arn}`"


def _metrics_table(preview: StackPreview) -> list[str]:
    new = preview.package.metrics if preview.package else {}
    old = preview.package_before.metrics if preview.package_before else {}
    if not new and not old:
        return []
    changed = preview.package_before is not None and preview.package_before != preview.package
    lines = ["", "| Metric | Now | After the deploy |" if changed else "| Metric | Value |"]
    lines.append("|---|---|---|" if changed else "|---|---|")
    for name in sorted(new.keys() | old.keys()):
        after = f"{new[name]:.4g}" if name in new else "—"
        if changed:
            before = f"{old[name]:.4g}" if name in old else "—"
            lines.append(f"| {name} | {before} | {after} |")
        else:
            lines.append(f"| {name} | {after} |")
    return lines


def _package_section(preview: StackPreview) -> list[str]:
    if preview.package is None:
        return []
    lines = [_package_line("**Model package served after the deploy:**", preview.package)]
    if preview.package_before and preview.package_before != preview.package:
        lines.append("")
        lines.append(_package_line("Served now:", preview.package_before))
    elif preview.package_before:
        lines.append("")
        lines.append("(the package served now: the deploy does not change it)")
    return lines + _metrics_table(preview)


def _why(change: dict) -> str:
    """The properties a Modify touches, and what causes each."""
    reasons = []
    for detail in change.get("Details", []):
        target = detail.get("Target", {})
        name = target.get("Name") or target.get("Attribute", "?")
        cause = detail.get("CausingEntity")
        source = detail.get("ChangeSource", "")
        if source == "ParameterReference" and cause:
            name += f" (parameter {cause})"
        elif cause:
            name += f" ({cause})"
        if name not in reasons:
            reasons.append(name)
    return ", ".join(reasons)


def _resources_table(preview: StackPreview) -> list[str]:
    lines = [
        "| Action | Resource | Type | Replacement | What changes |",
        "|---|---|---|---|---|",
    ]
    order = {action: index for index, action in enumerate(ACTIONS)}
    for change in sorted(preview.changes, key=lambda c: order.get(c.get("Action"), 9)):
        replacement = change.get("Replacement") or "—"
        if replacement == "True":
            replacement = "**True**"
        lines.append(
            f"| {change.get('Action')} | {_cell(change.get('LogicalResourceId'))} | "
            f"{change.get('ResourceType')} | {replacement} | {_why(change) or '—'} |"
        )
    return lines


def _parameters_table(preview: StackPreview) -> list[str]:
    before, after = preview.parameters_before, preview.parameters_after
    names = list(after) + [n for n in before if n not in after]
    changed = [n for n in names if before.get(n) != after.get(n)]
    same = [n for n in names if before.get(n) == after.get(n)]
    lines = []
    if changed:
        lines += ["| Parameter | Before | After |", "|---|---|---|"]
        lines += [
            f"| {name} | {_cell(before.get(name))} | {_cell(after.get(name))} |" for name in changed
        ]
    if same:
        lines += ["", f"<details><summary>{len(same)} unchanged parameter(s)</summary>", ""]
        lines += ["| Parameter | Value |", "|---|---|"]
        lines += [f"| {name} | {_cell(after.get(name, before.get(name)))} |" for name in same]
        lines += ["", "</details>"]
    return lines


def render(preview: StackPreview) -> str:
    """The preview as Markdown, its first line the headline."""
    lines = [f"### {headline(preview)}", ""]
    lines += _package_section(preview)
    if preview.changes:
        lines += ["", *_resources_table(preview)]
    lines += ["", *_parameters_table(preview), "", ""]  # a blank line before what follows
    return "\n".join(lines)
