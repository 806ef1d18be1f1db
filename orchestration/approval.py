"""Answer the state machine's RequestApproval task: find the waiting execution and its task
token, record the decision in the model registry, then resume the execution.

The token is where Step Functions itself recorded it: the RequestApproval state's
TaskScheduled event, whose parameters are the SNS message as published, with the token in
the `TaskToken` message attribute and the package in `ModelPackageArn`. So the commands
need neither the e-mail nor a copy of the token, only the execution (or the state machine,
when exactly one execution waits).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

APPROVAL_RESOURCE = "publish.waitForTaskToken"
# A task that ended: once seen (newest first) before a waiting TaskScheduled, nothing waits.
TASK_ENDED = {"TaskSucceeded", "TaskFailed", "TaskTimedOut", "TaskStateExited", "TaskStateAborted"}
REJECTED_ERROR = "ModelRejected"  # the state machine's Catch matches this name
REASON_LIMIT = 1024  # UpdateModelPackage's ApprovalDescription


class ApprovalError(Exception):
    """Nothing is waiting for this answer, or the answer could not be given (exit 1)."""


class UsageError(ValueError):
    """A bad argument; the message names it (exit 2)."""


@dataclass(frozen=True)
class WaitingApproval:
    execution_arn: str
    task_token: str
    model_package_arn: str


def execution_arn_for(state_machine_arn: str, name: str) -> str:
    """The ARN of execution `name` of the state machine."""
    if ":stateMachine:" not in state_machine_arn:
        raise UsageError(f"--state-machine-arn is not a state machine ARN: {state_machine_arn!r}")
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def _history_newest_first(sfn, execution_arn: str) -> list[dict]:
    """The execution's events, newest first. Sorted here by event id: not every
    implementation honours GetExecutionHistory's reverseOrder (moto does not)."""
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    events = [event for page in pages for event in page["events"]]
    return sorted(events, key=lambda event: event["id"], reverse=True)


def waiting_approval(sfn, execution_arn: str) -> WaitingApproval | None:
    """The approval this execution waits for, or None when it waits for none."""
    if sfn.describe_execution(executionArn=execution_arn)["status"] != "RUNNING":
        return None
    for event in _history_newest_first(sfn, execution_arn):
        if event["type"] in TASK_ENDED:
            return None
        details = event.get("taskScheduledEventDetails", {})
        if event["type"] == "TaskScheduled" and details.get("resource") == APPROVAL_RESOURCE:
            attributes = json.loads(details["parameters"]).get("MessageAttributes", {})
            try:
                return WaitingApproval(
                    execution_arn,
                    attributes["TaskToken"]["StringValue"],
                    attributes["ModelPackageArn"]["StringValue"],
                )
            except KeyError as err:
                raise ApprovalError(
                    f"{execution_arn}: the approval request has no {err.args[0]} message attribute"
                ) from None
    return None


def find_waiting(sfn, state_machine_arn: str | None, execution: str | None) -> WaitingApproval:
    """The approval to answer: of `execution` (a name or an ARN), or of the one execution of
    the state machine that waits for one.

    Raises UsageError when neither is given, ApprovalError when nothing (or more than one
    execution, without `execution`) waits.
    """
    if execution and execution.startswith("arn:"):
        arn = execution
    elif execution and state_machine_arn:
        arn = execution_arn_for(state_machine_arn, execution)
    elif execution:
        raise UsageError("--execution NAME needs --state-machine-arn (or give the execution ARN)")
    elif state_machine_arn:
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=state_machine_arn, statusFilter="RUNNING"
        )
        waiting = [
            found
            for page in pages
            for summary in page["executions"]
            if (found := waiting_approval(sfn, summary["executionArn"]))
        ]
        if len(waiting) == 1:
            return waiting[0]
        if not waiting:
            raise ApprovalError(f"no execution of {state_machine_arn} is waiting for approval")
        names = ", ".join(sorted(w.execution_arn.rsplit(":", 1)[-1] for w in waiting))
        raise ApprovalError(
            f"{len(waiting)} executions wait for approval ({names}): pick one with --execution"
        )
    else:
        raise UsageError("give --execution-arn, or --state-machine-arn (and --execution NAME)")
    found = waiting_approval(sfn, arn)
    if found is None:
        raise ApprovalError(f"execution {arn} is not waiting for approval")
    return found


def check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise UsageError("--reason must not be empty")
    if len(reason) > REASON_LIMIT:
        raise UsageError(f"--reason is {len(reason)} characters, at most {REASON_LIMIT}")
    return reason


def approve(sagemaker, sfn, waiting: WaitingApproval, reason: str, approver: str) -> None:
    """Mark the package Approved, then let the execution go on to Deploy."""
    sagemaker.update_model_package(
        ModelPackageArn=waiting.model_package_arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription=reason,
    )
    decision = {
        "decision": "approved",
        "reason": reason,
        "approved_by": approver,
        "model_package_arn": waiting.model_package_arn,
    }
    sfn.send_task_success(taskToken=waiting.task_token, output=json.dumps(decision))
    logger.info("approved %s in %s", waiting.model_package_arn, waiting.execution_arn)


def reject(sagemaker, sfn, waiting: WaitingApproval, reason: str, approver: str) -> None:
    """Mark the package Rejected, then fail the task with the reason: the execution notifies
    and stops at ApprovalRejected; nothing is deployed."""
    sagemaker.update_model_package(
        ModelPackageArn=waiting.model_package_arn,
        ModelApprovalStatus="Rejected",
        ApprovalDescription=reason,
    )
    sfn.send_task_failure(
        taskToken=waiting.task_token, error=REJECTED_ERROR, cause=f"{reason} (by {approver})"
    )
    logger.info("rejected %s in %s", waiting.model_package_arn, waiting.execution_arn)
