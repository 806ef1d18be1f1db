"""The step graph: what each step waits for, and a valid run order."""

from __future__ import annotations

import pytest

from sandbox.runner.graph import DefinitionError, build_graph, run_order


def _step(name, kind="Processing", gets=(), depends_on=None, **extra):
    arguments = {"Inputs": [{"Get": f"Steps.{g}.Outputs['x'].S3Uri"} for g in gets]}
    step = {"Name": name, "Type": kind, "Arguments": arguments, **extra}
    if depends_on:
        step["DependsOn"] = depends_on
    return step


def test_data_references_depends_on_and_branches_make_the_upstream():
    condition = {
        "Name": "Check",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "Equals",
                    "LeftValue": {"Get": "Steps.B.Outputs['x'].S3Uri"},
                    "RightValue": 1,
                }
            ],
            "IfSteps": [_step("Yes", gets=["A"])],
            "ElseSteps": [_step("No", "Fail")],
        },
    }
    graph = build_graph(
        {"Steps": [_step("B", gets=["A"]), _step("A"), _step("C", depends_on=["B"]), condition]}
    )
    assert graph["B"].upstream == {"A"}
    assert graph["C"].upstream == {"B"}
    assert graph["Check"].upstream == {"B"}
    assert graph["Yes"].upstream == {"A", "Check"} and graph["Yes"].branch == ("Check", "IfSteps")
    assert graph["No"].branch == ("Check", "ElseSteps")
    order = run_order(graph)
    assert order.index("A") < order.index("B") < order.index("C")
    assert order.index("Check") < order.index("Yes")


def test_cycle_is_reported():
    with pytest.raises(DefinitionError, match="dependency cycle among: A, B"):
        build_graph({"Steps": [_step("A", gets=["B"]), _step("B", gets=["A"])]})


def test_unknown_step_reference_is_reported():
    with pytest.raises(DefinitionError, match="step 'A' refers to unknown step"):
        build_graph({"Steps": [_step("A", depends_on=["Ghost"])]})


def test_duplicate_names_are_reported():
    with pytest.raises(DefinitionError, match="step name 'A' is used twice"):
        build_graph({"Steps": [_step("A"), _step("A")]})
