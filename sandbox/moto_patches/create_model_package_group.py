"""CreateModelPackageGroup refuses a group that exists.

AWS: creating a group whose name is taken fails with a ValidationException ("Model Package
Group already exists"); the group, its packages' grouping and its resource policy stay.
moto: the call replaces the group with a new, empty one, which drops the group's resource
policy (the one that lets the stage accounts read its packages).
"""

from __future__ import annotations

from sandbox.moto_patches import Internals, applied, mark

PATCH = "create_model_package_group"


def apply() -> None:
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import SageMakerModelBackend

    check = Internals(PATCH)
    check.instance_attributes(SageMakerModelBackend, "model_package_groups")
    original = check.function(
        SageMakerModelBackend, "create_model_package_group", "model_package_group_name"
    )
    if applied(original, PATCH):
        return

    def create_model_package_group(self, model_package_group_name: str, *args, **kwargs):
        existing = self.model_package_groups.get(model_package_group_name)
        if existing is not None:
            raise ValidationError(f"Model Package Group already exists: {existing.arn}")
        return original(self, model_package_group_name, *args, **kwargs)

    create_model_package_group.__wrapped__ = original
    SageMakerModelBackend.create_model_package_group = mark(create_model_package_group, PATCH)
