"""UpdateModelPackage changes only the fields it is given.

AWS: `UpdateModelPackage(ModelPackageArn=..., ApprovalDescription=...)` leaves the package's
CustomerMetadataProperties and ModelApprovalStatus as they were. moto: every field left out
of the call is set to None, so approving a package drops the metadata the Register step put
on it (and a description-only update clears the approval status). The patch fills the
left-out fields with the package's current values before moto's update.
"""

from __future__ import annotations

import functools
import inspect

from sandbox.moto_patches import Internals, applied, mark

PATCH = "update_model_package"
# The call's fields that AWS keeps when they are left out.
KEPT = ("model_approval_status", "approval_description", "customer_metadata_properties")


def apply() -> None:
    from moto.sagemaker.models import ModelPackage, SageMakerModelBackend

    check = Internals(PATCH)
    original = check.function(
        SageMakerModelBackend, "update_model_package", "self", "model_package_arn", *KEPT
    )
    check.instance_attributes(SageMakerModelBackend, "model_package_name_mapping", "model_packages")
    check.instance_attributes(ModelPackage, *KEPT)

    if applied(original, PATCH):
        return
    signature = inspect.signature(original)

    @functools.wraps(original)
    def update_model_package(*args, **kwargs):
        call = signature.bind(*args, **kwargs)
        backend, arn = call.arguments["self"], call.arguments["model_package_arn"]
        name = backend.model_package_name_mapping.get(arn, arn)
        package = backend.model_packages.get(name)
        if package is not None:
            for field in KEPT:
                if call.arguments.get(field) is None:
                    call.arguments[field] = getattr(package, field)
        return original(*call.args, **call.kwargs)

    SageMakerModelBackend.update_model_package = mark(update_model_package, PATCH)
