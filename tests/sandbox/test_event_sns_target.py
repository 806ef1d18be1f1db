"""An EventBridge rule with an SNS topic among its targets (terraform's approval rule: the
deploy Lambda and the deployments topic): the topic gets the event published, and the
rule's other targets still get it (moto alone raised NotImplementedError for the topic, and
the Lambda beside it was never invoked). Patch: sandbox/moto_patches/event_targets.py."""

from __future__ import annotations

import io
import json
import time
import zipfile

ECHO = "def handler(event, context):\n    print('GOT', event['detail']['n'])\n"


def _echo_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("echo.py", ECHO)
    return buffer.getvalue()


def test_a_rule_publishes_to_its_topic_and_still_invokes_its_lambda(sandbox):
    events, sns, sqs = sandbox.client("events"), sandbox.client("sns"), sandbox.client("sqs")
    lam, logs = sandbox.client("lambda"), sandbox.client("logs")
    topic = sns.create_topic(Name="rule-topic-target")["TopicArn"]
    queue = sqs.create_queue(QueueName="rule-topic-subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    role = sandbox.client("iam").create_role(
        RoleName="rule-topic-target", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    function = lam.create_function(
        FunctionName="rule-topic-echo",
        Runtime="python3.12",
        Role=role,
        Handler="echo.handler",
        Code={"ZipFile": _echo_zip()},
    )["FunctionArn"]
    events.put_rule(Name="rule-topic-target", EventPattern=json.dumps({"source": ["test.sns"]}))
    events.put_targets(
        Rule="rule-topic-target",
        Targets=[{"Id": "topic", "Arn": topic}, {"Id": "echo", "Arn": function}],
    )

    answer = events.put_events(
        Entries=[{"Source": "test.sns", "DetailType": "t", "Detail": json.dumps({"n": 7})}]
    )
    assert answer["FailedEntryCount"] == 0

    deadline, published, logged = time.monotonic() + 30, None, []
    while time.monotonic() < deadline and not (published and "GOT 7" in logged):
        for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []):
            published = json.loads(json.loads(message["Body"])["Message"])
        groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/rule-topic-echo")
        if groups["logGroups"]:
            found = logs.filter_log_events(logGroupName="/aws/lambda/rule-topic-echo")["events"]
            logged = [e["message"].strip() for e in found]
    assert published is not None and published["detail"] == {"n": 7}
    assert published["source"] == "test.sns"
    assert "GOT 7" in logged
