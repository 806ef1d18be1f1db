"""Executing a change set makes its parameters, template and Outputs the stack's.

AWS: after ExecuteChangeSet the stack has the change set's parameters, and its Outputs and
exports (which `Fn::ImportValue` reads) are the new template's. moto: the resources are
updated but the stack keeps its old parameters, so a later change set back to those values
is wrongly judged "no changes"; and Outputs and exports are set by CreateStack/UpdateStack
only, never by a change set. The patch sets them after moto's apply.
"""

from __future__ import annotations

import functools

from sandbox.moto_patches import Internals, applied, mark

PATCH = "change_set_apply"


def apply() -> None:
    from moto.cloudformation import models
    from moto.cloudformation.models import ChangeSet, CloudFormationBackend, Stack

    check = Internals(PATCH)
    original = check.function(ChangeSet, "apply", "self")
    check.calls(CloudFormationBackend.execute_change_set, ".apply()")
    check.instance_attributes(ChangeSet, "stack", "parameters", "template")
    check.instance_attributes(
        Stack, "parameters", "template", "output_map", "exports", "account_id", "region_name"
    )
    check.function(Stack, "_parse_template", "self")
    check.function(Stack, "_create_output_map", "self")
    check.attribute(models, "cloudformation_backends")
    check.instance_attributes(CloudFormationBackend, "exports")

    if applied(original, PATCH):
        return

    @functools.wraps(original)
    def apply_change_set(self):
        original(self)
        stack = self.stack
        stack.parameters = self.parameters
        stack.template = self.template
        stack._parse_template()
        stack.output_map = stack._create_output_map()
        backend = models.cloudformation_backends[stack.account_id][stack.region_name]
        for export in stack.exports:
            backend.exports[export.name] = export

    ChangeSet.apply = mark(apply_change_set, PATCH)
