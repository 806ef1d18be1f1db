"""ValidateStateMachineDefinition answers, as Step Functions does.

AWS: `ValidateStateMachineDefinition(definition=...)` returns `result` OK or FAIL with
`diagnostics` (severity, code, message); the Terraform AWS provider calls it before it
creates or updates an `aws_sfn_state_machine`. moto: the action does not exist (its
StepFunctionResponse has no such method), so the provider retries until it gives up. The
patch adds the action with the checks that need no AWS knowledge of other services: the
definition is a JSON object, names `StartAt`, and `StartAt` is one of its `States`.
"""

from __future__ import annotations

import json

from sandbox.moto_patches import Internals, applied, mark

PATCH = "state_machine_validation"


def diagnose(definition: str | None) -> list[dict[str, str]]:
    """The ERROR diagnostics of a state machine definition (empty when it is valid)."""

    def error(code: str, message: str) -> list[dict[str, str]]:
        return [{"severity": "ERROR", "code": code, "message": message}]

    try:
        document = json.loads(definition or "")
    except json.JSONDecodeError as err:
        return error("INVALID_JSON_DESCRIPTION", f"Invalid JSON: {err.msg} at line {err.lineno}")
    if not isinstance(document, dict):
        return error("SCHEMA_VALIDATION_FAILED", "The definition must be a JSON object")
    states = document.get("States")
    if not isinstance(states, dict) or not states:
        return error("SCHEMA_VALIDATION_FAILED", "The field 'States' is required")
    start = document.get("StartAt")
    if start not in states:
        return error(
            "SCHEMA_VALIDATION_FAILED",
            f"The field 'StartAt' ({start!r}) must name one of the States",
        )
    return []


def apply() -> None:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    check = Internals(PATCH)
    check.function(StepFunctionResponse, "_get_param", "self", "param_name")
    current = getattr(StepFunctionResponse, "validate_state_machine_definition", None)
    if applied(current, PATCH):
        return

    def validate_state_machine_definition(self) -> ActionResult:
        diagnostics = diagnose(self._get_param("definition"))
        return ActionResult(
            {
                "result": "FAIL" if diagnostics else "OK",
                "diagnostics": diagnostics,
                "truncated": False,
            }
        )

    StepFunctionResponse.validate_state_machine_definition = mark(
        validate_state_machine_definition, PATCH
    )
