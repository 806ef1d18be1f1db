"""AWS::SageMaker::Endpoint honours its EndpointName property.

AWS: a stack's Endpoint is named by its `EndpointName` property (the deploy template names
it `<project>-<stage>`, which the smoke tests and the rollback look up). moto: the class
declares no name property, so CloudFormation generates `<stack>-<logical id>-<suffix>` and
ignores `EndpointName`. The patch declares the property, as moto does for other resources.
"""

from __future__ import annotations

from sandbox.moto_patches import Internals, applied, mark

PATCH = "endpoint_name"
RESOURCE_TYPE = "AWS::SageMaker::Endpoint"
NAME_PROPERTY = "EndpointName"


def apply() -> None:
    from moto.cloudformation import parsing
    from moto.sagemaker.models import FakeEndpoint

    check = Internals(PATCH)
    # CloudFormation names a resource after the property its class's
    # cloudformation_name_type() gives, looked up by the resource type...
    check.function(parsing, "resource_name_property_from_type", "resource_type")
    check.calls(parsing.resource_name_property_from_type, "cloudformation_name_type")
    check.function(FakeEndpoint, "cloudformation_name_type")
    if check.function(FakeEndpoint, "cloudformation_type")() != RESOURCE_TYPE:
        raise check.missing(f"FakeEndpoint.cloudformation_type() is no longer {RESOURCE_TYPE}")
    # ...and the Endpoint is created under that name.
    check.function(FakeEndpoint, "create_from_cloudformation_json", "resource_name")

    if applied(FakeEndpoint.cloudformation_name_type, PATCH):
        return

    def cloudformation_name_type() -> str:
        return NAME_PROPERTY

    FakeEndpoint.cloudformation_name_type = staticmethod(mark(cloudformation_name_type, PATCH))
