"""The approval request a person reads: both metrics, the report, the two commands."""

from __future__ import annotations

import shlex

import pytest

from orchestration.lambdas.approval_message import handler, report_link

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:churn-model-lifecycle:run-7"
PIPELINE = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/churn/execution/abc"
CANDIDATE = {
    "model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3",
    "version": 3,
    "value": 0.9123,
    "metrics_uri": "s3://bucket/churn/abc/evaluation/evaluation.json",
}
CHAMPION = {**CANDIDATE, "version": 2, "value": 0.9001, "model_package_arn": "arn:.../churn/2"}


def gate(champion: dict | None) -> dict:
    return {
        "passed": True,
        "metric": "auc",
        "tolerance": 0.01,
        "minimum_to_pass": 0.8901 if champion else 0.0,
        "candidate": CANDIDATE,
        "champion": champion,
    }


def request(champion: dict | None = CHAMPION) -> dict:
    event = {"execution_arn": EXECUTION, "pipeline_execution_arn": PIPELINE, "gate": gate(champion)}
    return handler(event, None)


def test_message_carries_both_metrics_the_report_and_the_commands():
    message = request()["message"]
    assert "New model: auc 0.9123 (version 3," in message
    assert "Champion : auc 0.9001 (version 2," in message
    assert "Minimum to pass: 0.8901 (champion less tolerance 0.01)" in message
    assert CANDIDATE["metrics_uri"] in message
    assert report_link(CANDIDATE["metrics_uri"]) in message
    commands = [
        line.strip()
        for line in message.splitlines()
        if line.strip().startswith(("approve ", "reject "))
    ]
    assert [shlex.split(c)[:3] for c in commands] == [
        ["approve", "--execution-arn", EXECUTION],
        ["reject", "--execution-arn", EXECUTION],
    ]
    # The state machine appends the task token after the message.
    assert message.endswith("\n")


def test_first_model_says_there_is_no_champion():
    assert "Champion : none yet" in request(champion=None)["message"]


def test_subject_fits_sns():
    subject = request()["subject"]
    assert subject == "Approve model version 3? auc 0.9123" and len(subject) <= 100


def test_report_link_opens_the_evaluation_folder():
    assert report_link("s3://bucket/a b/evaluation/evaluation.json") == (
        "https://s3.console.aws.amazon.com/s3/buckets/bucket?prefix=a%20b/evaluation/"
    )


@pytest.mark.parametrize("missing", ["execution_arn", "pipeline_execution_arn", "gate"])
def test_missing_event_field_is_named(missing):
    event = {"execution_arn": EXECUTION, "pipeline_execution_arn": PIPELINE, "gate": gate(None)}
    del event[missing]
    with pytest.raises(ValueError, match=f"event field '{missing}' is missing"):
        handler(event, None)
