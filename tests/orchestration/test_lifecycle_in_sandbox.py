"""The state machine, end to end in the sandbox: Step Functions runs the real definition,
its Lambdas run the real handlers (this folder zipped, as CloudFormation packages it), the
SageMaker pipeline really runs, and `approve`/`reject` answer by task token. Every path
ends where it should, and only an approval reaches Deploy.

The deploy function is a stand-in that hands its event back (the real one,
modeldeploy/approval_lambda.py, needs the deploy stacks): what Deploy was given is checked,
not what an endpoint then serves.
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from pathlib import Path

import pytest

from orchestration.approval_cli import approve_main, reject_main
from pipelines.churn.generate_data import write_churn_csv
from sandbox.constants import DEFAULT_BUCKET, PIPELINE_ROLE_ARN, REGION

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = "churn-lifecycle"
DATA_KEY = f"{PIPELINE}/data/churn.csv"
DEPLOY_STAND_IN = "def handler(event, context):\n    return {'deployed': event['detail']}\n"


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def orchestration_code() -> bytes:
    """orchestration/ zipped as `aws cloudformation package` zips it."""
    folder = ROOT / "orchestration"
    return _zip(
        {
            str(path.relative_to(folder)): path.read_bytes()
            for path in folder.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }
    )


class Lifecycle:
    """The deployed lifecycle: pipeline, functions, topic (with an SQS subscriber), and
    state machines made from the one ASL file."""

    def __init__(self, sandbox, tmp: Path):
        self.sandbox = sandbox
        self.sfn = sandbox.client("stepfunctions")
        self.sagemaker = sandbox.client("sagemaker")
        self.s3, self.sqs = sandbox.client("s3"), sandbox.client("sqs")
        buckets = [b["Name"] for b in self.s3.list_buckets()["Buckets"]]
        if DEFAULT_BUCKET not in buckets:
            self.s3.create_bucket(Bucket=DEFAULT_BUCKET)
        self.data = tmp / "churn.csv"
        write_churn_csv(self.data, rows=3_000, seed=3)
        self.s3.upload_file(str(self.data), DEFAULT_BUCKET, DATA_KEY)
        from pipelines.churn.pipeline import get_pipeline

        get_pipeline(
            region=REGION,
            role=PIPELINE_ROLE_ARN,
            default_bucket=DEFAULT_BUCKET,
            pipeline_name=PIPELINE,
            model_package_group_name=PIPELINE,
            base_job_prefix=PIPELINE,
        ).upsert(role_arn=PIPELINE_ROLE_ARN)
        sns = sandbox.client("sns")
        self.topic = sns.create_topic(Name=f"{PIPELINE}-topic")["TopicArn"]
        self.queue = self.sqs.create_queue(QueueName=f"{PIPELINE}-operators")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=self.topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
        )
        iam = sandbox.client("iam")
        role = iam.create_role(RoleName=f"{PIPELINE}-role", AssumeRolePolicyDocument="{}")
        self.role = role["Role"]["Arn"]
        code, deploy = orchestration_code(), _zip({"deploy.py": DEPLOY_STAND_IN.encode()})
        self.functions = {
            name: sandbox.client("lambda").create_function(
                FunctionName=f"{PIPELINE}-{name}",
                Runtime="python3.12",
                Role=self.role,
                Handler=handler,
                Code={"ZipFile": zipped},
                Timeout=120,
            )["FunctionArn"]
            for name, handler, zipped in (
                ("ValidateData", "lambdas.validate_data.handler", code),
                ("ChampionGate", "lambdas.champion_gate.handler", code),
                ("ApprovalMessage", "lambdas.approval_message.handler", code),
                ("Deploy", "deploy.handler", deploy),
            )
        }

    def machine(self, name: str, tolerance: str = "0.02", approval_timeout: int = 86400) -> str:
        values = {
            **{f"{n}FunctionArn": arn for n, arn in self.functions.items()},
            "NotificationTopicArn": self.topic,
            "PipelineName": PIPELINE,
            "ModelPackageGroupName": PIPELINE,
            "DataContract": "churn-v1",
            "ChampionTolerance": tolerance,
            "PipelinePollSeconds": "1",
        }
        definition = json.loads(
            re.sub(
                r"\$\{(\w+)\}",
                lambda m: values[m.group(1)],
                ROOT.joinpath("orchestration", "state_machine.asl.json").read_text(),
            )
        )
        definition["States"]["RequestApproval"]["TimeoutSeconds"] = approval_timeout
        return self.sfn.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=self.role
        )["stateMachineArn"]

    def start(self, machine: str, name: str, key: str = DATA_KEY) -> str:
        run_input = {"InputDataUri": f"s3://{DEFAULT_BUCKET}/{key}"}
        return self.sfn.start_execution(
            stateMachineArn=machine, name=name, input=json.dumps(run_input)
        )["executionArn"]

    def events(self, arn: str) -> list[dict]:
        pages = self.sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        return [event for page in pages for event in page["events"]]

    def path(self, arn: str) -> list[str]:
        """The states entered, polling collapsed."""
        names = [
            e["stateEnteredEventDetails"]["name"]
            for e in self.events(arn)
            if "stateEnteredEventDetails" in e
        ]
        return [n for i, n in enumerate(names) if n not in names[:i]]

    def wait(self, arn: str, for_approval: bool = False, timeout: float = 240) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            execution = self.sfn.describe_execution(executionArn=arn)
            if execution["status"] != "RUNNING":
                return execution
            if for_approval and any(
                e["type"] == "TaskSubmitted"
                and e["taskSubmittedEventDetails"]["resource"] == "publish.waitForTaskToken"
                for e in self.events(arn)
            ):
                return execution
            time.sleep(0.3)
        raise TimeoutError(f"{arn} still running: {self.path(arn)}")

    def messages(self) -> list[str]:
        found = []
        while batch := self.sqs.receive_message(
            QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages"):
            for message in batch:
                found.append(json.loads(message["Body"])["Message"])
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        return found

    def packages(self) -> dict[int, str]:
        summaries = self.sagemaker.list_model_packages(ModelPackageGroupName=PIPELINE)
        return {
            p["ModelPackageVersion"]: p["ModelApprovalStatus"]
            for p in summaries["ModelPackageSummaryList"]
        }

    def pipeline_runs(self) -> int:
        runs = self.sagemaker.list_pipeline_executions(PipelineName=PIPELINE)
        return len(runs["PipelineExecutionSummaries"])

    def deploy_input(self, arn: str) -> dict | None:
        for event in self.events(arn):
            details = event.get("taskScheduledEventDetails", {})
            parameters = json.loads(details.get("parameters", "{}"))
            if parameters.get("FunctionName") == self.functions["Deploy"]:
                return parameters["Payload"]
        return None


@pytest.fixture(name="lifecycle", scope="module")
def fixture_lifecycle(sandbox, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in sandbox.environment.items():
            patch.setenv(name, value)
        lifecycle = Lifecycle(sandbox, tmp_path_factory.mktemp("lifecycle"))
        lifecycle.main = lifecycle.machine(f"{PIPELINE}-main")
        yield lifecycle


@pytest.fixture(name="aws_at_sandbox")
def fixture_aws_at_sandbox(sandbox, monkeypatch):
    """approve/reject find AWS the standard way: point it at the sandbox."""
    for name, value in sandbox.environment.items():
        monkeypatch.setenv(name, value)


def test_invalid_data_stops_before_training_naming_column_and_rule(lifecycle):
    text = lifecycle.data.read_text().splitlines(keepends=True)
    header = text[0].split(",")
    rows = [line.split(",") for line in text[1:]]
    rows[0][header.index("age")] = "150"
    bad_key = f"{PIPELINE}/bad/churn.csv"
    body = text[0] + "".join(",".join(r) for r in rows)
    lifecycle.s3.put_object(Bucket=DEFAULT_BUCKET, Key=bad_key, Body=body.encode())
    runs = lifecycle.pipeline_runs()
    arn = lifecycle.start(lifecycle.main, "bad-data", key=bad_key)
    execution = lifecycle.wait(arn)
    assert (execution["status"], execution["error"]) == ("FAILED", "DataValidationFailed")
    assert lifecycle.path(arn) == ["Configure", "ValidateData", "NotifyDataInvalid", "DataInvalid"]
    assert lifecycle.pipeline_runs() == runs  # nothing trained
    [message] = lifecycle.messages()
    assert "column 'age': maximum: 1 value(s) above 120, first '150'" in message


def test_reject_stops_before_deploy_and_marks_the_package_rejected(lifecycle, aws_at_sandbox):
    arn = lifecycle.start(lifecycle.main, "rejected")
    lifecycle.wait(arn, for_approval=True)
    [request] = lifecycle.messages()
    assert "Champion : none yet" in request and f"--execution-arn {arn}" in request
    assert reject_main(["--execution-arn", arn, "--reason", "not this one", "--by", "ana"]) == 0
    execution = lifecycle.wait(arn)
    assert (execution["status"], execution["error"]) == ("FAILED", "ApprovalRejected")
    assert lifecycle.path(arn)[-3:] == [
        "RequestApproval",
        "NotifyApprovalRejected",
        "ApprovalRejected",
    ]
    assert lifecycle.deploy_input(arn) is None
    assert lifecycle.packages() == {1: "Rejected"}
    [notice] = lifecycle.messages()
    assert "not this one (by ana)" in notice


def test_timeout_stops_before_deploy_and_leaves_the_package_pending(lifecycle):
    impatient = lifecycle.machine(f"{PIPELINE}-impatient", approval_timeout=2)
    arn = lifecycle.start(impatient, "unanswered")
    execution = lifecycle.wait(arn)
    assert (execution["status"], execution["error"]) == ("FAILED", "ApprovalTimedOut")
    assert lifecycle.path(arn)[-3:] == [
        "RequestApproval",
        "NotifyApprovalTimedOut",
        "ApprovalFailed",
    ]
    assert lifecycle.deploy_input(arn) is None
    assert lifecycle.packages()[2] == "PendingManualApproval"
    lifecycle.messages()


def test_approve_deploys_the_approved_package(lifecycle, aws_at_sandbox):
    arn = lifecycle.start(lifecycle.main, "approved")
    lifecycle.wait(arn, for_approval=True)
    assert approve_main(["--state-machine-arn", lifecycle.main, "--reason", "good"]) == 0
    execution = lifecycle.wait(arn)
    assert execution["status"] == "SUCCEEDED"
    assert lifecycle.path(arn)[-3:] == ["RequestApproval", "Deploy", "Deployed"]
    package = json.loads(execution["output"])["gate"]["verdict"]["candidate"]["model_package_arn"]
    assert lifecycle.deploy_input(arn)["detail"] == {
        "ModelPackageGroupName": PIPELINE,
        "ModelPackageArn": package,
        "ModelApprovalStatus": "Approved",
    }
    assert lifecycle.packages()[3] == "Approved" and package.endswith("/3")
    lifecycle.messages()


def _approve_a_better_champion(lifecycle, auc: float) -> None:
    key = f"{PIPELINE}/champion-{auc}/evaluation.json"
    report = {"binary_classification_metrics": {"auc": {"value": auc}}}
    lifecycle.s3.put_object(Bucket=DEFAULT_BUCKET, Key=key, Body=json.dumps(report))
    lifecycle.sagemaker.create_model_package(
        ModelPackageGroupName=PIPELINE,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "image", "ModelDataUrl": f"s3://{DEFAULT_BUCKET}/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": f"s3://{DEFAULT_BUCKET}/{key}",
                }
            }
        },
    )


def test_champion_regression_in_the_state_machine_is_not_sent_for_approval(lifecycle):
    """The pipeline's tolerance (0.02) lets the model through; this deployment's (0) does not."""
    approved = json.loads(
        lifecycle.sfn.describe_execution(
            executionArn=lifecycle.main.replace(":stateMachine:", ":execution:") + ":approved"
        )["output"]
    )
    candidate = approved["gate"]["verdict"]["candidate"]["value"]
    _approve_a_better_champion(lifecycle, round(candidate + 0.01, 6))
    strict = lifecycle.machine(f"{PIPELINE}-strict", tolerance="0")
    before = lifecycle.packages()
    arn = lifecycle.start(strict, "regression")
    execution = lifecycle.wait(arn)
    assert (execution["status"], execution["error"]) == ("FAILED", "ChampionRegression")
    assert lifecycle.path(arn)[-4:] == [
        "ChampionGate",
        "ChampionVerdict",
        "NotifyChampionRegression",
        "ChampionRegression",
    ]
    assert "RequestApproval" not in lifecycle.path(arn)
    registered = max(lifecycle.packages())
    assert registered not in before and lifecycle.packages()[registered] == "PendingManualApproval"
    [notice] = lifecycle.messages()
    assert '"passed":false' in notice.replace(" ", "")


def test_pipeline_gate_failure_ends_at_pipeline_failed(lifecycle):
    _approve_a_better_champion(lifecycle, 0.999)
    before = lifecycle.packages()
    arn = lifecycle.start(lifecycle.main, "pipeline-gate")
    execution = lifecycle.wait(arn)
    assert (execution["status"], execution["error"]) == ("FAILED", "PipelineFailed")
    assert lifecycle.path(arn)[-2:] == ["NotifyPipelineFailed", "PipelineFailed"]
    assert lifecycle.packages() == before  # the pipeline's FailChampion registered nothing
    [notice] = lifecycle.messages()
    assert "ended Failed" in notice
