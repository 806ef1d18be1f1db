"""A bucket policy's `aws:SecureTransport` condition is judged as for a request over TLS.

AWS: a statement applies only when its Condition holds. The usual TLS-only statement
(Deny s3:* when `aws:SecureTransport` is "false", as codepipeline/foundation.yml and
terraform/modules/artifact-bucket put on the artifact bucket) never matches a client that
talks HTTPS, which every AWS client does. moto: its policy evaluator skips `Bool`
conditions (it knows StringEquals only), so the Deny applies to every request and a
TLS-only bucket answers 403 to every object read and write. The sandbox is reached over
loopback HTTP standing in for AWS's HTTPS endpoints: the patch judges `aws:SecureTransport`
as "true", dropping the statements whose condition then does not hold (and the condition
from those where it does) before moto evaluates the policy.
"""

from __future__ import annotations

import functools
import json

from sandbox.moto_patches import Internals, applied, mark

PATCH = "bucket_policy_transport"
KEY = "aws:securetransport"  # condition keys are case-insensitive


def _transport_values(statement: dict) -> list[str] | None:
    """The values a statement's Bool condition expects of aws:SecureTransport, if any."""
    for key, value in statement.get("Condition", {}).get("Bool", {}).items():
        if key.lower() == KEY:
            return [str(v).lower() for v in (value if isinstance(value, list) else [value])]
    return None


def over_tls(policy: dict) -> dict:
    """`policy` as it applies to a request over TLS."""
    statements = policy["Statement"]
    kept = []
    for statement in statements if isinstance(statements, list) else [statements]:
        expected = _transport_values(statement)
        if expected is None:
            kept.append(statement)
        elif "true" in expected:
            condition = {**statement["Condition"]}
            condition["Bool"] = {k: v for k, v in condition["Bool"].items() if k.lower() != KEY}
            if not condition["Bool"]:
                del condition["Bool"]
            kept.append(
                {**statement, "Condition": condition}
                if condition
                else {k: v for k, v in statement.items() if k != "Condition"}
            )
    return {**policy, "Statement": kept}


def apply() -> None:
    from moto.iam.access_control import IAMPolicy
    from moto.s3.models import FakeBucket

    check = Internals(PATCH)
    original = check.function(FakeBucket, "get_permission", "self", "action", "resource")
    check.function(IAMPolicy, "is_action_permitted", "self", "action", "resource")
    check.instance_attributes(FakeBucket, "policy")
    if applied(original, PATCH):
        return

    @functools.wraps(original)
    def get_permission(self, action, resource):
        if self.policy is None:
            return original(self, action, resource)
        policy = over_tls(json.loads(self.policy))
        return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)

    FakeBucket.get_permission = mark(get_permission, PATCH)
