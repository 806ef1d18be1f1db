"""Where moto 5 differs from AWS in ways this project's flows depend on, made to behave as
AWS does. Applied once, when a sandbox starts; each fix names the AWS behaviour it restores.
"""

from __future__ import annotations

import functools

from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True

    # AWS::SageMaker::Endpoint honours its EndpointName property; moto generates a name.
    FakeEndpoint.cloudformation_name_type = staticmethod(lambda: "EndpointName")

    # UpdateModelPackage changes only the fields it is given; moto also clears
    # CustomerMetadataProperties (and the approval status) when they are left out.
    original = SageMakerModelBackend.update_model_package

    @functools.wraps(original)
    def update_model_package(
        self,
        model_package_arn,
        model_approval_status,
        approval_description,
        customer_metadata_properties,
        *args,
        **kwargs,
    ):
        name = self.model_package_name_mapping.get(model_package_arn, model_package_arn)
        package = self.model_packages.get(name)
        if package is not None:
            if customer_metadata_properties is None:
                customer_metadata_properties = package.customer_metadata_properties
            if model_approval_status is None:
                model_approval_status = package.model_approval_status
            if approval_description is None:
                approval_description = package.approval_description
        return original(
            self,
            model_package_arn,
            model_approval_status,
            approval_description,
            customer_metadata_properties,
            *args,
            **kwargs,
        )

    SageMakerModelBackend.update_model_package = update_model_package
