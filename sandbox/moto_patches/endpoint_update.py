"""An AWS::SageMaker::Endpoint update is UpdateEndpoint: the same endpoint moves to its new
config, through the deployment guardrails its DeploymentConfig asks for.

AWS: CloudFormation updates an Endpoint whose EndpointConfigName changed with UpdateEndpoint
(same ARN, same creation time); with a DeploymentConfig, a blue/green deployment shifts
traffic in stages and rolls back on its alarms, and a rolled-back update fails the
resource, so the stack rolls back. moto: the endpoint is deleted and created again (a new
endpoint that serves the new config at once; between the two calls it does not exist), and
DeploymentConfig is ignored. The patch updates moto's endpoint in place, running the
deployment with sandbox/guardrails.py, and fails the resource when it rolled back
(sandbox/moto_patches/stack_update_rollback.py then rolls the stack back). Without a
DeploymentConfig the endpoint switches at once (a model that cannot load then shows when
the endpoint is invoked or described, as before).
"""

from __future__ import annotations

import functools

from sandbox.moto_patches import Internals, applied, mark

PATCH = "endpoint_update"


def apply() -> None:
    from moto.sagemaker.models import FakeEndpoint

    from sandbox import guardrails
    from sandbox.moto_patches import stack_update_rollback

    check = Internals(PATCH)
    original = check.function(
        FakeEndpoint,
        "update_from_cloudformation_json",
        "original_resource",
        "new_resource_name",
        "cloudformation_json",
        "account_id",
        "region_name",
    )
    check.function(FakeEndpoint, "_process_production_variants", "production_variants")
    check.instance_attributes(
        FakeEndpoint,
        "endpoint_name",
        "endpoint_config_name",
        "production_variants",
        "endpoint_status",
        "failure_reason",
        "last_modified_time",
        "tags",
    )

    if applied(original, PATCH):
        return

    @functools.wraps(original.__func__)
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        properties = cloudformation_json["Properties"]
        new_config = properties["EndpointConfigName"]
        endpoint = original_resource
        endpoint.tags = properties.get("Tags", endpoint.tags)
        if new_config == endpoint.endpoint_config_name:
            return endpoint  # only the deployment settings or tags changed
        if not properties.get("DeploymentConfig"):
            guardrails.switch(endpoint, new_config)  # no guardrails asked for: at once
            return endpoint
        reason = guardrails.run_update(endpoint, new_config, properties["DeploymentConfig"])
        if reason:
            stack_update_rollback.fail_resource(
                getattr(endpoint, "logical_resource_id", "Endpoint"),
                cls.cloudformation_type(),
                f"Endpoint {endpoint.endpoint_name}: {reason}",
            )
        return endpoint

    FakeEndpoint.update_from_cloudformation_json = classmethod(
        mark(update_from_cloudformation_json, PATCH)
    )
