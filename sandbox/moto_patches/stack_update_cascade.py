"""A CloudFormation update also updates the resources that read an updated one.

AWS: when an update replaces a resource, every resource that reads it (`Ref`,
`Fn::GetAtt`) is updated to the new one: a new Model means a new EndpointConfig, which the
Endpoint then switches to. moto: only the resources whose own template text (or parameters)
changed are updated, so the Endpoint keeps serving the old config and, through it, a Model
that no longer exists. The patch adds the readers, transitively, to moto's "Modify" list,
and orders that list as AWS updates: a resource after the ones it reads (moto keeps template
order, so an Endpoint whose own parameters changed was updated before its new
EndpointConfig existed, and kept the old one).
"""

from __future__ import annotations

import functools

from sandbox.moto_patches import Internals, applied, mark

PATCH = "stack_update_cascade"


def apply() -> None:
    from moto.cloudformation.parsing import ResourceMap

    check = Internals(PATCH)
    original = check.function(
        ResourceMap, "build_resource_diff", "self", "other_template", "parameters"
    )
    check.function(ResourceMap, "update", "template", "parameters")
    check.calls(ResourceMap.update, "self.build_resource_diff(")
    check.instance_attributes(ResourceMap, "_resource_json_map")

    if applied(original, PATCH):
        return

    @functools.wraps(original)
    def build_resource_diff(self, other_template, parameters=None):
        actions = original(self, other_template, parameters)
        if not {"Add", "Modify"} <= actions.keys():
            raise check.missing(
                f"ResourceMap.build_resource_diff returned {sorted(actions)}, "
                "not the Add/Modify/Remove lists"
            )
        resources = other_template["Resources"]
        changed = True
        while changed:
            changed = False
            touched = set(actions["Modify"]) | set(actions["Add"])
            for name, resource in resources.items():
                if name in touched or name not in self._resource_json_map:
                    continue
                if references(resource) & touched:
                    actions["Modify"].append(name)
                    changed = True
        actions["Modify"] = dependency_order(actions["Modify"], resources)
        return actions

    ResourceMap.build_resource_diff = mark(build_resource_diff, PATCH)


def references(node) -> set[str]:
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
                found |= references(value)
        return found
    if isinstance(node, list):
        return set().union(*(references(item) for item in node)) if node else set()
    return set()


def dependency_order(names: list[str], resources: dict) -> list[str]:
    """`names` with each resource after the ones among them it reads (otherwise as given)."""
    pending, ordered = list(names), []
    while pending:
        ready = next(
            (n for n in pending if not (references(resources[n]) & (set(pending) - {n}))),
            pending[0],  # a cycle: CloudFormation would refuse the template; keep going
        )
        pending.remove(ready)
        ordered.append(ready)
    return ordered
