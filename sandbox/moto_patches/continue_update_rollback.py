"""ContinueUpdateRollback finishes a stack's failed rollback.

AWS: a stack whose update failed and whose rollback then failed too is left in
UPDATE_ROLLBACK_FAILED, and can be neither updated nor deleted until ContinueUpdateRollback
finishes the rollback (UPDATE_ROLLBACK_COMPLETE); any other state answers ValidationError.
moto: the operation does not exist (and the server answers 500 with a parse error). The
patch adds it. moto keeps no earlier template, so the resources stay as they are; the
recovery that calls it (modeldeploy/rollback.py) redeploys the stack right after anyway.
"""

from __future__ import annotations

from sandbox.moto_patches import Internals, applied, mark

PATCH = "continue_update_rollback"
FROM_STATUS = "UPDATE_ROLLBACK_FAILED"


def apply() -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend, Stack
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import EmptyResult

    check = Internals(PATCH)
    check.function(CloudFormationBackend, "get_stack", "self", "name_or_stack_id")
    check.function(Stack, "_add_stack_event", "self", "resource_status")
    check.instance_attributes(Stack, "status", "name")
    check.function(CloudFormationResponse, "_get_param", "self")
    check.attribute(CloudFormationResponse, "cloudformation_backend")
    if hasattr(CloudFormationResponse, "continue_update_rollback") and not applied(
        CloudFormationResponse.continue_update_rollback, PATCH
    ):
        raise check.missing("moto now has its own continue_update_rollback: drop this patch")

    if applied(getattr(CloudFormationResponse, "continue_update_rollback", None), PATCH):
        return

    def continue_update_rollback(self):
        name = self._get_param("StackName")
        stack = self.cloudformation_backend.get_stack(name)
        if stack.status != FROM_STATUS:
            raise ValidationError(
                message=f"Stack {stack.name} is in {stack.status} state and can not be "
                "continued: only a stack in UPDATE_ROLLBACK_FAILED can."
            )
        stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason="Continue")
        stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
        return EmptyResult()

    CloudFormationResponse.continue_update_rollback = mark(continue_update_rollback, PATCH)
