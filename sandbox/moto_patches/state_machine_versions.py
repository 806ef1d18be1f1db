"""ListStateMachineVersions lists a state machine's published versions, as Step Functions does.

AWS: `ListStateMachineVersions(stateMachineArn=...)` returns each published version's ARN
and creation date, newest first; the Terraform AWS provider calls it when it reads an
`aws_sfn_state_machine`. moto keeps the versions (`StateMachine.versions`, filled by
`publish`) but has no such action, so the provider retries until it gives up. The patch adds
the action over moto's own versions (an unknown ARN fails as DescribeStateMachine does).
"""

from __future__ import annotations

from sandbox.moto_patches import Internals, applied, mark

PATCH = "state_machine_versions"


def apply() -> None:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.models import StateMachine, StateMachineVersion, StepFunctionBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    check = Internals(PATCH)
    check.function(StepFunctionBackend, "describe_state_machine", "self", "arn")
    check.attribute(StepFunctionResponse, "stepfunction_backend")
    check.instance_attributes(StateMachine, "versions")
    check.instance_attributes(StateMachineVersion, "arn", "creation_date", "version")
    current = getattr(StepFunctionResponse, "list_state_machine_versions", None)
    if applied(current, PATCH):
        return

    def list_state_machine_versions(self) -> ActionResult:
        machine = self.stepfunction_backend.describe_state_machine(
            self._get_param("stateMachineArn")
        )
        versions = sorted(machine.versions.values(), key=lambda v: v.version, reverse=True)
        return ActionResult(
            {
                "stateMachineVersions": [
                    {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date}
                    for v in versions
                ]
            }
        )

    StepFunctionResponse.list_state_machine_versions = mark(list_state_machine_versions, PATCH)
