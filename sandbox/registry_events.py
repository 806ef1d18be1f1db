"""SageMaker's "Model Package State Change" events, which moto does not send.

On AWS, SageMaker puts an event on the account's default EventBridge bus when a model
package is created and whenever its approval status changes. The deploy pipeline's rule
(`ModelPackageStateChangeRule` in codepipeline/model-deploy.yml) starts on it. Here moto's
EventBridge receives the same event, so any rule on the sandbox's bus sees what AWS sends.
"""

from __future__ import annotations

import functools
import json

from moto.events.models import events_backends
from moto.sagemaker.models import SageMakerModelBackend

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"


def apply() -> None:
    """Wrap moto's registry calls; `moto_fixes.apply` calls this, once per process."""
    original_create = SageMakerModelBackend.create_model_package
    original_update = SageMakerModelBackend.update_model_package

    @functools.wraps(original_create)
    def create_model_package(self, *args, **kwargs):
        arn = original_create(self, *args, **kwargs)
        _emit(self, arn)
        return arn

    @functools.wraps(original_update)
    def update_model_package(self, model_package_arn, *args, **kwargs):
        before = _approval_status(self, model_package_arn)
        arn = original_update(self, model_package_arn, *args, **kwargs)
        if _approval_status(self, arn) != before:
            _emit(self, arn)
        return arn

    SageMakerModelBackend.create_model_package = create_model_package
    SageMakerModelBackend.update_model_package = update_model_package


def _package(backend: SageMakerModelBackend, arn_or_name: str):
    name = backend.model_package_name_mapping.get(arn_or_name, arn_or_name)
    return backend.model_packages.get(name)


def _approval_status(backend: SageMakerModelBackend, arn_or_name: str) -> str | None:
    package = _package(backend, arn_or_name)
    return package.model_approval_status if package else None


def _emit(backend: SageMakerModelBackend, arn: str) -> None:
    package = _package(backend, arn)
    if package is None or not package.model_package_group_name:
        return  # unversioned packages belong to no group; no rule of ours matches them
    detail = {
        "ModelPackageGroupName": package.model_package_group_name,
        "ModelPackageVersion": package.model_package_version,
        "ModelPackageArn": package.arn,
        "ModelPackageName": package.model_package_name,
        "CreationTime": package.creation_time,
        "ModelApprovalStatus": package.model_approval_status,
        "ModelPackageStatus": package.model_package_status,
    }
    events_backends[backend.account_id][backend.region_name].put_events(
        [
            {
                "Source": SOURCE,
                "DetailType": DETAIL_TYPE,
                "Detail": json.dumps(detail, default=str),
                "Resources": [package.arn],
            }
        ]
    )
