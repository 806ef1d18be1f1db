"""The run report: `.sandbox/report/index.html` and its Markdown twin `report.md`.

Metrics table (the same Markdown `run-pipeline --summary-markdown` writes for the GitHub
job summary), the Evaluate step's ROC-curve and confusion-matrix images (fetched from the
step's S3 output, as one would on AWS), the pipeline graph with each step's status, the
endpoints and what they serve, and stage timings with links to their logs.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from botocore.exceptions import ClientError

from modeldeploy.registry import describe_package, read_metrics
from modeldeploy.smoke import served_package
from sandbox.demo import graph, orchestration_report
from sandbox.demo.progress import StageTiming
from sandbox.deployment_journal import describe as describe_deployment
from sandbox.deployment_journal import read_journal

IMAGES = ("roc_curve.png", "confusion_matrix.png")


def collect(lifecycle, outcome) -> dict:
    """Facts from the sandbox: packages, endpoints, the last execution's graph and images."""
    facts = {"packages": [], "endpoints": {}, "graph": None, "images": []}
    if not lifecycle.exports:
        return facts
    s3 = lifecycle.sandbox.client("s3")
    for summary in lifecycle.packages():
        package = describe_package(lifecycle.sagemaker, summary["ModelPackageArn"])
        facts["packages"].append(
            {
                "version": package.version,
                "status": package.approval_status,
                "arn": package.arn,
                "metrics": read_metrics(s3, package.metrics_uri),
            }
        )
    versions = {p["arn"]: p["version"] for p in facts["packages"]}
    for stage in ("staging", "prod"):
        endpoint = lifecycle.describe_endpoint(stage)
        if endpoint:
            status = endpoint["EndpointStatus"]
            package = served_package(lifecycle.stage_sagemaker(stage), endpoint)
            facts["endpoints"][f"{lifecycle.project.name}-{stage}"] = {
                "status": status,
                "package": package,
                "version": versions.get(package),
            }
    facts["deployments"] = _deployments(lifecycle)
    execution = next((e for e in reversed(outcome.executions) if e.get("arn")), None)
    if execution:
        sagemaker = lifecycle.sagemaker
        steps = sagemaker.list_pipeline_execution_steps(
            PipelineExecutionArn=execution["arn"], SortOrder="Ascending"
        )["PipelineExecutionSteps"]
        definition = json.loads(
            sagemaker.describe_pipeline_definition_for_execution(
                PipelineExecutionArn=execution["arn"]
            )["PipelineDefinition"]
        )
        facts["graph"] = {"definition": definition, "steps": steps}
        facts["images"] = _fetch_images(lifecycle, steps, Path(lifecycle.work_dir))
    return facts


def _fetch_images(lifecycle, steps: list[dict], folder: Path) -> list[Path]:
    """The PNGs next to evaluation.json in the Evaluate job's output, downloaded."""
    s3 = lifecycle.sandbox.client("s3")
    for step in steps:
        arn = step.get("Metadata", {}).get("ProcessingJob", {}).get("Arn")
        if not arn:
            continue
        job = lifecycle.sagemaker.describe_processing_job(ProcessingJobName=arn.rsplit("/", 1)[1])
        for output in job.get("ProcessingOutputConfig", {}).get("Outputs", []):
            bucket, _, prefix = output["S3Output"]["S3Uri"].removeprefix("s3://").partition("/")
            found = []
            for name in IMAGES:
                target = folder / "images" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    s3.download_file(bucket, f"{prefix.rstrip('/')}/{name}", str(target))
                except ClientError:  # not this output, or an image without matplotlib
                    continue
                found.append(target)
            if found:
                return found
    return []


def write(report_dir: Path, outcome, timings, facts, metrics_md: Path, elapsed: float) -> Path:
    """Write index.html and report.md into `report_dir`; returns the HTML path."""
    images = []
    for image in (facts or {}).get("images", []):
        target = report_dir / image.name
        target.write_bytes(image.read_bytes())
        images.append(target.name)
    metrics = metrics_md.read_text() if metrics_md.exists() else ""
    graph_facts = (facts or {}).get("graph")
    orchestration_report.drift_plot(outcome.orchestration.get("drift"), report_dir)
    markdown = _markdown(
        outcome, timings, facts or {}, metrics, images, graph_facts, elapsed, report_dir
    )
    (report_dir / "report.md").write_text(markdown)
    page = _html(outcome, timings, facts or {}, metrics, images, graph_facts, elapsed, report_dir)
    (report_dir / "index.html").write_text(page)
    return report_dir / "index.html"


def _drift_image(report_dir: Path) -> str | None:
    image = report_dir / orchestration_report.DRIFT_IMAGE
    return image.name if image.exists() else None


def _headline(outcome) -> str:
    verdict = "as expected" if outcome.expected else "FAILED"
    return f"Scenario `{outcome.scenario}`: {verdict} — {outcome.message}"


def _timing_rows(timings: list[StageTiming], report_dir: Path) -> list[tuple[str, str, str, str]]:
    return [
        (t.name, t.status, f"{t.seconds:.1f} s", str(t.log.relative_to(report_dir)))
        for t in timings
    ]


def _deployments(lifecycle) -> list[str]:
    """The last blue/green update of each stage's endpoint, as lines: each traffic shift
    with what each fleet served (sandbox/guardrails.py records them)."""
    lines = []
    for stage in ("staging", "prod"):
        records = read_journal(
            Path(lifecycle.sandbox.home) / "endpoints", f"{lifecycle.project.name}-{stage}"
        )
        if records:
            lines += describe_deployment(records[-1])
    return lines


def _markdown(outcome, timings, facts, metrics, images, graph_facts, elapsed, report_dir) -> str:
    parts = [f"# Sandbox demo report\n\n{_headline(outcome)}\n\nTotal: {elapsed:.1f} s\n"]
    if outcome.failure:
        parts.append(
            f"**Failed stage:** {outcome.failure.stage} — {outcome.failure.reason} "
            f"([log]({outcome.failure.log.relative_to(report_dir)}))\n"
            if outcome.failure.log
            else f"**Failed stage:** {outcome.failure.stage} — {outcome.failure.reason}\n"
        )
    if metrics:
        parts.append("## Metrics\n\n" + metrics.replace("### ", "#### "))
    parts += [f"![{name}]({name})\n" for name in images]
    if graph_facts:
        parts.append("## Pipeline graph\n\n" + graph.mermaid(**graph_facts))
    parts.append(orchestration_report.markdown(outcome, _drift_image(report_dir)))
    parts.append(_endpoints_markdown(facts))
    if facts.get("deployments"):
        shifts = "\n".join(facts["deployments"])
        parts.append(f"## Guarded deployments (blue/green)\n\n```text\n{shifts}\n```\n")
    rows = "\n".join(
        f"| {n} | {s} | {t} | [log]({p}) |" for n, s, t, p in _timing_rows(timings, report_dir)
    )
    parts.append(
        f"## Stages\n\n| stage | status | time | log |\n| --- | --- | --- | --- |\n{rows}\n"
    )
    return "\n".join(parts)


def _endpoints_markdown(facts) -> str:
    lines = ["## Endpoints and packages\n", "| endpoint | status | serves |", "| --- | --- | --- |"]
    for name, e in facts.get("endpoints", {}).items():
        lines.append(f"| {name} | {e['status']} | v{e['version']} `{e['package']}` |")
    lines += ["", "| version | approval | package |", "| --- | --- | --- |"]
    lines += [
        f"| {p['version']} | {p['status']} | `{p['arn']}` |" for p in facts.get("packages", [])
    ]
    return "\n".join(lines) + "\n"


_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1000px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1.5em; }
td, th { border: 1px solid #ccc; padding: .3em .7em; text-align: left; }
code { font-size: 90%; } .ok { color: #1a7f37; } .bad { color: #cf222e; }
img { max-width: 48%; border: 1px solid #ddd; margin-right: 1%; }
"""


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _metrics_html(metrics: str) -> str:
    """The Markdown metrics tables as HTML (one per registered package)."""
    sections = []
    for block in metrics.split("### ")[1:]:
        lines = block.strip().splitlines()
        arn_line = next((line for line in lines if line.startswith("`")), "")
        rows = [
            [html.escape(c.strip()) for c in line.strip("|").split("|")]
            for line in lines
            if line.startswith("| ") and not line.startswith("| metric") and "---" not in line
        ]
        sections.append(
            f"<p><code>{html.escape(arn_line.replace('`', ''))}</code></p>"
            + _table(["metric", "value"], rows)
        )
    return "".join(sections)


def _html(outcome, timings, facts, metrics, images, graph_facts, elapsed, report_dir) -> str:
    css = "ok" if outcome.expected else "bad"
    parts = [
        "<!doctype html><meta charset=utf-8><title>Sandbox demo report</title>",
        f"<style>{_STYLE}</style>",
        "<h1>Sandbox demo report</h1>",
        f"<p class={css}><b>{html.escape(_headline(outcome).replace('`', ''))}</b></p>"
        f"<p>Total: {elapsed:.1f} s</p>",
    ]
    if outcome.failure:
        log = outcome.failure.log
        link = f' (<a href="{log.relative_to(report_dir)}">log</a>)' if log else ""
        parts.append(
            f"<p class=bad>Failed stage <b>{html.escape(outcome.failure.stage)}</b>: "
            f"{html.escape(outcome.failure.reason)}{link}</p>"
        )
    if metrics:
        parts.append("<h2>Metrics</h2>" + _metrics_html(metrics))
    if images:
        parts.append("<h2>Evaluation</h2>" + "".join(f'<img src="{n}" alt="{n}">' for n in images))
    if graph_facts:
        parts.append("<h2>Pipeline graph</h2>" + graph.svg(**graph_facts))
    parts.append(orchestration_report.html_section(outcome, _drift_image(report_dir)))
    endpoint_rows = [
        [
            html.escape(name),
            html.escape(e["status"]),
            f"v{e['version']} <code>{html.escape(str(e['package']))}</code>",
        ]
        for name, e in facts.get("endpoints", {}).items()
    ]
    package_rows = [
        [str(p["version"]), html.escape(p["status"]), f"<code>{html.escape(p['arn'])}</code>"]
        for p in facts.get("packages", [])
    ]
    parts.append("<h2>Endpoints</h2>" + _table(["endpoint", "status", "serves"], endpoint_rows))
    parts.append(
        "<h2>Model packages</h2>" + _table(["version", "approval", "package"], package_rows)
    )
    if facts.get("deployments"):
        shifts = html.escape("\n".join(facts["deployments"]))
        parts.append(f"<h2>Guarded deployments (blue/green)</h2><pre>{shifts}</pre>")
    timing_rows = [
        [html.escape(n), html.escape(s), t, f'<a href="{p}">log</a>']
        for n, s, t, p in _timing_rows(timings, report_dir)
    ]
    parts.append("<h2>Stages</h2>" + _table(["stage", "status", "time", "log"], timing_rows))
    return "\n".join(parts) + "\n"


def print_summary(outcome, timings, facts, elapsed: float, report_path: Path) -> None:
    print()
    print("=" * 78)
    print(_headline(outcome).replace("`", ""))
    if outcome.failure:
        print(f"Failed stage: {outcome.failure.stage}")
        print(f"Reason:       {outcome.failure.reason}")
        if outcome.failure.log:
            print(f"Log:          {outcome.failure.log}")
    for package in (facts or {}).get("packages", []):
        print(f"Package v{package['version']} {package['status']:<22} {package['arn']}")
        if package["metrics"]:
            print("  " + ", ".join(f"{k}={v:.4f}" for k, v in package["metrics"].items()))
    for name, endpoint in (facts or {}).get("endpoints", {}).items():
        serves = f"serves v{endpoint['version']} {endpoint['package']}"
        print(f"Endpoint {name:<16} {endpoint['status']:<10} {serves}")
    for line in (facts or {}).get("deployments", []):
        print(f"Deployment {line}" if not line.startswith(" ") else f"  {line}")
    print("Stages:")
    for timing in timings:
        print(f"  {timing.name:<22} {timing.status:<10} {timing.seconds:6.1f} s")
    print(f"Total {elapsed:.1f} s. Report: {report_path}")
