"""Step Functions, Lambda, EventBridge and EventBridge Scheduler in the sandbox, through
boto3 as orchestration/ uses them: state machines execute, handlers run, rules reach their
targets, schedules fire on demand."""

from __future__ import annotations

import base64
import io
import json
import os
import time
import uuid
import zipfile

import pytest

from sandbox import daemon, orchestration_services
from sandbox.constants import ACCOUNT_ID
from sandbox.lambda_runtime import UnsafeZipError, safe_unzip
from sandbox.schedules import fire
from tests.sandbox.conftest import sandbox_cli

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/OrchestrationTestRole"
WAIT_SECONDS = 60  # the longest any test waits for asynchronous work (never a timed assertion)

HANDLER = """
import json, os, subprocess, sys, time

import boto3


def handler(event, context):
    print("event:", json.dumps(event))
    if "raise" in event:
        raise ValueError(event["raise"])
    if "sleep" in event:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(event["pid_file"], "w") as file:
            file.write(str(child.pid))
        time.sleep(event["sleep"])
    if "put" in event:
        boto3.client("s3").put_object(Bucket=event["put"], Key=context.aws_request_id, Body=b"x")
    return {
        "event": event,
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "arn": context.invoked_function_arn,
        "stage": os.environ.get("STAGE"),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "buckets": [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]],
    }
"""


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def wait_for(check, what: str):
    """check()'s first truthy value, polled until WAIT_SECONDS have passed."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def moto_configured_for_the_sandbox(sandbox):
    """moto's switches are process-wide, and a test elsewhere that runs plain moto (before
    this file, in the same worker) may have turned Step Functions execution off again."""
    orchestration_services.configure_moto()


@pytest.fixture(name="clients", scope="module")
def fixture_clients(sandbox):
    iam = sandbox.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}],
    }
    if ROLE.split("/")[-1] not in [r["RoleName"] for r in iam.list_roles()["Roles"]]:
        iam.create_role(RoleName=ROLE.split("/")[-1], AssumeRolePolicyDocument=json.dumps(trust))
    return sandbox.client


@pytest.fixture(name="function")
def fixture_function(clients):
    """A Python function from a zip; returns its ARN."""
    name = unique("fn")
    answer = clients("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": HANDLER})},
        Timeout=2,
        Environment={"Variables": {"STAGE": "staging"}},
    )
    return answer["FunctionArn"]


@pytest.fixture(name="bucket")
def fixture_bucket(clients):
    name = unique("bucket")
    clients("s3").create_bucket(Bucket=name)
    return name


def state_machine(clients, definition: dict) -> str:
    return clients("stepfunctions").create_state_machine(
        name=unique("machine"), definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]


def finished(clients, execution_arn: str) -> dict:
    stepfunctions = clients("stepfunctions")

    def done():
        described = stepfunctions.describe_execution(executionArn=execution_arn)
        return described if described["status"] != "RUNNING" else None

    return wait_for(done, f"{execution_arn} to finish")


def history(clients, execution_arn: str) -> list[dict]:
    return clients("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]


# --- Step Functions ---------------------------------------------------------------------


@pytest.fixture(name="token_machine")
def fixture_token_machine(clients):
    """A state machine whose task waits for a token it publishes to SNS (delivered to an
    SQS queue); returns (machine ARN, function that receives the next token)."""
    sqs, sns = clients("sqs"), clients("sns")
    queue = sqs.create_queue(QueueName=unique("tokens"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic = sns.create_topic(Name=unique("tokens"))["TopicArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    machine = state_machine(
        clients,
        {
            "StartAt": "Approve",
            "States": {
                "Approve": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
                    "Parameters": {"TopicArn": topic, "Message": {"token.$": "$$.Task.Token"}},
                    "End": True,
                }
            },
        },
    )

    def next_token() -> str:
        def received():
            messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages")
            return json.loads(messages[0]["Body"])["token"] if messages else None

        return wait_for(received, "the task token")

    return machine, next_token


def test_send_task_success_resumes_the_waiting_execution(clients, token_machine):
    machine, next_token = token_machine
    execution = clients("stepfunctions").start_execution(stateMachineArn=machine, name="ok")
    clients("stepfunctions").send_task_success(taskToken=next_token(), output='{"approved": true}')
    described = finished(clients, execution["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"approved": True}


def test_send_task_failure_keeps_error_and_cause(clients, token_machine):
    machine, next_token = token_machine
    arn = clients("stepfunctions").start_execution(stateMachineArn=machine)["executionArn"]
    clients("stepfunctions").send_task_failure(
        taskToken=next_token(), error="Rejected", cause="the approver said no"
    )
    described = finished(clients, arn)
    assert (described["status"], described["error"], described["cause"]) == (
        "FAILED",
        "Rejected",
        "the approver said no",
    )
    events = {e["type"]: e for e in history(clients, arn)}
    assert events["TaskFailed"]["taskFailedEventDetails"]["cause"] == "the approver said no"
    assert events["ExecutionFailed"]["executionFailedEventDetails"] == {
        "error": "Rejected",
        "cause": "the approver said no",
    }


def test_stop_execution_aborts_an_execution_waiting_for_its_token(clients, token_machine):
    machine, next_token = token_machine
    arn = clients("stepfunctions").start_execution(stateMachineArn=machine)["executionArn"]
    next_token()  # it waits now
    stopped = clients("stepfunctions").stop_execution(
        executionArn=arn, error="Superseded", cause="a newer model arrived"
    )
    described = clients("stepfunctions").describe_execution(executionArn=arn)
    assert described["status"] == "ABORTED"
    assert (described["error"], described["cause"]) == ("Superseded", "a newer model arrived")
    assert described["stopDate"] == stopped["stopDate"]
    last = history(clients, arn)[-1]
    assert last["type"] == "ExecutionAborted"
    assert last["executionAbortedEventDetails"] == {
        "error": "Superseded",
        "cause": "a newer model arrived",
    }


def test_start_execution_without_a_name_gets_a_uuid(clients):
    machine = state_machine(
        clients, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    )
    first, second = (
        clients("stepfunctions").start_execution(stateMachineArn=machine)["executionArn"]
        for _ in range(2)
    )
    assert first != second
    for arn in (first, second):
        name = finished(clients, arn)["name"]
        assert str(uuid.UUID(name)) == name and arn.endswith(f":{name}")


def test_lambda_tasks_run_the_handler(clients, function):
    """Both ways a state machine calls Lambda: the lambda:invoke integration, and the
    function's ARN as Resource; a handler's exception reaches Catch with its errorType."""
    machine = state_machine(
        clients,
        {
            "StartAt": "Integration",
            "States": {
                "Integration": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": function, "Payload": {"step": 1}},
                    "ResultSelector": {"stage.$": "$.Payload.stage"},
                    "ResultPath": "$.integration",
                    "Next": "PlainArn",
                },
                "PlainArn": {
                    "Type": "Task",
                    "Resource": function,
                    "Parameters": {"step": 2},
                    "ResultSelector": {"event.$": "$.event"},
                    "ResultPath": "$.plain",
                    "Next": "Failing",
                },
                "Failing": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": function, "Payload": {"raise": "no model"}},
                    "Catch": [
                        {"ErrorEquals": ["ValueError"], "ResultPath": "$.caught", "Next": "Done"}
                    ],
                    "End": True,
                },
                "Done": {"Type": "Pass", "End": True},
            },
        },
    )
    arn = clients("stepfunctions").start_execution(stateMachineArn=machine, input="{}")[
        "executionArn"
    ]
    described = finished(clients, arn)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["integration"] == {"stage": "staging"}
    assert output["plain"] == {"event": {"step": 2}}
    assert output["caught"]["Error"] == "ValueError"
    assert json.loads(output["caught"]["Cause"])["errorMessage"] == "no model"


# --- Lambda -----------------------------------------------------------------------------


def invoke(clients, function: str, event: object, **extra) -> tuple[dict, object]:
    answer = clients("lambda").invoke(FunctionName=function, Payload=json.dumps(event), **extra)
    return answer, json.loads(answer["Payload"].read())


def test_invoke_returns_what_the_handler_returns(clients, function, bucket, sandbox):
    answer, result = invoke(clients, function, {"order": 7}, LogType="Tail")
    assert "FunctionError" not in answer
    assert result["event"] == {"order": 7}
    assert result["function_name"] == function.rsplit(":", 1)[1]
    assert result["arn"] == function and result["memory"] == "128"
    assert 0 < result["remaining_ms"] <= 2000
    assert result["stage"] == "staging"  # the function's own variables
    assert result["endpoint"] == sandbox.endpoint_url  # boto3 in a handler reaches the sandbox
    assert bucket in result["buckets"]
    log = base64.b64decode(answer["LogResult"]).decode()
    assert 'event: {"order": 7}' in log and "REPORT RequestId:" in log


def test_an_exception_is_an_unhandled_function_error(clients, function):
    answer, error = invoke(clients, function, {"raise": "threshold missing"})
    assert answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "threshold missing"
    assert any("app.py" in frame and "in handler" in frame for frame in error["stackTrace"])


def test_a_missing_module_is_an_import_error(clients):
    name = unique("fn")
    clients("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="nowhere.handler",
        Code={"ZipFile": zipped({"app.py": HANDLER})},
    )
    answer, error = invoke(clients, name, {})
    assert answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'nowhere'" in error["errorMessage"]


def test_a_handler_imports_its_zip_and_libraries_but_not_the_project(clients):
    """As on AWS: what the zip holds and the runtime's libraries (boto3), not the project's
    own packages that happen to be installed where the sandbox runs."""
    probe = (
        "import importlib.util\n"
        "def handler(event, context):\n"
        "    return {name: importlib.util.find_spec(name) is not None for name in event}\n"
    )
    name = unique("fn")
    clients("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="pkg.probe.handler",
        Code={"ZipFile": zipped({"pkg/__init__.py": "", "pkg/probe.py": probe})},
    )
    found = invoke(clients, name, ["pkg", "boto3", "orchestration", "modeldeploy", "sandbox"])[1]
    assert found == {
        "pkg": True,
        "boto3": True,
        "orchestration": False,
        "modeldeploy": False,
        "sandbox": False,
    }


def test_timeout_ends_the_function_and_everything_it_started(clients, function, tmp_path):
    pid_file = tmp_path / "child.pid"
    answer, error = invoke(clients, function, {"sleep": 30, "pid_file": str(pid_file)})
    assert answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in error["errorMessage"]
    child = int(pid_file.read_text())
    assert not running_process(child)  # the handler's own child went with it


def running_process(pid: int) -> bool:
    """Whether `pid` is a live process (a killed one may linger as a zombie until reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_stopping_the_sandbox_ends_a_running_function(home, tmp_path):
    """`down` while an asynchronous invocation runs: its process and what it started end."""
    assert sandbox_cli(home, "up").returncode == 0
    running = daemon.find_running(home)
    running.client("iam").create_role(RoleName=ROLE.split("/")[-1], AssumeRolePolicyDocument="{}")
    running.client("lambda").create_function(
        FunctionName="long",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": HANDLER})},
        Timeout=900,
    )
    pid_file = tmp_path / "child.pid"
    running.client("lambda").invoke(
        FunctionName="long",
        InvocationType="Event",
        Payload=json.dumps({"sleep": 600, "pid_file": str(pid_file)}),
    )
    wait_for(lambda: pid_file.exists() and pid_file.read_text(), "the function to start")
    assert sandbox_cli(home, "down").returncode == 0
    assert not running_process(int(pid_file.read_text()))


def test_event_invocation_runs_in_the_background(clients, function, bucket):
    answer = clients("lambda").invoke(
        FunctionName=function, InvocationType="Event", Payload=json.dumps({"put": bucket})
    )
    assert answer["StatusCode"] == 202
    s3 = clients("s3")
    wait_for(lambda: s3.list_objects_v2(Bucket=bucket).get("KeyCount"), "the handler's object")


def test_a_failing_event_invocation_is_retried_then_dead_lettered(clients, tmp_path):
    sqs = clients("sqs")
    queue = sqs.create_queue(QueueName=unique("dead-letters"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    counting = (
        "def handler(event, context):\n"
        "    with open(event['tries'], 'a') as file:\n"
        "        file.write('x')\n"
        "    raise RuntimeError('model registry unreachable')\n"
    )
    name = unique("fn")
    clients("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": counting})},
        DeadLetterConfig={"TargetArn": queue_arn},
    )
    clients("lambda").put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    tries = tmp_path / "tries"
    event = {"tries": str(tries)}
    clients("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))

    def dead_letter():
        answer = sqs.receive_message(
            QueueUrl=queue, MessageAttributeNames=["All"], WaitTimeSeconds=1
        )
        return answer.get("Messages", [None])[0]

    message = wait_for(dead_letter, "the dead letter")
    assert json.loads(message["Body"]) == event
    attributes = message["MessageAttributes"]
    assert attributes["ErrorMessage"]["StringValue"] == "model registry unreachable"
    assert attributes["RequestID"]["StringValue"]
    assert tries.read_text() == "xx"  # the first try and MaximumRetryAttempts=1 more


def test_invocation_logs_reach_cloudwatch_logs(clients, function):
    invoke(clients, function, {"logged": True})
    logs, group = clients("logs"), f"/aws/lambda/{function.rsplit(':', 1)[1]}"
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]
    assert "/[$LATEST]" in stream
    lines = [
        e["message"]
        for e in logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
    ]
    assert lines[0].startswith("START RequestId:")
    assert 'event: {"logged": true}' in lines
    assert lines[-2].startswith("END RequestId:") and lines[-1].startswith("REPORT RequestId:")


def test_code_from_s3_runs(clients, bucket):
    clients("s3").put_object(Bucket=bucket, Key="code.zip", Body=zipped({"app.py": HANDLER}))
    name = unique("fn")
    clients("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"S3Bucket": bucket, "S3Key": "code.zip"},
    )
    assert invoke(clients, name, {"from": "s3"})[1]["event"] == {"from": "s3"}


@pytest.mark.parametrize("member", ["../escaped.py", "/absolute.py", "a/../../escaped.py"])
def test_a_zip_member_escaping_the_code_folder_is_refused(tmp_path, member):
    target = tmp_path / "code"
    target.mkdir()
    with pytest.raises(UnsafeZipError, match="refusing zip member"):
        safe_unzip(zipped({"app.py": "", member: "x = 1"}), target, "f")
    assert not list(tmp_path.rglob("*.py"))  # nothing written, not even the safe member


def test_a_function_with_an_escaping_zip_answers_an_error(clients):
    name = unique("fn")
    clients("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": HANDLER, "../../evil.py": "x = 1"})},
    )
    answer, error = invoke(clients, name, {})
    assert answer["FunctionError"] == "Unhandled"
    assert "'../../evil.py'" in error["errorMessage"]


def test_functions_and_executions_across_a_restart(home):
    """A function still runs after `down` and `up` (moto's Lambda models hold a weak-value
    index and a lambda-made defaultdict, which the snapshot must carry); an execution that
    was running when the sandbox stopped ends FAILED, saying why, instead of running
    forever with no interpreter behind it."""
    assert sandbox_cli(home, "up").returncode == 0
    running = daemon.find_running(home)
    running.client("iam").create_role(RoleName=ROLE.split("/")[-1], AssumeRolePolicyDocument="{}")
    running.client("lambda").create_function(
        FunctionName="kept",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": "def handler(event, context):\n    return event\n"})},
    )
    stepfunctions = running.client("stepfunctions")
    waiting = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    machine = stepfunctions.create_state_machine(
        name="waits", definition=json.dumps(waiting), roleArn=ROLE
    )["stateMachineArn"]
    execution = stepfunctions.start_execution(stateMachineArn=machine)["executionArn"]
    assert sandbox_cli(home, "down").returncode == 0
    assert sandbox_cli(home, "up").returncode == 0

    running = daemon.find_running(home)
    answer = running.client("lambda").invoke(FunctionName="kept", Payload=b'{"again": 1}')
    assert json.loads(answer["Payload"].read()) == {"again": 1}
    described = running.client("stepfunctions").describe_execution(executionArn=execution)
    assert (described["status"], described["error"]) == ("FAILED", "Sandbox.Interrupted")
    assert "the sandbox stopped" in described["cause"]


# --- EventBridge ------------------------------------------------------------------------


@pytest.fixture(name="pipeline")
def fixture_pipeline(clients):
    """A pipeline with one parameter and no steps; returns its ARN."""
    definition = {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Threshold", "Type": "Float", "DefaultValue": 0.5}],
        "Steps": [],
    }
    return clients("sagemaker").create_pipeline(
        PipelineName=unique("pipeline"), PipelineDefinition=json.dumps(definition), RoleArn=ROLE
    )["PipelineArn"]


def pipeline_executions(clients, pipeline: str) -> list[dict]:
    return clients("sagemaker").list_pipeline_executions(PipelineName=pipeline.split("/")[-1])[
        "PipelineExecutionSummaries"
    ]


def parameters_of(clients, execution_arn: str) -> dict[str, str]:
    listed = clients("sagemaker").list_pipeline_parameters_for_execution(
        PipelineExecutionArn=execution_arn
    )["PipelineParameters"]
    return {p["Name"]: p["Value"] for p in listed}


def executions_of(clients, machine: str) -> list[dict]:
    return clients("stepfunctions").list_executions(stateMachineArn=machine)["executions"]


def input_of(clients, execution: dict) -> dict:
    described = clients("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    return json.loads(described["input"])


PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def test_a_matching_event_reaches_lambda_state_machine_and_pipeline_targets(
    clients, function, pipeline, bucket
):
    events, source = clients("events"), unique("app")
    plain, transformed, constant = (state_machine(clients, PASS) for _ in range(3))
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(
        Rule=rule,
        Targets=[
            {"Id": "function", "Arn": function, "InputPath": "$.detail"},
            {"Id": "plain", "Arn": plain},
            {
                "Id": "transformed",
                "Arn": transformed,
                "InputTransformer": {
                    "InputPathsMap": {"model": "$.detail.model", "n": "$.detail.n"},
                    "InputTemplate": '{"model": <model>, "text": "model <model>", "n": <n>}',
                },
            },
            {"Id": "constant", "Arn": constant, "Input": '{"fixed": 1}'},
            {
                "Id": "pipeline",
                "Arn": pipeline,
                "SageMakerPipelineParameters": {
                    "PipelineParameterList": [{"Name": "Threshold", "Value": "0.9"}]
                },
            },
        ],
    )
    detail = {"model": "churn-v2", "n": 3, "put": bucket}
    answer = events.put_events(
        Entries=[{"Source": source, "DetailType": "Retrain", "Detail": json.dumps(detail)}]
    )
    assert answer["FailedEntryCount"] == 0

    event = input_of(clients, wait_for(lambda: executions_of(clients, plain), "plain")[0])
    assert (event["source"], event["detail-type"], event["detail"]) == (source, "Retrain", detail)
    assert event["id"] == answer["Entries"][0]["EventId"] and event["time"].endswith("Z")
    shaped = input_of(clients, wait_for(lambda: executions_of(clients, transformed), "shaped")[0])
    assert shaped == {"model": "churn-v2", "text": "model churn-v2", "n": 3}
    fixed = input_of(clients, wait_for(lambda: executions_of(clients, constant), "constant")[0])
    assert fixed == {"fixed": 1}
    started = wait_for(lambda: pipeline_executions(clients, pipeline), "the pipeline execution")
    assert parameters_of(clients, started[0]["PipelineExecutionArn"]) == {"Threshold": "0.9"}
    s3 = clients("s3")  # the function got $.detail, and put an object where it said
    wait_for(lambda: s3.list_objects_v2(Bucket=bucket).get("KeyCount"), "the function's object")


def test_a_disabled_rule_or_an_event_that_does_not_match_delivers_nothing(clients):
    events, source = clients("events"), unique("app")
    machine, control = state_machine(clients, PASS), state_machine(clients, PASS)
    rules = {
        unique("disabled"): ({"source": [source]}, machine),
        unique("other"): ({"source": ["another.app"]}, machine),
        unique("control"): ({"source": [source]}, control),  # delivered: so were the others
    }
    for rule, (pattern, target) in rules.items():
        events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=rule, Targets=[{"Id": "m", "Arn": target}])
    events.disable_rule(Name=next(iter(rules)))
    events.put_events(Entries=[{"Source": source, "DetailType": "d", "Detail": "{}"}])
    wait_for(lambda: executions_of(clients, control), "the control rule's delivery")
    assert executions_of(clients, machine) == []


def test_an_object_created_in_a_bucket_with_eventbridge_on_reaches_a_rule(clients, bucket):
    s3, events = clients("s3"), clients("events")
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    machine = state_machine(clients, PASS)
    rule = unique("uploads")
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": "data/"}]}},
    }
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "m", "Arn": machine}])
    s3.put_object(Bucket=bucket, Key="other/ignored.csv", Body=b"a")
    s3.put_object(Bucket=bucket, Key="data/churn.csv", Body=b"a,b")
    event = input_of(clients, wait_for(lambda: executions_of(clients, machine), "the event")[0])
    assert (event["source"], event["detail-type"]) == ("aws.s3", "Object Created")
    assert event["detail"]["bucket"]["name"] == bucket
    assert event["detail"]["object"]["key"] == "data/churn.csv"
    assert len(executions_of(clients, machine)) == 1  # the other prefix did not match


# --- EventBridge Scheduler --------------------------------------------------------------


def schedule(clients, target: dict) -> str:
    name = unique("schedule")
    clients("scheduler").create_schedule(
        Name=name,
        ScheduleExpression="cron(0 3 ? * MON *)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"RoleArn": ROLE, **target},
    )
    return name


def test_fire_schedule_starts_the_pipeline_target_with_its_parameters(home):
    assert sandbox_cli(home, "up").returncode == 0
    running = daemon.find_running(home)
    pipeline = "weekly-retrain"
    definition = {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Threshold", "Type": "Float", "DefaultValue": 0.5}],
        "Steps": [],
    }
    sagemaker = running.client("sagemaker")
    sagemaker.create_pipeline(
        PipelineName=pipeline, PipelineDefinition=json.dumps(definition), RoleArn=ROLE
    )
    running.client("scheduler").create_schedule(
        Name="weekly",
        ScheduleExpression="cron(0 3 ? * MON *)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT_ID}:pipeline/{pipeline}",
            "RoleArn": ROLE,
            "SageMakerPipelineParameters": {
                "PipelineParameterList": [{"Name": "Threshold", "Value": "0.8"}]
            },
        },
    )
    fired = sandbox_cli(home, "fire-schedule", "weekly")
    assert fired.returncode == 0, fired.stderr
    [execution] = sagemaker.list_pipeline_executions(PipelineName=pipeline)[
        "PipelineExecutionSummaries"
    ]
    assert execution["PipelineExecutionArn"] in fired.stdout
    listed = sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )["PipelineParameters"]
    assert listed == [{"Name": "Threshold", "Value": "0.8"}]

    missing = sandbox_cli(home, "fire-schedule", "nightly", "--group", "ops")
    assert missing.returncode == 1
    assert missing.stderr.startswith("sandbox fire-schedule: schedule 'nightly' (group 'ops')")
    assert len(missing.stderr.strip().splitlines()) == 1


def test_a_universal_target_makes_its_api_call_with_the_input(clients, pipeline):
    name = schedule(
        clients,
        {
            "Arn": "arn:aws:scheduler:::aws-sdk:sagemaker:startPipelineExecution",
            "Input": json.dumps(
                {
                    "PipelineName": pipeline.split("/")[-1],
                    "PipelineParameters": [{"Name": "Threshold", "Value": "0.7"}],
                    "PipelineExecutionDescription": "fired by <aws.scheduler.schedule-arn>",
                }
            ),
        },
    )
    started = fire(clients, name)
    [execution] = pipeline_executions(clients, pipeline)
    assert started == execution["PipelineExecutionArn"]
    assert parameters_of(clients, started) == {"Threshold": "0.7"}
    described = clients("sagemaker").describe_pipeline_execution(PipelineExecutionArn=started)
    assert described["PipelineExecutionDescription"].endswith(f":schedule/default/{name}")


def test_templated_lambda_and_state_machine_targets_get_the_input(clients, function, bucket):
    machine = state_machine(clients, PASS)
    to_machine = schedule(
        clients, {"Arn": machine, "Input": '{"run": "<aws.scheduler.execution-id>"}'}
    )
    to_function = schedule(clients, {"Arn": function, "Input": json.dumps({"put": bucket})})
    assert fire(clients, to_machine).startswith(
        f"{machine.replace(':stateMachine:', ':execution:')}:"
    )
    assert uuid.UUID(input_of(clients, executions_of(clients, machine)[0])["run"])
    assert fire(clients, to_function).startswith(function)
    s3 = clients("s3")
    wait_for(lambda: s3.list_objects_v2(Bucket=bucket).get("KeyCount"), "the function's object")


def test_a_disabled_schedule_does_not_fire(clients):
    machine = state_machine(clients, PASS)
    name = schedule(clients, {"Arn": machine})
    target = {"Arn": machine, "RoleArn": ROLE}
    clients("scheduler").update_schedule(
        Name=name,
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
        State="DISABLED",
    )
    from sandbox.schedules import ScheduleError

    with pytest.raises(ScheduleError, match="is DISABLED"):
        fire(clients, name)
    assert executions_of(clients, machine) == []


# --- each patch's check of moto's internals (run by test_moto_patches.py) ---------------


def _break_task_failure_cause(monkeypatch):
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    monkeypatch.setattr(
        StepFunctionsParserBackend, "send_task_failure", lambda self, task_token, error: None
    )
    return "no longer takes cause"


def _break_stop_waiting_execution(monkeypatch):
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

    monkeypatch.delattr(CallbackEndpoint, "interrupt_all")
    return "CallbackEndpoint.interrupt_all does not exist"


def _break_execution_name(monkeypatch):
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    monkeypatch.setattr(StepFunctionsParserBackend, "start_execution", lambda self, arn: None)
    return "no longer takes state_machine_arn, name"


def _break_lambda_invoke(monkeypatch):
    from moto.awslambda_simple.models import LambdaSimpleBackend

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", lambda self, function_name: None)
    return "no longer takes qualifier, body, headers, response_headers"


def _break_event_targets(monkeypatch):
    from moto.events.models import Rule

    monkeypatch.setattr(Rule, "send_to_targets", lambda self, event: None)
    return "no longer takes original_event, transform_input"


BREAKS = {
    "task_failure_cause": _break_task_failure_cause,
    "stop_waiting_execution": _break_stop_waiting_execution,
    "execution_name": _break_execution_name,
    "lambda_invoke": _break_lambda_invoke,
    "event_targets": _break_event_targets,
}
