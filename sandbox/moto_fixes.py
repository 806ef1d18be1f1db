"""Where moto 5 differs from AWS in ways this project's flows depend on, made to behave as
AWS does. Applied once, when a sandbox starts; each fix names the AWS behaviour it restores
(the last one, a cost of moto's server, names the cost).
"""

from __future__ import annotations

import functools

from moto import backends
from moto.cloudformation.models import ChangeSet, cloudformation_backends
from moto.cloudformation.parsing import ResourceMap
from moto.cloudformation.responses import CloudFormationResponse
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend

from sandbox import registry_events

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

    # A CloudFormation update also updates every resource that reads (Ref / Fn::GetAtt) an
    # updated one: a new Model means a new EndpointConfig, which the Endpoint then switches
    # to. moto updates only the resources whose own properties changed.
    original_diff = ResourceMap.build_resource_diff

    @functools.wraps(original_diff)
    def build_resource_diff(self, other_template, parameters=None):
        actions = original_diff(self, other_template, parameters)
        resources = other_template["Resources"]
        changed = True
        while changed:
            changed = False
            touched = set(actions["Modify"]) | set(actions["Add"])
            for name, resource in resources.items():
                if name in touched or name not in self._resource_json_map:
                    continue
                if _references(resource) & touched:
                    actions["Modify"].append(name)
                    changed = True
        return actions

    ResourceMap.build_resource_diff = build_resource_diff

    # Executing a change set makes its parameters the stack's; moto keeps the old ones, so
    # a later change set back to those values is wrongly judged "no changes".
    original_apply = ChangeSet.apply

    # It also sets the stack's Outputs and publishes their exports (Fn::ImportValue reads
    # them); moto does that in CreateStack/UpdateStack only, not for a change set.
    @functools.wraps(original_apply)
    def apply_change_set(self):
        original_apply(self)
        self.stack.parameters = self.parameters
        self.stack.template = self.template
        self.stack._parse_template()
        self.stack.output_map = self.stack._create_output_map()
        backend = cloudformation_backends[self.stack.account_id][self.stack.region_name]
        for export in self.stack.exports:
            backend.exports[export.name] = export

    ChangeSet.apply = apply_change_set

    # CreateChangeSet with nothing to change succeeds on AWS and yields a FAILED change set
    # ("didn't contain changes"), which moto's backend builds too; moto's request layer
    # raises UpdateStack's "No updates are to be performed." first. Skip that check there.
    original_create_change_set = CloudFormationResponse.create_change_set

    @functools.wraps(original_create_change_set)
    def create_change_set(self):
        self._validate_different_update = lambda *args: None
        try:
            return original_create_change_set(self)
        finally:
            del self._validate_different_update

    CloudFormationResponse.create_change_set = create_change_set

    # SageMaker sends model package state changes to EventBridge; moto does not.
    registry_events.apply()

    # moto's server routes each request by listing its own package folder (a stat for each
    # of ~180 services), twice: 3.5 of the 5 ms it spends on an S3 GET. The folder is fixed.
    services = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: services


def _references(node) -> set[str]:
    """Logical ids a template fragment reads through Ref or Fn::GetAtt."""
    if isinstance(node, dict):
        found = set()
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                found.add(target)
            else:
                found |= _references(value)
        return found
    if isinstance(node, list):
        return set().union(*(_references(item) for item in node)) if node else set()
    return set()
