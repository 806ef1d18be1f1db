"""The step graph of a pipeline definition: every step, what it waits for, a run order."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_STEP_REFERENCE = re.compile(r"^Steps\.([^.\[]+)")


class DefinitionError(ValueError):
    """The definition is not runnable (a cycle, an unknown step); the message says where."""


@dataclass
class StepNode:
    name: str
    type: str
    definition: dict
    # Steps that must finish first: data references, DependsOn, and the enclosing condition.
    upstream: set[str] = field(default_factory=set)
    # For a step inside a condition branch: (condition step name, "IfSteps" | "ElseSteps").
    branch: tuple[str, str] | None = None


def step_references(node: Any) -> set[str]:
    """Names of the steps that a value reads through {"Get": "Steps.<name>..."}."""
    if isinstance(node, dict):
        found = set()
        if set(node) == {"Get"} and isinstance(node["Get"], str):
            match = _STEP_REFERENCE.match(node["Get"])
            if match:
                found.add(match.group(1))
        for value in node.values():
            found |= step_references(value)
        return found
    if isinstance(node, list):
        return set().union(*(step_references(item) for item in node)) if node else set()
    return set()


def own_arguments(step: dict) -> Any:
    """The arguments a step reads itself; a condition's branches are steps of their own."""
    arguments = step.get("Arguments", {})
    if step["Type"] == "Condition":
        return arguments.get("Conditions", [])
    return arguments


def build_graph(definition: dict) -> dict[str, StepNode]:
    """All steps of `definition` by name, the condition branches included.

    Raises DefinitionError for a duplicate or unknown step name, or a cycle.
    """
    nodes: dict[str, StepNode] = {}

    def add(steps: list[dict], branch: tuple[str, str] | None) -> None:
        for step in steps:
            name = step["Name"]
            if name in nodes:
                raise DefinitionError(f"step name {name!r} is used twice")
            node = StepNode(name, step["Type"], step, branch=branch)
            node.upstream = step_references(own_arguments(step)) | set(step.get("DependsOn", []))
            if step.get("PropertyFiles") is not None:
                node.upstream |= step_references(step["PropertyFiles"])
            if branch:
                node.upstream.add(branch[0])
            nodes[name] = node
            if step["Type"] == "Condition":
                add(step["Arguments"].get("IfSteps", []), (name, "IfSteps"))
                add(step["Arguments"].get("ElseSteps", []), (name, "ElseSteps"))

    add(definition.get("Steps", []), None)
    for node in nodes.values():
        unknown = node.upstream - set(nodes)
        if unknown:
            raise DefinitionError(
                f"step {node.name!r} refers to unknown step(s): {', '.join(sorted(unknown))}"
            )
    run_order(nodes)  # raises on a cycle
    return nodes


def run_order(nodes: dict[str, StepNode]) -> list[str]:
    """A topological order, keeping definition order among steps that are ready together."""
    done: list[str] = []
    remaining = dict(nodes)
    while remaining:
        ready = [name for name, node in remaining.items() if node.upstream <= set(done)]
        if not ready:
            raise DefinitionError(f"dependency cycle among: {', '.join(sorted(remaining))}")
        done.extend(ready)
        for name in ready:
            del remaining[name]
    return done
