"""The record of an endpoint's blue/green deployments, as sandbox/guardrails.py writes it
(`<home>/endpoints/<name>.deployments.json`), read without moto: for
`python -m sandbox endpoint-deployments NAME` (against a sandbox running elsewhere) and
the demo report."""

from __future__ import annotations

import json
from pathlib import Path

JOURNAL_SUFFIX = ".deployments.json"


def journal_path(folder: Path, endpoint_name: str) -> Path:
    return Path(folder) / f"{endpoint_name}{JOURNAL_SUFFIX}"


def read_journal(folder: Path, endpoint_name: str) -> list[dict]:
    """What `_write_journal` wrote for an endpoint (another process's sandbox included)."""
    path = journal_path(folder, endpoint_name)
    return json.loads(path.read_text()) if path.exists() else []


def describe(deployment: dict) -> list[str]:
    """A deployment as lines for people: each stage with the traffic each fleet got."""
    lines = [
        f"{deployment['endpoint']}: {deployment['routing_type']} deployment "
        f"{deployment['blue_config']} -> {deployment['green_config']}: {deployment['outcome']}"
    ]
    for stage in deployment["stages"]:
        observed = stage.get("observed_green_share")
        seen = "no requests" if observed is None else f"observed {observed:.0%}"
        lines.append(
            f"  {stage['name']:<18} new fleet {stage['green_share']:>4.0%} ({seen}: "
            f"{stage['green_requests']} new / {stage['blue_requests']} old, "
            f"{stage['green_errors']} new-fleet 5xx)"
        )
    if deployment.get("failure_reason"):
        lines.append(f"  FailureReason: {deployment['failure_reason']}")
    return lines
