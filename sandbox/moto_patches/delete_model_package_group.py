"""DeleteModelPackageGroup deletes an empty group and refuses one that holds packages.

AWS: `DeleteModelPackageGroup(ModelPackageGroupName=...)` removes the group; while the group
still holds model packages it fails with a ConflictException (the registry keeps no
orphaned versions). `terraform destroy` of an `aws_sagemaker_model_package_group` calls it.
moto: the action does not exist, so the provider retries until it gives up. The patch adds
it to moto's SageMaker backend and response, over moto's own groups and packages.
"""

from __future__ import annotations

from sandbox.moto_patches import Internals, applied, mark

PATCH = "delete_model_package_group"


def apply() -> None:
    from moto.core.responses import EmptyResult
    from moto.sagemaker.exceptions import ConflictException, ValidationError
    from moto.sagemaker.models import ModelPackage, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    check = Internals(PATCH)
    check.instance_attributes(SageMakerModelBackend, "model_package_groups", "model_packages")
    check.instance_attributes(ModelPackage, "model_package_group_name")
    check.attribute(SageMakerResponse, "sagemaker_backend")
    current = getattr(SageMakerResponse, "delete_model_package_group", None)
    if applied(current, PATCH):
        return

    def delete_model_package_group(backend, model_package_group_name: str) -> None:
        # The API takes a name or an ARN (…:model-package-group/<name>).
        name = model_package_group_name.rsplit("/", 1)[-1]
        if name not in backend.model_package_groups:
            raise ValidationError(f"ModelPackageGroup {name} does not exist.")
        held = [
            package
            for package in backend.model_packages.values()
            if package.model_package_group_name == name
        ]
        if held:
            raise ConflictException(
                f"Model Package Group {name} cannot be deleted: it holds {len(held)} "
                "model package(s). Delete them first."
            )
        del backend.model_package_groups[name]

    def respond(self) -> EmptyResult:
        delete_model_package_group(self.sagemaker_backend, self._get_param("ModelPackageGroupName"))
        return EmptyResult()

    SageMakerModelBackend.delete_model_package_group = mark(delete_model_package_group, PATCH)
    SageMakerResponse.delete_model_package_group = mark(respond, PATCH)
