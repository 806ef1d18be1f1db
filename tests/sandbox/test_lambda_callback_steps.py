"""LambdaStep and CallbackStep, written with SDK v3 as a user would: the Lambda function
created by the SDK's own `Lambda` helper runs for real in the sandbox's Lambda service, and
its output feeds the callback's arguments; the callback's token arrives on SQS and the
pipeline goes on when SendPipelineExecutionStepSuccess/Failure answers it."""

from __future__ import annotations

import json
import textwrap
import time
import uuid

from tests.sandbox.sdk_pipeline import pipeline_session, pointed_at, run

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _function_role(sandbox) -> str:
    """The function's execution role, as the user's account would have it."""
    iam = sandbox.client("iam")
    try:
        return iam.get_role(RoleName="pipeline-lambda-step")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(
            RoleName="pipeline-lambda-step", AssumeRolePolicyDocument=json.dumps(TRUST)
        )["Role"]["Arn"]


HANDLER = textwrap.dedent(
    """
    def handler(event, context):
        return {"doubled": event["x"] * 2, "who": context.function_name}
    """
)


def _pipeline(sandbox, tmp_path, queue_url: str, name: str):
    from sagemaker.core.lambda_helper import Lambda
    from sagemaker.core.workflow.conditions import ConditionEquals
    from sagemaker.mlops.workflow.callback_step import (
        CallbackOutput,
        CallbackOutputTypeEnum,
        CallbackStep,
    )
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.lambda_step import (
        LambdaOutput,
        LambdaOutputTypeEnum,
        LambdaStep,
    )
    from sagemaker.mlops.workflow.pipeline import Pipeline

    script = tmp_path / "double.py"
    script.write_text(HANDLER)
    session = pipeline_session()
    function = Lambda(
        function_name=f"{name}-double",
        execution_role_arn=_function_role(sandbox),
        script=str(script),
        handler="double.handler",
        session=session,
        runtime="python3.12",
    )
    doubled = LambdaOutput(output_name="doubled", output_type=LambdaOutputTypeEnum.Integer)
    who = LambdaOutput(output_name="who", output_type=LambdaOutputTypeEnum.String)
    double = LambdaStep(
        name="Double", lambda_func=function, inputs={"x": 21}, outputs=[doubled, who]
    )
    verdict = CallbackOutput(output_name="verdict", output_type=CallbackOutputTypeEnum.String)
    approve = CallbackStep(
        name="Approve",
        sqs_queue_url=queue_url,
        inputs={"value": doubled.expr(double.name)},
        outputs=[verdict],
    )
    gate = ConditionStep(
        name="Gate",
        conditions=[
            ConditionEquals(left=verdict.expr(approve.name), right="go"),
            ConditionEquals(left=doubled.expr(double.name), right=42),
        ],
        if_steps=[],
        else_steps=[FailStep(name="Refused", error_message="the callback said no")],
    )
    return Pipeline(name=name, steps=[double, approve, gate], sagemaker_session=session)


def _answer_callback(sandbox, queue_url: str, answer) -> dict:
    """Wait for the callback's message on the queue, then answer it with `answer(token)`."""
    sqs = sandbox.client("sqs")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            message = json.loads(messages[0]["Body"])
            answer(message["token"])
            return message
    raise TimeoutError("no callback message arrived")


def _start_and_answer(sandbox, tmp_path, answer) -> tuple[dict, dict, dict]:
    import threading

    sqs = sandbox.client("sqs")
    name = f"callback-{uuid.uuid4().hex[:6]}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    with pointed_at(sandbox):
        pipeline = _pipeline(sandbox, tmp_path, queue_url, name)
        received: dict = {}
        answering = threading.Thread(
            target=lambda: received.update(_answer_callback(sandbox, queue_url, answer))
        )
        answering.start()
        described, steps = run(pipeline, sandbox)
        answering.join()
    return described, steps, received


def test_lambda_output_feeds_the_callback_and_its_answer_the_condition(sandbox, tmp_path):
    sagemaker = sandbox.client("sagemaker")

    def succeed(token: str) -> None:
        sagemaker.send_pipeline_execution_step_success(
            CallbackToken=token, OutputParameters=[{"Name": "verdict", "Value": "go"}]
        )

    described, steps, message = _start_and_answer(sandbox, tmp_path, succeed)
    assert described["PipelineExecutionStatus"] == "Succeeded", described
    assert message["arguments"] == {"value": 42}
    assert message["pipelineExecutionArn"] == described["PipelineExecutionArn"]
    lambda_outputs = steps["Double"]["Metadata"]["Lambda"]["OutputParameters"]
    assert {o["Name"]: o["Value"] for o in lambda_outputs} == {
        "doubled": "42",
        "who": steps["Double"]["Metadata"]["Lambda"]["Arn"].rsplit(":", 1)[-1],
    }
    callback = steps["Approve"]["Metadata"]["Callback"]
    assert callback["CallbackToken"] == message["token"]
    assert callback["OutputParameters"] == [{"Name": "verdict", "Value": "go"}]
    assert steps["Gate"]["Metadata"]["Condition"]["Outcome"] == "True"


def test_a_callback_failure_fails_the_step_with_its_reason(sandbox, tmp_path):
    sagemaker = sandbox.client("sagemaker")

    def fail(token: str) -> None:
        sagemaker.send_pipeline_execution_step_failure(
            CallbackToken=token, FailureReason="rejected by the reviewer"
        )

    described, steps, _ = _start_and_answer(sandbox, tmp_path, fail)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert steps["Approve"]["StepStatus"] == "Failed"
    assert steps["Approve"]["FailureReason"] == "rejected by the reviewer"
    assert "Gate" not in steps


def test_an_unknown_callback_token_is_refused(sandbox):
    sagemaker = sandbox.client("sagemaker")
    try:
        sagemaker.send_pipeline_execution_step_success(CallbackToken="no-such-token")
    except sagemaker.exceptions.ClientError as err:
        assert "no-such-token" in str(err)
    else:
        raise AssertionError("an unknown token was accepted")
