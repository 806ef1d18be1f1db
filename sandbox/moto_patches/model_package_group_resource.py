"""CloudFormation creates `AWS::SageMaker::ModelPackageGroup`, with its resource policy.

AWS: the resource creates the group; its `ModelPackageGroupPolicy` is the group's resource
policy (what PutModelPackageGroupPolicy sets), updated in place, removed with the group.
codepipeline/foundation.yml creates the project's group this way, granting the stage
accounts read.
moto: the type is not supported; the stack skips it with a warning, so the group appears
only when a pipeline first registers into it, and never with a policy. The patch adds the
resource type over moto's own groups (the policy kept where the
`model_package_group_policy` patch keeps it). A group that exists already (a pipeline made
it) is adopted, as its packages stay; deleting the stack leaves a group holding packages.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel

from sandbox.moto_patches import Internals, applied, mark

PATCH = "model_package_group_resource"
TYPE = "AWS::SageMaker::ModelPackageGroup"


class ModelPackageGroupResource(CloudFormationModel):
    """A stack's group: its name is the physical id (what `Ref` answers)."""

    def __init__(self, name: str, arn: str):
        self.name, self.arn = name, arn

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "ModelPackageGroupName"

    @staticmethod
    def cloudformation_type() -> str:
        return TYPE

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("ModelPackageGroupArn",)

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> ModelPackageGroupResource:
        from moto.sagemaker.models import sagemaker_backends

        backend = sagemaker_backends[account_id][region_name]
        properties = cloudformation_json.get("Properties", {})
        name = properties.get("ModelPackageGroupName", resource_name)
        if name not in backend.model_package_groups:
            backend.create_model_package_group(
                model_package_group_name=name,
                model_package_group_description=properties.get("ModelPackageGroupDescription", ""),
                tags=properties.get("Tags", []),
            )
        group = backend.model_package_groups[name]
        policy = properties.get("ModelPackageGroupPolicy")
        # The policy is a JSON object in the template; the API keeps it as a string.
        group.sandbox_resource_policy = (
            json.dumps(policy) if isinstance(policy, dict) else policy or None
        )
        return cls(name, group.arn)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> ModelPackageGroupResource:
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        from moto.sagemaker.models import sagemaker_backends

        backend = sagemaker_backends[account_id][region_name]
        held = any(
            p.model_package_group_name == resource_name for p in backend.model_packages.values()
        )
        if not held:
            backend.model_package_groups.pop(resource_name, None)


def apply() -> None:
    from moto.cloudformation import parsing
    from moto.sagemaker.models import ModelPackage, SageMakerModelBackend

    check = Internals(PATCH)
    check.instance_attributes(SageMakerModelBackend, "model_package_groups", "model_packages")
    check.instance_attributes(ModelPackage, "model_package_group_name")
    check.function(
        SageMakerModelBackend,
        "create_model_package_group",
        "model_package_group_name",
        "model_package_group_description",
        "tags",
    )
    models = check.function(parsing, "get_model_list")
    check.function(parsing, "get_model_map")
    check.function(parsing, "get_name_type_map")
    if applied(getattr(parsing, "_sandbox_model_package_group", None), PATCH):
        return
    # moto finds resource types among CloudFormationModel's subclasses, once (cached):
    # this class is one now; the caches forget the list made without it.
    for cached in (models, parsing.get_model_map, parsing.get_name_type_map):
        if not hasattr(cached, "cache_clear"):
            raise check.missing(f"moto.cloudformation.parsing.{cached.__name__} is not cached")
        cached.cache_clear()
    parsing._sandbox_model_package_group = mark(ModelPackageGroupResource, PATCH)
