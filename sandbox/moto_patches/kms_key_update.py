"""A stack update changes an `AWS::KMS::Key`'s policy and description in place, and the
policy is JSON text.

AWS: KeyPolicy, Description, EnableKeyRotation and Enabled update with no interruption:
the key (its ARN, what `Fn::GetAtt Key.Arn` answers) stays. codepipeline/foundation.yml's
key gains a statement when `StageAccountIds` names stage accounts.
moto: the key type has no update, so the stack forgets the key and the update fails with
"Fn::GetAtt references undefined resource"; and a stack's key keeps its KeyPolicy as the
template's object, on which DescribeKey and GetKeyPolicy fail (HTTP 500). The patch updates
moto's key in place and keeps a stack key's policy as JSON text, as the API does.
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.moto_patches import Internals, applied, mark

PATCH = "kms_key_update"


def apply() -> None:
    from moto.kms.models import Key, KmsBackend, kms_backends

    check = Internals(PATCH)
    check.instance_attributes(Key, "id", "policy", "description", "key_rotation_status", "enabled")
    check.function(KmsBackend, "put_key_policy", "key_id", "policy")
    check.function(KmsBackend, "update_key_description", "key_id", "description")
    current = check.attribute(Key, "update_from_cloudformation_json")
    if applied(current, PATCH):
        return
    create = Key.create_from_cloudformation_json.__func__

    def as_text(policy: Any) -> Any:
        return json.dumps(policy) if isinstance(policy, dict) else policy

    def create_from_cloudformation_json(cls, *args: Any, **kwargs: Any) -> Key:
        key = create(cls, *args, **kwargs)
        key.policy = as_text(key.policy)
        return key

    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Key:
        backend = kms_backends[account_id][region_name]
        key = backend.keys[original_resource.id]
        properties = cloudformation_json.get("Properties", {})
        backend.put_key_policy(
            key_id=key.id, policy=as_text(properties.get("KeyPolicy", key.policy))
        )
        backend.update_key_description(
            key_id=key.id, description=properties.get("Description", key.description)
        )
        key.key_rotation_status = properties.get("EnableKeyRotation", False)
        key.enabled = properties.get("Enabled", True)
        return key

    create_from_cloudformation_json.__wrapped__ = create
    Key.create_from_cloudformation_json = classmethod(mark(create_from_cloudformation_json, PATCH))
    Key.update_from_cloudformation_json = classmethod(mark(update_from_cloudformation_json, PATCH))
