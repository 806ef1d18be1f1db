"""DeleteModelPackage removes a package from the registry, as SageMaker does.

AWS: `DeleteModelPackage(ModelPackageName=<ARN or name>)` deletes the package (its group
can then be deleted once empty, see delete_model_package_group). Emptying a group before
`terraform destroy` removes it, as on AWS, needs it. moto: the action does not exist. The
patch adds it over moto's own packages and its name-to-ARN mapping.
"""

from __future__ import annotations

from sandbox.moto_patches import Internals, applied, mark

PATCH = "delete_model_package"


def apply() -> None:
    from moto.core.responses import EmptyResult
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    check = Internals(PATCH)
    check.instance_attributes(SageMakerModelBackend, "model_packages", "model_package_name_mapping")
    check.attribute(SageMakerResponse, "sagemaker_backend")
    current = getattr(SageMakerResponse, "delete_model_package", None)
    if applied(current, PATCH):
        return

    def delete_model_package(backend, model_package_name: str) -> None:
        arn = backend.model_package_name_mapping.get(model_package_name, model_package_name)
        if arn not in backend.model_packages:
            raise ValidationError(f"Model package {model_package_name} not found")
        del backend.model_packages[arn]
        for name, target in list(backend.model_package_name_mapping.items()):
            if target == arn:
                del backend.model_package_name_mapping[name]

    def respond(self) -> EmptyResult:
        delete_model_package(self.sagemaker_backend, self._get_param("ModelPackageName"))
        return EmptyResult()

    SageMakerModelBackend.delete_model_package = mark(delete_model_package, PATCH)
    SageMakerResponse.delete_model_package = mark(respond, PATCH)
