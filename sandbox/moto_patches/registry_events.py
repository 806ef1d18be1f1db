"""SageMaker's "Model Package State Change" events, which moto does not send.

AWS: SageMaker puts an event on the account's default EventBridge bus when a model package
is created and whenever its approval status changes; the deploy pipeline's rule
(`ModelPackageStateChangeRule` in codepipeline/model-deploy.yml) starts on it. moto: the
registry calls send nothing. The patch sends the same event to moto's EventBridge, so any
rule on the sandbox's bus sees what AWS sends.
"""

from __future__ import annotations

import functools
import json

from sandbox.moto_patches import Internals, applied, mark

PATCH = "registry_events"
SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"
# What an event's detail reads from the package.
DETAIL = {
    "ModelPackageGroupName": "model_package_group_name",
    "ModelPackageVersion": "model_package_version",
    "ModelPackageArn": "arn",
    "ModelPackageName": "model_package_name",
    "CreationTime": "creation_time",
    "ModelApprovalStatus": "model_approval_status",
    "ModelPackageStatus": "model_package_status",
}


def apply() -> None:
    from moto.events import models as events
    from moto.sagemaker.models import ModelPackage, SageMakerModelBackend

    check = Internals(PATCH)
    original_create = check.function(SageMakerModelBackend, "create_model_package", "self")
    original_update = check.function(
        SageMakerModelBackend, "update_model_package", "self", "model_package_arn"
    )
    check.instance_attributes(
        SageMakerModelBackend,
        "model_package_name_mapping",
        "model_packages",
        "account_id",
        "region_name",
    )
    check.instance_attributes(ModelPackage, *DETAIL.values())
    check.attribute(events, "events_backends")
    check.function(events.EventsBackend, "put_events", "self", "events")

    if applied(original_create, PATCH) and applied(original_update, PATCH):
        return

    @functools.wraps(original_create)
    def create_model_package(self, *args, **kwargs):
        arn = original_create(self, *args, **kwargs)
        _emit(self, arn, events.events_backends)
        return arn

    @functools.wraps(original_update)
    def update_model_package(self, model_package_arn, *args, **kwargs):
        before = _approval_status(self, model_package_arn)
        arn = original_update(self, model_package_arn, *args, **kwargs)
        if _approval_status(self, arn) != before:
            _emit(self, arn, events.events_backends)
        return arn

    if not applied(original_create, PATCH):
        SageMakerModelBackend.create_model_package = mark(create_model_package, PATCH)
    if not applied(original_update, PATCH):
        SageMakerModelBackend.update_model_package = mark(update_model_package, PATCH)


def _package(backend, arn_or_name: str):
    name = backend.model_package_name_mapping.get(arn_or_name, arn_or_name)
    return backend.model_packages.get(name)


def _approval_status(backend, arn_or_name: str) -> str | None:
    package = _package(backend, arn_or_name)
    return package.model_approval_status if package else None


def _emit(backend, arn: str, events_backends) -> None:
    package = _package(backend, arn)
    if package is None or not package.model_package_group_name:
        return  # unversioned packages belong to no group; no rule of ours matches them
    detail = {key: getattr(package, attribute) for key, attribute in DETAIL.items()}
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
