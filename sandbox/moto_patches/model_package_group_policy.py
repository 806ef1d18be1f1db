"""Model package groups carry a resource policy, and other accounts read packages through it.

AWS: `PutModelPackageGroupPolicy` attaches a resource policy to a group (`Get...`,
`Delete...` read and remove it). A caller in another account may `DescribeModelPackage` a
package by ARN when the group's policy allows its account (or its role) that action on the
package; otherwise the call fails with AccessDeniedException ("... because no
resource-based policy allows the sagemaker:DescribeModelPackage action"). This is how a
stage account deploys a package from the tooling account's registry.
moto: the policy actions do not exist, and moto keeps each account's state apart, so a
DescribeModelPackage of another account's ARN answers "not found". The patch adds the three
actions (the policy is kept on moto's group) and makes DescribeModelPackage of another
account's ARN read that account's registry, allowed only as the group's policy allows.
"""

from __future__ import annotations

import fnmatch
import json

from sandbox.moto_patches import Internals, applied, mark

PATCH = "model_package_group_policy"
ACTION = "sagemaker:DescribeModelPackage"


def allows(policy: str | None, caller_account: str, caller_arn: str, action: str, resource: str):
    """Whether `policy` (a resource policy document) lets the caller do `action` on
    `resource`: an Allow names the caller's account (id or `:root`), its role ARN or `*`,
    and no Deny matches."""
    if not policy:
        return False
    statements = json.loads(policy).get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    principals = {"*", caller_account, f"arn:aws:iam::{caller_account}:root", caller_arn}

    def matches(statement: dict) -> bool:
        named = statement.get("Principal", {})
        named = named.get("AWS", []) if isinstance(named, dict) else named
        named = [named] if isinstance(named, str) else named
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = statement.get("Resource", "*")
        resources = [resources] if isinstance(resources, str) else resources
        return (
            any(p in principals for p in named)
            and any(fnmatch.fnmatch(action.lower(), a.lower()) for a in actions)
            and any(fnmatch.fnmatch(resource, r) for r in resources)
        )

    matching = [s for s in statements if matches(s)]
    return bool(matching) and all(s.get("Effect") == "Allow" for s in matching)


def apply() -> None:
    from moto.core.responses import ActionResult, EmptyResult
    from moto.sagemaker.exceptions import SagemakerClientError, ValidationError
    from moto.sagemaker.models import ModelPackage, SageMakerModelBackend, sagemaker_backends
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sts.models import sts_backends

    check = Internals(PATCH)
    check.instance_attributes(SageMakerModelBackend, "model_package_groups")
    check.instance_attributes(ModelPackage, "model_package_group_name", "arn")
    check.function(SageMakerModelBackend, "describe_model_package", "model_package_name")
    check.function(ModelPackage, "gen_response_object")
    check.attribute(SageMakerResponse, "sagemaker_backend")
    check.instance_attributes(SageMakerResponse, "current_account")
    check.function(SageMakerResponse, "get_access_key")
    original = check.function(SageMakerResponse, "describe_model_package")
    if applied(original, PATCH):
        return

    class AccessDenied(SagemakerClientError):
        code = "AccessDeniedException"

    def group(backend, name: str):
        name = name.rsplit("/", 1)[-1]  # a name or an ARN (…:model-package-group/<name>)
        if name not in backend.model_package_groups:
            raise ValidationError(f"ModelPackageGroup {name} does not exist.")
        return backend.model_package_groups[name]

    def put_policy(self) -> ActionResult:
        found = group(self.sagemaker_backend, self._get_param("ModelPackageGroupName"))
        policy = self._get_param("ResourcePolicy")
        try:
            json.loads(policy)
        except (TypeError, ValueError):
            raise ValidationError("ResourcePolicy is not a valid JSON policy document") from None
        found.sandbox_resource_policy = policy
        return ActionResult({"ModelPackageGroupArn": found.arn})

    def get_policy(self) -> ActionResult:
        found = group(self.sagemaker_backend, self._get_param("ModelPackageGroupName"))
        policy = getattr(found, "sandbox_resource_policy", None)
        if policy is None:
            raise ValidationError(f"Model package group {found.arn} has no resource policy.")
        return ActionResult({"ResourcePolicy": policy})

    def delete_policy(self) -> EmptyResult:
        found = group(self.sagemaker_backend, self._get_param("ModelPackageGroupName"))
        found.sandbox_resource_policy = None
        return EmptyResult()

    def caller(self, account: str) -> tuple[str, str]:
        """The caller as a policy names it (its role's ARN for assumed-role credentials,
        else the account's root) and as AWS's messages name it (the session's ARN)."""
        assumed = sts_backends[account]["aws"].get_assumed_role_from_access_key(
            self.get_access_key()
        )
        if assumed is None:
            return f"arn:aws:iam::{account}:root", f"arn:aws:iam::{account}:root"
        return assumed.role_arn, assumed.arn

    def describe_model_package(self):
        name = self._get_param("ModelPackageName") or ""
        parts = name.split(":")
        if not name.startswith("arn:") or len(parts) < 6 or parts[4] == self.current_account:
            return original(self)
        region, owner = parts[3], parts[4]
        package = sagemaker_backends[owner][region].describe_model_package(model_package_name=name)
        owner_group = sagemaker_backends[owner][region].model_package_groups.get(
            package.model_package_group_name
        )
        policy = getattr(owner_group, "sandbox_resource_policy", None)
        role, session = caller(self, self.current_account)
        if not allows(policy, self.current_account, role, ACTION, package.arn):
            raise AccessDenied(
                f"User: {session} is not authorized to perform: {ACTION} on resource: "
                f"{package.arn} because no resource-based policy allows the {ACTION} action"
            )
        return ActionResult(package.gen_response_object())

    SageMakerResponse.put_model_package_group_policy = mark(put_policy, PATCH)
    SageMakerResponse.get_model_package_group_policy = mark(get_policy, PATCH)
    SageMakerResponse.delete_model_package_group_policy = mark(delete_policy, PATCH)
    describe_model_package.__wrapped__ = original
    SageMakerResponse.describe_model_package = mark(describe_model_package, PATCH)
