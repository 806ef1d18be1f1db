"""StartExecution without a name gets one.

AWS: `name` is optional; without it Step Functions names the execution with a UUID, which
ends its ARN. moto's interpreter backend (the one that executes state machines) uses the
missing name as it is: the execution is called None and its ARN ends in ":None", so a
second such execution clashes with the first. The patch gives it a UUID, as AWS does.
"""

from __future__ import annotations

import functools
import uuid

from sandbox.moto_patches import Internals, applied, mark

PATCH = "execution_name"


def apply() -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    check = Internals(PATCH)
    original = check.function(
        StepFunctionsParserBackend, "start_execution", "self", "state_machine_arn", "name"
    )

    if applied(original, PATCH):
        return

    @functools.wraps(original)
    def start_execution(self, state_machine_arn, name=None, *args, **kwargs):
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    StepFunctionsParserBackend.start_execution = mark(start_execution, PATCH)
