"""codepipeline/orchestration.yml's resources on the sandbox, made through their APIs.

moto's CloudFormation cannot take that template as it is (`aws cloudformation package`
rewrites its local paths; moto has no DefinitionS3Location/DefinitionSubstitutions), so
the demo and the tests create what it declares with the same pieces: the Lambdas from
orchestration/ zipped by `orchestration.package_lambda` (as `package` zips the folder),
the state machine from the one ASL file with the template's DefinitionSubstitutions, the
notification topic (with an SQS queue subscribed, standing for the operators' e-mail) and
the drift-retraining rule with the EventPattern and InputTransformer read from the
template (sandbox/demo/template.py), targeting the state machine.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.package_lambda import build_zip
from sandbox.demo.template import Template

REPO = Path(__file__).resolve().parents[2]
ASL = REPO / "orchestration" / "state_machine.asl.json"
TEMPLATE = REPO / "codepipeline" / "orchestration.yml"
DRIFT_RULE = "DriftRetrainingRule"
FUNCTIONS = {
    "ValidateData": "lambdas.validate_data.handler",
    "ChampionGate": "lambdas.champion_gate.handler",
    "ApprovalMessage": "lambdas.approval_message.handler",
}


@dataclass
class Orchestration:
    """The deployed pieces' names and ARNs."""

    project: str
    state_machine: str = ""
    topic: str = ""
    queue_url: str = ""
    functions: dict[str, str] = field(default_factory=dict)
    rule: str = ""


def _role(iam, name: str, service: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]


def _function(lambda_client, name: str, handler: str, code: bytes, role: str, env: dict) -> str:
    with contextlib.suppress(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.delete_function(FunctionName=name)  # a re-run deploys today's code
    return lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler=handler,
        Code={"ZipFile": code},
        Timeout=300,
        Environment={"Variables": env},
    )["FunctionArn"]


def definition(values: dict[str, str]) -> str:
    """The ASL file with its placeholders filled, as DefinitionSubstitutions fills them."""
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], ASL.read_text())


def deploy(
    client,
    project: str,
    deploy_function_arn: str,
    bucket: str,
    poll_seconds: str = "2",
    tolerance: str = "0.01",
    approval_timeout: int | None = None,
) -> Orchestration:
    """Create (or replace) the stack's resources for `project`; `client(service)` gives
    sandbox clients. `approval_timeout` shortens RequestApproval's 24 h (tests)."""
    deployed = Orchestration(project)
    iam, lambda_client = client("iam"), client("lambda")
    function_role = _role(iam, f"{project}-orchestration-functions", "lambda.amazonaws.com")
    with tempfile.TemporaryDirectory() as folder:
        code = build_zip(Path(folder) / "orchestration.zip").read_bytes()
    for name, handler in FUNCTIONS.items():
        deployed.functions[name] = _function(
            lambda_client, f"{project}-{name}", handler, code, function_role, {}
        )
    sns, sqs = client("sns"), client("sqs")
    deployed.topic = sns.create_topic(Name=f"{project}-model-lifecycle")["TopicArn"]
    deployed.queue_url = sqs.create_queue(QueueName=f"{project}-operators")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=deployed.queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(
        TopicArn=deployed.topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
    )
    values = {
        **{f"{n}FunctionArn": arn for n, arn in deployed.functions.items()},
        "DeployFunctionArn": deploy_function_arn,
        "NotificationTopicArn": deployed.topic,
        "PipelineName": project,
        "ModelPackageGroupName": project,
        "DataContract": "churn-v1",
        "ChampionTolerance": tolerance,
        "PipelinePollSeconds": poll_seconds,
    }
    body = json.loads(definition(values))
    if approval_timeout is not None:
        body["States"]["RequestApproval"]["TimeoutSeconds"] = approval_timeout
    sfn = client("stepfunctions")
    machine_role = _role(iam, f"{project}-state-machine", "states.amazonaws.com")
    name = f"{project}-model-lifecycle"
    existing = [
        m["stateMachineArn"]
        for page in sfn.get_paginator("list_state_machines").paginate()
        for m in page["stateMachines"]
        if m["name"] == name
    ]
    if existing:
        sfn.update_state_machine(stateMachineArn=existing[0], definition=json.dumps(body))
        deployed.state_machine = existing[0]
    else:
        deployed.state_machine = sfn.create_state_machine(
            name=name, definition=json.dumps(body), roleArn=machine_role
        )["stateMachineArn"]
    deployed.rule = _drift_rule(client, project, bucket, deployed.state_machine)
    return deployed


def _drift_rule(client, project: str, bucket: str, state_machine: str) -> str:
    """The template's DriftRetrainingRule, targeting the deployed state machine."""
    template = Template(TEMPLATE, {"SageMakerProjectName": project}, lambda _: bucket)
    rule = template.resource(DRIFT_RULE)["Properties"]
    [target] = rule["Targets"]
    events = client("events")
    name = template.resolve(rule["Name"])
    events.put_rule(
        Name=name,
        EventPattern=json.dumps(template.resolve(rule["EventPattern"])),
        State=template.resolve(rule["State"]),
        Description=rule["Description"],
    )
    role = _role(client("iam"), f"{project}-drift-rule", "events.amazonaws.com")
    events.put_targets(
        Rule=name,
        Targets=[
            {
                "Id": target["Id"],
                "Arn": state_machine,
                "RoleArn": role,
                "InputTransformer": template.resolve(target["InputTransformer"]),
            }
        ],
    )
    return name


def executions(sfn, state_machine: str) -> list[dict]:
    """The state machine's executions, oldest first."""
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine)
    found = [e for page in pages for e in page["executions"]]
    return sorted(found, key=lambda e: e["startDate"])


def path(sfn, execution_arn: str) -> list[str]:
    """The states the execution entered, in order, repeated polls collapsed."""
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    events = sorted((e for page in pages for e in page["events"]), key=lambda e: e["id"])
    names = [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]
    return [n for i, n in enumerate(names) if n not in names[:i]]


def wait(sfn, execution_arn: str, timeout: float = 600, for_approval: bool = False) -> dict:
    """The execution once it ends (or, `for_approval`, once it waits for the approval)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return execution
        if for_approval and "RequestApproval" in path(sfn, execution_arn):
            return execution
        time.sleep(0.5)
    raise TimeoutError(f"{execution_arn} still running after {timeout:.0f} s")
