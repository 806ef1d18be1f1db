"""AWS::Scheduler::Schedule in a stack creates the EventBridge Scheduler schedule.

AWS: CloudFormation creates, updates and deletes a stack's schedules (named by `Name`, or
`<stack>-<logical id>-<suffix>`; `Ref` gives the name, `Fn::GetAtt Arn` the ARN). moto:
CloudFormation has no model for the type: it logs "No Moto CloudFormation support" and
creates nothing, so GetSchedule finds nothing and `python -m sandbox fire-schedule` cannot
fire the schedule a template (modeldeploy/batch-transform-template.yml) declares. The patch
registers a model for the type, backed by moto's own Scheduler (CreateSchedule,
DeleteSchedule); an update keeps the name, as AWS does unless `Name` changes.
"""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel

from sandbox.moto_patches import Internals

PATCH = "scheduler_schedule_resource"
RESOURCE_TYPE = "AWS::Scheduler::Schedule"


def apply() -> None:
    from moto.cloudformation import parsing
    from moto.scheduler import models as scheduler

    check = Internals(PATCH)
    for cache in ("get_model_list", "get_model_map", "get_name_type_map"):
        check.attribute(check.attribute(parsing, cache), "cache_clear")
    check.calls(parsing.get_model_list, "__subclasses__")
    check.attribute(scheduler, "scheduler_backends")
    check.function(
        scheduler.EventBridgeSchedulerBackend,
        "create_schedule",
        "description",
        "end_date",
        "flexible_time_window",
        "group_name",
        "kms_key_arn",
        "name",
        "schedule_expression",
        "schedule_expression_timezone",
        "start_date",
        "state",
        "target",
        "action_after_completion",
    )
    check.function(scheduler.EventBridgeSchedulerBackend, "delete_schedule", "group_name", "name")
    model = parsing.get_model_map().get(RESOURCE_TYPE)
    if model is not None and model.__module__ != __name__:
        raise check.missing(f"moto now has {model.__qualname__} for {RESOURCE_TYPE}")
    if model is not None:
        return
    # moto lists its models as CloudFormationModel's subclasses, once (cached): Schedule
    # below is one now that this module is imported; clearing the caches lets moto see it.
    for cache in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cache.cache_clear()


def _backends():
    from moto.scheduler.models import scheduler_backends

    return scheduler_backends


class SchedulerSchedule(CloudFormationModel):
    """A stack's schedule, kept in moto's Scheduler (a module-level class: the state snapshot
    pickles the stack's resources)."""

    def __init__(self, name: str, properties: dict, account_id: str, region_name: str):
        self.name, self.properties = name, properties
        self.account_id, self.region_name = account_id, region_name
        self.group = properties.get("GroupName") or "default"
        self.arn = f"arn:aws:scheduler:{region_name}:{account_id}:schedule/{self.group}/{name}"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return RESOURCE_TYPE

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "Arn":
            return self.arn
        raise UnformattedGetAttTemplateException()

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def put(self) -> None:
        """CreateSchedule with the resource's properties (what `restore` repeats when a
        stack update that changed the schedule rolls back)."""
        p = self.properties
        backend = _backends()[self.account_id][self.region_name]
        if self.name in backend.get_schedule_group(self.group).schedules:
            backend.delete_schedule(self.group, self.name)
        schedule = backend.create_schedule(
            description=p.get("Description"),
            end_date=p.get("EndDate"),
            flexible_time_window=p.get("FlexibleTimeWindow") or {"Mode": "OFF"},
            group_name=self.group,
            kms_key_arn=p.get("KmsKeyArn"),
            name=self.name,
            schedule_expression=p["ScheduleExpression"],
            schedule_expression_timezone=p.get("ScheduleExpressionTimezone"),
            start_date=p.get("StartDate"),
            state=p.get("State") or "ENABLED",
            target=p["Target"],
            action_after_completion=None,
        )
        self.arn = schedule.arn

    restore = put

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backends()[account_id][region_name]
        if self.name in backend.get_schedule_group(self.group).schedules:
            backend.delete_schedule(self.group, self.name)

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        schedule = cls(resource_name, cloudformation_json["Properties"], account_id, region_name)
        schedule.put()
        return schedule

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        properties = cloudformation_json["Properties"]
        name = properties.get("Name") or original_resource.name
        if name != original_resource.name:
            original_resource.delete(account_id, region_name)
        schedule = cls(name, properties, account_id, region_name)
        schedule.put()
        return schedule

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name, cloudformation_json, account_id, region_name
    ):
        group = (cloudformation_json.get("Properties") or {}).get("GroupName") or "default"
        backend = _backends()[account_id][region_name]
        if resource_name in backend.get_schedule_group(group).schedules:
            backend.delete_schedule(group, resource_name)
