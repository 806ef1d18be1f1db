"""A change set whose resource update fails rolls the stack back; replaced SageMaker models
and endpoint configs are deleted only once the update has succeeded.

AWS: CloudFormation creates a replacement (a new Model, a new EndpointConfig) before it
deletes what it replaces, and deletes the old one in the cleanup phase, after the whole
update succeeded: while an Endpoint's blue/green update runs, its old config still exists.
When a resource fails to update (an Endpoint whose deployment rolled back on an alarm), the
stack rolls back: the replacements are deleted, the old resources, template and parameters
stay, the resource has an UPDATE_FAILED event with its reason, and the stack ends
UPDATE_ROLLBACK_COMPLETE. moto: the old Model and EndpointConfig are deleted before their
replacements exist, a resource cannot fail an update (an exception is retried five times,
then answered with HTTP 500), and ExecuteChangeSet always ends UPDATE_COMPLETE.

The patch: within ExecuteChangeSet of an UPDATE change set, Model and EndpointConfig
updates defer deleting the old resource to the end; a resource update reports a failure
with `fail_resource` (the Endpoint update does, sandbox/moto_patches/endpoint_update.py);
then the stack is rolled back as above instead of completing.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.moto_patches import Internals, applied, mark

PATCH = "stack_update_rollback"
logger = logging.getLogger(__name__)
_current = threading.local()  # the update this request thread is executing


@dataclass
class _Update:
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    failure: tuple[str, str, str] | None = None  # logical id, resource type, reason


def fail_resource(logical_id: str, resource_type: str, reason: str) -> bool:
    """Mark the resource being updated as failed: the stack rolls back once moto's apply
    returns. False when no change set is executing (the caller's failure then only shows
    on the resource itself)."""
    update = getattr(_current, "update", None)
    if update is None:
        return False
    if update.failure is None:
        update.failure = (logical_id, resource_type, reason)
    return True


def apply() -> None:
    from moto.cloudformation.models import CloudFormationBackend, Stack
    from moto.cloudformation.parsing import ResourceMap
    from moto.sagemaker.models import FakeEndpointConfig, Model

    check = Internals(PATCH)
    original = check.function(
        CloudFormationBackend, "execute_change_set", "self", "change_set_name", "stack_name"
    )
    check.instance_attributes(CloudFormationBackend, "change_sets", "stacks")
    check.instance_attributes(
        Stack, "status", "events", "parameters", "template", "template_dict", "output_map"
    )
    check.function(Stack, "_add_stack_event", "resource_status", "resource_status_reason")
    check.instance_attributes(
        ResourceMap, "_parsed_resources", "_resource_json_map", "_template", "input_parameters"
    )
    check.function(ResourceMap, "_delete_resource", "parsed_resource", "resource_json")
    for cls in (Model, FakeEndpointConfig):
        check.function(
            cls,
            "update_from_cloudformation_json",
            "original_resource",
            "new_resource_name",
            "cloudformation_json",
            "account_id",
            "region_name",
        )
        check.function(cls, "create_from_cloudformation_json", "resource_name")
        check.function(cls, "delete_from_cloudformation_json", "resource_name")
        check.attribute(cls, "physical_resource_id")

    if applied(original, PATCH):
        return
    for cls in (Model, FakeEndpointConfig):
        cls.update_from_cloudformation_json = classmethod(
            mark(_replace_then_delete(cls.update_from_cloudformation_json.__func__), PATCH)
        )

    @functools.wraps(original)
    def execute_change_set(self, change_set_name, stack_name=None):
        change_set = self.change_sets.get(change_set_name) or next(
            (c for c in self.change_sets.values() if c.change_set_name == change_set_name), None
        )
        stack = self.stacks.get(change_set.stack_id) if change_set else None
        if stack is None or change_set.change_set_type != "UPDATE":
            return original(self, change_set_name, stack_name)
        saved = _Saved(stack)
        update = _current.update = _Update()
        try:
            original(self, change_set_name, stack_name)
        finally:
            _current.update = None
        if update.failure is None:
            for cleanup in update.cleanups:  # UPDATE_COMPLETE_CLEANUP_IN_PROGRESS
                try:
                    cleanup()
                except Exception as err:  # noqa: BLE001 — a resource already gone is fine
                    logger.debug("cleanup after the update of %s: %s", stack.name, err)
            return None
        _roll_back(stack, saved, change_set, update.failure)
        return None

    CloudFormationBackend.execute_change_set = mark(execute_change_set, PATCH)


def _replace_then_delete(original: Callable) -> Callable:
    """A SageMaker resource's update that creates the replacement first and leaves the old
    one for the cleanup after the update (moto deletes it first)."""

    @functools.wraps(original)
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        update = getattr(_current, "update", None)
        old_id = original_resource.physical_resource_id
        if update is None or old_id.split("/")[-1] == new_resource_name:
            return original(
                cls,
                original_resource,
                new_resource_name,
                cloudformation_json,
                account_id,
                region_name,
            )
        replacement = cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )
        update.cleanups.append(
            lambda: cls.delete_from_cloudformation_json(
                old_id, cloudformation_json, account_id, region_name
            )
        )
        return replacement

    return update_from_cloudformation_json


class _Saved:
    """What the stack was before the update: enough to put it back."""

    def __init__(self, stack):
        self.parameters = stack.parameters
        self.template = stack.template
        self.template_dict = stack.template_dict
        self.output_map = stack.output_map
        resource_map = stack.resource_map
        self.resource_map = {
            k: (dict(v) if isinstance(v, dict) else v) for k, v in vars(resource_map).items()
        }


def _roll_back(stack, saved: _Saved, change_set, failure: tuple[str, str, str]) -> None:
    """UPDATE_FAILED -> UPDATE_ROLLBACK_IN_PROGRESS -> UPDATE_ROLLBACK_COMPLETE: the
    resources made by the update are deleted, the old ones (and template, parameters) kept."""
    from moto.cloudformation.models import Event

    logical_id, resource_type, reason = failure
    resource_map = stack.resource_map
    made = dict(resource_map._parsed_resources)
    new_resources = change_set.template_dict.get("Resources", {})
    vars(resource_map).update(saved.resource_map)
    old_resources = saved.resource_map["_parsed_resources"]
    for name, resource in made.items():
        old = old_resources.get(name)
        if (
            resource is old
            or name not in new_resources
            or not hasattr(resource, "cf_resource_type")
        ):
            continue
        if old is not None and getattr(old, "physical_resource_id", None) == getattr(
            resource, "physical_resource_id", None
        ):
            if hasattr(old, "restore"):  # updated in place (an alarm): its old settings back
                old.restore()
            continue
        try:
            resource_map._delete_resource(resource, new_resources[name])
        except Exception as err:  # noqa: BLE001 — best effort, as CloudFormation's cleanup
            logger.warning("rollback of %s: could not delete %s: %s", stack.name, name, err)
    stack.parameters, stack.template = saved.parameters, saved.template
    stack.template_dict, stack.output_map = saved.template_dict, saved.output_map
    if stack.events and stack.events[-1].resource_status == "UPDATE_COMPLETE":
        stack.events.pop()  # moto's: the update did not complete
    failed = Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id,
        physical_resource_id=getattr(made.get(logical_id), "physical_resource_id", logical_id),
        resource_type=resource_type,
        resource_status="UPDATE_FAILED",
        resource_status_reason=reason,
        resource_properties=None,
    )
    stack.events.append(failed)
    stack._add_stack_event(
        "UPDATE_ROLLBACK_IN_PROGRESS",
        resource_status_reason=f"The following resource(s) failed to update: [{logical_id}].",
    )
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
