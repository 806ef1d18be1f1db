"""The pipeline graph of an execution, drawn from its definition and its steps' statuses:
an inline SVG for the HTML report, a Mermaid block for the Markdown one (GitHub draws it)."""

from __future__ import annotations

import html

from sandbox.runner.graph import build_graph

COLOURS = {"Succeeded": "#d1f0d9", "Failed": "#ffd7d5", "Executing": "#fff3c4"}
NOT_RUN = "#eeeeee"
BOX_W, BOX_H, GAP_X, GAP_Y = 180, 46, 50, 24


def _layers(definition: dict) -> tuple[dict, list[list[str]]]:
    """Nodes, and their names grouped by depth (longest path from a root)."""
    nodes = build_graph(definition)
    depth: dict[str, int] = {}

    def level(name: str) -> int:
        if name not in depth:
            depth[name] = 1 + max((level(u) for u in nodes[name].upstream), default=-1)
        return depth[name]

    layers: list[list[str]] = []
    for name in nodes:
        d = level(name)
        layers.extend([] for _ in range(d + 1 - len(layers)))
        layers[d].append(name)
    return nodes, layers


def _edges(nodes: dict) -> list[tuple[str, str]]:
    """(upstream, step) pairs without the ones a longer path already implies: data
    references (Register reads Preprocess, Train and Evaluate) would hide the flow."""

    def ancestors(name: str) -> set[str]:
        found = set()
        for upstream in nodes[name].upstream:
            found |= {upstream} | ancestors(upstream)
        return found

    edges = []
    for name, node in nodes.items():
        implied = set().union(*(ancestors(u) for u in node.upstream)) if node.upstream else set()
        edges += [(upstream, name) for upstream in sorted(node.upstream - implied)]
    return edges


def _edge_label(node, upstream: str) -> str:
    if node.branch and node.branch[0] == upstream:
        return "true" if node.branch[1] == "IfSteps" else "false"
    return ""


def svg(definition: dict, steps: list[dict]) -> str:
    status = {s["StepName"]: s["StepStatus"] for s in steps}
    nodes, layers = _layers(definition)
    position = {
        name: (20 + d * (BOX_W + GAP_X), 20 + i * (BOX_H + GAP_Y))
        for d, layer in enumerate(layers)
        for i, name in enumerate(layer)
    }
    width = 40 + len(layers) * (BOX_W + GAP_X) - GAP_X
    height = 40 + max(len(layer) for layer in layers) * (BOX_H + GAP_Y) - GAP_Y
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="system-ui, sans-serif" font-size="13">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    for upstream, name in _edges(nodes):
        (x1, y1), (x2, y2) = position[upstream], position[name]
        parts.append(
            f'<line x1="{x1 + BOX_W}" y1="{y1 + BOX_H / 2}" x2="{x2}" y2="{y2 + BOX_H / 2}" '
            'stroke="#555" marker-end="url(#arrow)"/>'
        )
        label = _edge_label(nodes[name], upstream)
        if label:
            parts.append(
                f'<text x="{(x1 + BOX_W + x2) / 2}" y="{(y1 + y2 + BOX_H) / 2 - 4}" '
                f'text-anchor="middle" fill="#555">{label}</text>'
            )
    for name, node in nodes.items():
        x, y = position[name]
        state = status.get(name, "not run")
        parts.append(
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" '
            f'fill="{COLOURS.get(state, NOT_RUN)}" stroke="#888"/>'
            f'<text x="{x + BOX_W / 2}" y="{y + 19}" text-anchor="middle" font-weight="bold">'
            f"{html.escape(name)}</text>"
            f'<text x="{x + BOX_W / 2}" y="{y + 36}" text-anchor="middle" fill="#444">'
            f"{html.escape(node.type)} · {html.escape(state)}</text>"
        )
    return "\n".join(parts) + "</svg>"


def mermaid(definition: dict, steps: list[dict]) -> str:
    status = {s["StepName"]: s["StepStatus"] for s in steps}
    nodes, _ = _layers(definition)
    lines = ["```mermaid", "flowchart LR"]
    for name, node in nodes.items():
        lines.append(f'    {name}["{name}<br/>{node.type} · {status.get(name, "not run")}"]')
    for upstream, name in _edges(nodes):
        label = _edge_label(nodes[name], upstream)
        lines.append(f"    {upstream} -->{'|' + label + '|' if label else ''} {name}")
    for name in nodes:
        state = status.get(name)
        if state in ("Succeeded", "Failed"):
            lines.append(f"    class {name} {state.lower()}")
    lines += [
        "    classDef succeeded fill:#d1f0d9",
        "    classDef failed fill:#ffd7d5",
        "```",
    ]
    return "\n".join(lines) + "\n"
