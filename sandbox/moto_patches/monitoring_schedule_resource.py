"""CloudFormation creates `AWS::SageMaker::MonitoringSchedule`; DescribeMonitoringSchedule
and ListMonitoringSchedules answer for it.

AWS: the resource creates a Model Monitor schedule (here the endpoint stack's data-quality
schedule, a custom job with its MonitoringJobDefinition inline); `Ref` is its ARN; the
schedule starts a monitoring job at each ScheduleExpression tick.
moto: neither the resource type nor the schedule API exists (the stack skips the resource
with a warning). The patch keeps each stack's schedule on the region's SageMaker backend
(`sandbox_monitoring_schedules`, so snapshots keep it) with the API's Describe shape, and
adds the two read calls. It never fires by the clock: `python -m sandbox run-monitoring`
runs a schedule's job now (sandbox/monitoring.py).
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from moto.core.common_models import CloudFormationModel

from sandbox.moto_patches import Internals, applied, mark

PATCH = "monitoring_schedule_resource"
TYPE = "AWS::SageMaker::MonitoringSchedule"
STORE = "sandbox_monitoring_schedules"


def schedules(backend) -> dict[str, dict]:
    """The backend's schedules by name (created on first use: older snapshots lack it)."""
    if not hasattr(backend, STORE):
        setattr(backend, STORE, {})
    return getattr(backend, STORE)


class MonitoringScheduleResource(CloudFormationModel):
    def __init__(self, name: str, arn: str):
        self.name, self.arn = name, arn

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return "MonitoringScheduleName"

    @staticmethod
    def cloudformation_type() -> str:
        return TYPE

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("MonitoringScheduleArn",)

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> MonitoringScheduleResource:
        from moto.sagemaker.models import sagemaker_backends

        properties = cloudformation_json.get("Properties", {})
        name = properties.get("MonitoringScheduleName", resource_name)
        arn = f"arn:aws:sagemaker:{region_name}:{account_id}:monitoring-schedule/{name.lower()}"
        now = datetime.datetime.now(datetime.UTC).isoformat()
        config = properties.get("MonitoringScheduleConfig", {})
        schedules(sagemaker_backends[account_id][region_name])[name] = {
            "MonitoringScheduleArn": arn,
            "MonitoringScheduleName": name,
            "MonitoringScheduleStatus": properties.get("Status", "Scheduled"),
            "MonitoringType": config.get("MonitoringType", "DataQuality"),
            "CreationTime": now,
            "LastModifiedTime": now,
            "MonitoringScheduleConfig": config,
            "EndpointName": properties.get("EndpointName")
            or _endpoint_of(config.get("MonitoringJobDefinition", {})),
        }
        return cls(name, arn)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> MonitoringScheduleResource:
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        from moto.sagemaker.models import sagemaker_backends

        name = cloudformation_json.get("Properties", {}).get("MonitoringScheduleName")
        schedules(sagemaker_backends[account_id][region_name]).pop(name or resource_name, None)


def _endpoint_of(definition: dict) -> str | None:
    for item in definition.get("MonitoringInputs", []):
        if "EndpointInput" in item:
            return item["EndpointInput"].get("EndpointName")
    return None


def describe_monitoring_schedule(self):
    from moto.sagemaker.exceptions import ResourceNotFound

    name = self._get_param("MonitoringScheduleName")
    found = schedules(self.sagemaker_backend).get(name)
    if found is None:
        raise ResourceNotFound(f"Monitoring Schedule {name} not found")
    return json.dumps(found)


def list_monitoring_schedules(self):
    endpoint = self._get_param("EndpointName")
    summaries = [
        {
            key: schedule[key]
            for key in (
                "MonitoringScheduleName",
                "MonitoringScheduleArn",
                "CreationTime",
                "LastModifiedTime",
                "MonitoringScheduleStatus",
                "EndpointName",
                "MonitoringType",
            )
        }
        for schedule in schedules(self.sagemaker_backend).values()
        if endpoint in (None, schedule.get("EndpointName"))
    ]
    return json.dumps({"MonitoringScheduleSummaries": summaries})


def apply() -> None:
    from moto.cloudformation import parsing
    from moto.sagemaker.responses import SageMakerResponse

    check = Internals(PATCH)
    check.attribute(SageMakerResponse, "sagemaker_backend")
    check.function(SageMakerResponse, "_get_param", "param_name")
    models = check.function(parsing, "get_model_list")
    check.function(parsing, "get_model_map")
    check.function(parsing, "get_name_type_map")
    if applied(getattr(SageMakerResponse, "describe_monitoring_schedule", None), PATCH):
        return
    for cached in (models, parsing.get_model_map, parsing.get_name_type_map):
        if not hasattr(cached, "cache_clear"):
            raise check.missing(f"moto.cloudformation.parsing.{cached.__name__} is not cached")
        cached.cache_clear()
    parsing._sandbox_monitoring_schedule = MonitoringScheduleResource
    SageMakerResponse.describe_monitoring_schedule = mark(describe_monitoring_schedule, PATCH)
    SageMakerResponse.list_monitoring_schedules = mark(list_monitoring_schedules, PATCH)
