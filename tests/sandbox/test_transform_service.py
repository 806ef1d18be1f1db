"""Standalone CreateTransformJob (sandbox/transform_service.py) and the stack schedules that
start them (moto patch scheduler_schedule_resource). A batch deployment end to end is in
tests/modeldeploy/test_batch_transform.py. The patch's break is in BREAKS, for
test_moto_patches."""

from __future__ import annotations

import json
import time

SCHEDULE_TEMPLATE = {
    "Resources": {
        "Nightly": {
            "Type": "AWS::Scheduler::Schedule",
            "Properties": {
                "ScheduleExpression": "cron(0 3 * * ? *)",
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "Target": {
                    "Arn": "arn:aws:scheduler:::aws-sdk:sagemaker:createTransformJob",
                    "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
                    "Input": "{}",
                },
            },
        },
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "Nightly"}}},
    },
    "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Nightly", "Arn"]}}},
}


def test_stack_schedule_is_created_with_its_target_and_deleted_with_the_stack(sandbox):
    cloudformation = sandbox.client("cloudformation")
    scheduler = sandbox.client("scheduler")
    cloudformation.create_stack(
        StackName="schedule-stack", TemplateBody=json.dumps(SCHEDULE_TEMPLATE)
    )
    names = [s["Name"] for s in scheduler.list_schedules()["Schedules"]]
    name = next(n for n in names if n.startswith("schedule-stack-Nightly-"))
    schedule = scheduler.get_schedule(Name=name)
    assert schedule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert schedule["Target"]["Arn"].endswith(":sagemaker:createTransformJob")
    outputs = cloudformation.describe_stacks(StackName="schedule-stack")["Stacks"][0]["Outputs"]
    assert outputs[0]["OutputValue"] == schedule["Arn"]
    cloudformation.delete_stack(StackName="schedule-stack")
    assert name not in [s["Name"] for s in scheduler.list_schedules()["Schedules"]]


def test_standalone_transform_job_of_a_missing_model_ends_failed_saying_why(sandbox):
    sagemaker = sandbox.client("sagemaker")
    sagemaker.create_transform_job(
        TransformJobName="no-such-model-job",
        ModelName="no-such-model",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}}
        },
        TransformOutput={"S3OutputPath": "s3://b/out"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    deadline = time.monotonic() + 30
    while True:  # moto alone says Completed at once; the sandbox runs the job
        job = sagemaker.describe_transform_job(TransformJobName="no-such-model-job")
        if job["TransformJobStatus"] != "InProgress" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert job["TransformJobStatus"] == "Failed"
    assert "no-such-model" in job["FailureReason"]


# --- the patch's check of moto's internals (run by test_moto_patches) --------------------


def _break_scheduler_schedule_resource(monkeypatch):
    from moto.scheduler.models import EventBridgeSchedulerBackend

    monkeypatch.delattr(EventBridgeSchedulerBackend, "delete_schedule")
    return "EventBridgeSchedulerBackend.delete_schedule does not exist"


BREAKS = {"scheduler_schedule_resource": _break_scheduler_schedule_resource}
