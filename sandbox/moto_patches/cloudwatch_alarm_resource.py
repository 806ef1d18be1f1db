"""AWS::CloudWatch::Alarm in a stack creates the alarm.

AWS: CloudFormation creates, updates and deletes a stack's metric alarms; `Ref` gives the
alarm's name (generated `<stack>-<logical id>-<suffix>` when AlarmName is not set), which
an Endpoint's `AutoRollbackConfiguration` names. moto: CloudFormation has no model for the
type: it logs "No Moto CloudFormation support" and creates nothing, so DescribeAlarms finds
no alarm and nothing can watch a deployment. The patch registers a model for the type,
backed by moto's own CloudWatch (PutMetricAlarm, DeleteAlarms). An update keeps the
alarm's name, as AWS does unless AlarmName itself changes.
"""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel

from sandbox.moto_patches import Internals

PATCH = "cloudwatch_alarm_resource"
RESOURCE_TYPE = "AWS::CloudWatch::Alarm"


def apply() -> None:
    from moto.cloudformation import parsing
    from moto.cloudwatch import models as cloudwatch

    check = Internals(PATCH)
    for cache in ("get_model_list", "get_model_map", "get_name_type_map"):
        check.attribute(check.attribute(parsing, cache), "cache_clear")
    check.calls(parsing.get_model_list, "__subclasses__")
    check.attribute(cloudwatch, "cloudwatch_backends")
    check.function(
        cloudwatch.CloudWatchBackend,
        "put_metric_alarm",
        "name",
        "namespace",
        "metric_name",
        "comparison_operator",
        "evaluation_periods",
        "period",
        "threshold",
        "statistic",
        "description",
        "dimensions",
        "alarm_actions",
        "datapoints_to_alarm",
        "extended_statistic",
        "ok_actions",
        "insufficient_data_actions",
        "unit",
        "treat_missing_data",
    )
    check.function(cloudwatch.CloudWatchBackend, "delete_alarms", "alarm_names")
    model = parsing.get_model_map().get(RESOURCE_TYPE)
    if model is not None and model.__module__ != __name__:
        raise check.missing(f"moto now has {model.__qualname__} for {RESOURCE_TYPE}")
    if model is not None:
        return
    # moto lists its models as CloudFormationModel's subclasses, once (cached): CloudWatchAlarm
    # below is one now that this module is imported; clearing the caches lets moto see it.
    for cache in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cache.cache_clear()


class CloudWatchAlarm(CloudFormationModel):
    """A stack's metric alarm, kept in moto's CloudWatch (a module-level class: the state
    snapshot pickles the stack's resources)."""

    def __init__(self, name: str, properties: dict, account_id: str, region_name: str):
        self.name, self.properties = name, properties
        self.account_id, self.region_name = account_id, region_name
        self.arn = f"arn:aws:cloudwatch:{region_name}:{account_id}:alarm:{name}"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

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
        """PutMetricAlarm with the resource's properties (what `restore` repeats when a
        stack update that changed the alarm rolls back)."""
        p = self.properties
        _backends()[self.account_id][self.region_name].put_metric_alarm(
            name=self.name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=int(p["Period"]) if p.get("Period") is not None else 60,
            threshold=float(p["Threshold"]) if p.get("Threshold") is not None else 0.0,
            statistic=p.get("Statistic"),
            extended_statistic=p.get("ExtendedStatistic"),
            description=p.get("AlarmDescription", ""),
            dimensions=p.get("Dimensions") or [],
            alarm_actions=p.get("AlarmActions") or [],
            ok_actions=p.get("OKActions") or [],
            insufficient_data_actions=p.get("InsufficientDataActions") or [],
            datapoints_to_alarm=(
                int(p["DatapointsToAlarm"]) if p.get("DatapointsToAlarm") else None
            ),
            unit=p.get("Unit"),
            treat_missing_data=p.get("TreatMissingData"),
        )

    restore = put

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
    ):
        alarm = cls(resource_name, cloudformation_json["Properties"], account_id, region_name)
        alarm.put()
        return alarm

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        properties = cloudformation_json["Properties"]
        name = properties.get("AlarmName") or original_resource.name
        if name != original_resource.name:
            original_resource.delete(account_id, region_name)
        alarm = cls(name, properties, account_id, region_name)
        alarm.put()
        return alarm

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name, cloudformation_json, account_id, region_name
    ):
        _backends()[account_id][region_name].delete_alarms([resource_name])

    def delete(self, account_id: str, region_name: str) -> None:
        _backends()[account_id][region_name].delete_alarms([self.name])


def _backends():
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends
