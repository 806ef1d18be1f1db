"""AssumeRole issues credentials only for a role that exists and whose trust policy names
the caller.

AWS: `sts:AssumeRole` of a role that does not exist, or whose trust policy
(AssumeRolePolicyDocument) allows no statement for the caller (its role, its account or
`*`), fails with AccessDenied "User: <caller> is not authorized to perform: sts:AssumeRole
on resource: <role>". A stage account's deploy role trusts only the tooling account's
pipeline role (codepipeline/stage-account.yml).
moto: any role ARN, in any account, existing or not, gets credentials (that is how moto
switches accounts). The patch checks the role and its trust policy first, then lets moto
issue the credentials (which act in the role's account). Trust conditions are not evaluated.
"""

from __future__ import annotations

import fnmatch
import json
from urllib.parse import unquote

from sandbox.moto_patches import Internals, applied, mark

PATCH = "assume_role_trust"


def trusts(document: str | dict, caller_role: str, caller_account: str) -> bool:
    """Whether a trust policy lets the caller assume the role (Allow, no Deny)."""
    if isinstance(document, str):
        document = json.loads(unquote(document) if document.startswith("%7B") else document)
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    callers = {"*", caller_role, caller_account, f"arn:aws:iam::{caller_account}:root"}

    def matches(statement: dict) -> bool:
        principal = statement.get("Principal", {})
        named = principal.get("AWS", []) if isinstance(principal, dict) else principal
        named = [named] if isinstance(named, str) else named
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        return any(p in callers for p in named) and any(
            fnmatch.fnmatch("sts:assumerole", a.lower()) for a in actions
        )

    matching = [s for s in statements if matches(s)]
    return bool(matching) and all(s.get("Effect") == "Allow" for s in matching)


def apply() -> None:
    from moto.iam.models import IAMBackend, Role, iam_backends
    from moto.sts.exceptions import STSClientError
    from moto.sts.models import STSBackend, sts_backends
    from moto.sts.responses import TokenResponse

    check = Internals(PATCH)
    check.instance_attributes(Role, "assume_role_policy_document", "arn")
    check.instance_attributes(IAMBackend, "roles")
    check.function(STSBackend, "get_caller_identity", "access_key_id", "region")
    check.function(STSBackend, "get_assumed_role_from_access_key", "access_key_id")
    check.instance_attributes(TokenResponse, "current_account")
    check.function(TokenResponse, "get_access_key")
    original = check.function(TokenResponse, "assume_role")
    if applied(original, PATCH):
        return

    class AccessDenied(STSClientError):
        code = "AccessDenied"

    def assume_role(self):
        role_arn = self._get_param("RoleArn") or ""
        account = self.current_account
        backend = sts_backends[account]["aws"]
        key = self.get_access_key()
        _, caller_arn, _ = backend.get_caller_identity(key, self.region)
        assumed = backend.get_assumed_role_from_access_key(key)
        caller_role = assumed.role_arn if assumed else caller_arn
        parts = role_arn.split(":")
        role = None
        if len(parts) == 6 and parts[2] == "iam":
            role = next(
                (r for r in iam_backends[parts[4]]["aws"].roles.values() if r.arn == role_arn),
                None,
            )
        if role is None or not trusts(role.assume_role_policy_document, caller_role, account):
            raise AccessDenied(
                f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on "
                f"resource: {role_arn}"
            )
        return original(self)

    assume_role.__wrapped__ = original
    TokenResponse.assume_role = mark(assume_role, PATCH)
