"""SendTaskFailure keeps the `cause` it is sent.

AWS: the task fails with the `error` and `cause` given to SendTaskFailure; both show in the
TaskFailed and ExecutionFailed history events and in DescribeExecution (or reach a Catch as
`Error` and `Cause`). moto: its SendTaskFailure handler reads `error` only and drops
`cause`. The patch passes `cause` on to the backend, which already takes it.
"""

from __future__ import annotations

import functools

from moto.core.responses import EmptyResult

from sandbox.moto_patches import Internals, applied, mark

PATCH = "task_failure_cause"


def apply() -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    check = Internals(PATCH)
    original = check.function(StepFunctionResponse, "send_task_failure", "self")
    check.attribute(StepFunctionResponse, "stepfunction_backend")
    check.function(StepFunctionsParserBackend, "send_task_failure", "task_token", "error", "cause")

    if applied(original, PATCH):
        return

    @functools.wraps(original)
    def send_task_failure(self):
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"),
            error=self._get_param("error"),
            cause=self._get_param("cause"),
        )
        return EmptyResult()

    StepFunctionResponse.send_task_failure = mark(send_task_failure, PATCH)
