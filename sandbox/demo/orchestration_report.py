"""The report's Step Functions part: each state machine execution's path, the champion
gate's two numbers, and the monitoring run's drift per feature as a plot (drift.png)."""

from __future__ import annotations

import html
from pathlib import Path

DRIFT_IMAGE = "drift.png"


def _gate_line(gate: dict | None) -> str:
    if not gate:
        return "no verdict (the execution did not reach the ChampionGate)"
    candidate = gate["candidate"]
    champion = gate.get("champion")
    against = (
        f"champion v{champion['version']} {gate['metric']}={champion['value']:.4f}"
        if champion
        else "no champion yet"
    )
    verdict = "passed" if gate["passed"] else "failed"
    return (
        f"candidate v{candidate['version']} {gate['metric']}={candidate['value']:.4f}, {against}, "
        f"tolerance {gate['tolerance']}, minimum to pass {gate['minimum_to_pass']:.4f}: {verdict}"
    )


def drift_plot(drift: dict, folder: Path) -> str | None:
    """A bar per feature (distance, red above its threshold, the threshold marked)."""
    if not drift:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(drift)
    distances = [drift[n]["distance"] for n in names]
    thresholds = [drift[n]["threshold"] for n in names]
    colors = ["#cf222e" if d > t else "#1a7f37" for d, t in zip(distances, thresholds, strict=True)]
    figure, axes = plt.subplots(figsize=(7, 0.35 * len(names) + 1.2))
    axes.barh(names, distances, color=colors)
    axes.scatter(thresholds, names, marker="|", s=300, color="black", label="threshold")
    axes.invert_yaxis()
    axes.set_xlabel("distance to the baseline (L-infinity)")
    axes.set_title("Drift per feature: captured traffic vs the package's baseline")
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(folder / DRIFT_IMAGE, dpi=100)
    plt.close(figure)
    return DRIFT_IMAGE


def markdown(outcome, image: str | None) -> str:
    facts = outcome.orchestration
    if not facts:
        return ""
    parts = ["## State machine\n"]
    for execution in facts.get("executions", []):
        trigger = execution["input"].get("Trigger", {}).get("reason", "a person")
        parts.append(
            f"`{execution['arn']}` (started by {trigger}): **{execution['status']}**"
            f"{' ' + execution['error'] if execution.get('error') else ''}\n\n"
            f"{' → '.join(execution['path'])}\n\nChampion gate: {_gate_line(execution['gate'])}\n"
        )
    if facts.get("drift"):
        parts.append("## Drift per feature\n")
        parts.append("| feature | distance | threshold |\n| --- | --- | --- |")
        parts += [
            f"| {n} | {d['distance']:.4f} | {d['threshold']} |" for n, d in facts["drift"].items()
        ]
        parts += [f"\n![drift]({image})\n" if image else ""]
    return "\n".join(parts) + "\n"


def html_section(outcome, image: str | None) -> str:
    facts = outcome.orchestration
    if not facts:
        return ""
    parts = ["<h2>State machine</h2>"]
    for execution in facts.get("executions", []):
        trigger = execution["input"].get("Trigger", {}).get("reason", "a person")
        css = "ok" if execution["status"] in ("SUCCEEDED", "RUNNING") else "bad"
        error = f" {html.escape(execution['error'])}" if execution.get("error") else ""
        parts.append(
            f"<p><code>{html.escape(execution['arn'])}</code> (started by "
            f"{html.escape(trigger)}): <b class={css}>{html.escape(execution['status'])}"
            f"{error}</b></p><p>{' → '.join(html.escape(s) for s in execution['path'])}</p>"
            f"<p>Champion gate: {html.escape(_gate_line(execution['gate']))}</p>"
        )
    if facts.get("drift"):
        parts.append("<h2>Drift per feature</h2>")
        if image:
            parts.append(f'<img src="{image}" alt="drift per feature" style="max-width:70%">')
        for violation in facts.get("violations", []):
            parts.append(
                f"<p class=bad>{html.escape(violation['feature_name'])}: "
                f"{html.escape(violation['constraint_check_type'])}: "
                f"{html.escape(violation['description'])}</p>"
            )
    return "\n".join(parts)
