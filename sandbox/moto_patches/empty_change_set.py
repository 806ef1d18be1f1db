"""CreateChangeSet with nothing to change yields a FAILED change set.

AWS: CreateChangeSet succeeds and the change set ends FAILED with "The submitted
information didn't contain changes." (the deploy step reads that as "nothing to deploy").
moto: its backend builds exactly that change set, but its request layer first runs
UpdateStack's check and answers ValidationError "No updates are to be performed." The patch
skips that check for CreateChangeSet only.
"""

from __future__ import annotations

import functools

from sandbox.moto_patches import Internals, applied, mark

PATCH = "empty_change_set"
CHECK = "_validate_different_update"


def apply() -> None:
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse

    check = Internals(PATCH)
    original = check.function(CloudFormationResponse, "create_change_set", "self")
    check.function(CloudFormationResponse, CHECK, "self")
    check.calls(CloudFormationResponse.create_change_set, f"self.{CHECK}(")
    check.calls(CloudFormationBackend.create_change_set, "didn't contain changes")

    if applied(original, PATCH):
        return

    @functools.wraps(original)
    def create_change_set(self):
        setattr(self, CHECK, lambda *args, **kwargs: None)
        try:
            return original(self)
        finally:
            delattr(self, CHECK)

    CloudFormationResponse.create_change_set = mark(create_change_set, PATCH)
