"""Bring a stage's stack to a state a deploy can start from, whatever a deploy left it in.

A deploy can leave: change sets that were never executed (a deploy killed between creating
and executing one), a stack in REVIEW_IN_PROGRESS (a first deploy's create change set that
never ran), a stack whose creation failed (ROLLBACK_COMPLETE, ROLLBACK_FAILED,
CREATE_FAILED), one whose update's rollback failed (UPDATE_ROLLBACK_FAILED), or one still
in the middle of an operation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from botocore.exceptions import ClientError

from modeldeploy.deploy import REPLACE, StackDeployer
from modeldeploy.errors import DeployError

STABLE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")


@dataclass(frozen=True)
class DeployedWith:
    """The parameters and tags a stack was last deployed (or asked to be deployed) with."""

    parameters: dict[str, str]
    tags: dict[str, str]


def pending_change_sets(cloudformation, stack_name: str) -> list[dict]:
    """Summaries of the stack's change sets that were never executed."""
    try:
        pages = cloudformation.get_paginator("list_change_sets").paginate(StackName=stack_name)
        summaries = [s for page in pages for s in page.get("Summaries", [])]
    except ClientError as err:
        if "does not exist" in str(err):
            return []
        raise
    return [
        s
        for s in summaries
        if s.get("ExecutionStatus") not in ("EXECUTE_COMPLETE", "EXECUTE_IN_PROGRESS")
    ]


def deployed_with(cloudformation, stack: dict | None, stack_name: str) -> DeployedWith | None:
    """What the stack holds, or for a stack that never ran (REVIEW_IN_PROGRESS) what its
    pending change set would have deployed; None when there is neither."""
    parameters = {
        p["ParameterKey"]: p.get("ResolvedValue", p["ParameterValue"])
        for p in (stack or {}).get("Parameters", [])
    }
    tags = {t["Key"]: t["Value"] for t in (stack or {}).get("Tags", [])}
    if "ModelPackageName" in parameters:
        return DeployedWith(parameters, tags)
    for summary in pending_change_sets(cloudformation, stack_name):
        described = cloudformation.describe_change_set(
            StackName=stack_name, ChangeSetName=summary["ChangeSetName"]
        )
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
        if "ModelPackageName" in parameters:
            return DeployedWith(parameters, {t["Key"]: t["Value"] for t in described["Tags"]})
    return None


def settle(deployer: StackDeployer, timeout: float) -> str | None:
    """Delete pending change sets, wait out an operation in progress, finish a failed
    rollback, and delete a stack that never finished creating. Returns the stack's status
    after (None: no stack). Raises DeployError when the stack cannot be brought there."""
    cloudformation, name = deployer.cfn, deployer.stack_name
    for summary in pending_change_sets(cloudformation, name):
        deployer.emit(f"{name}: deleting change set {summary['ChangeSetName']} (never executed)")
        cloudformation.delete_change_set(StackName=name, ChangeSetName=summary["ChangeSetName"])
    status = _wait_while_in_progress(deployer, timeout)
    if status == "UPDATE_ROLLBACK_FAILED":
        deployer.emit(f"{name}: UPDATE_ROLLBACK_FAILED; continuing the rollback")
        cloudformation.continue_update_rollback(StackName=name)
        status = _wait_while_in_progress(deployer, timeout)
    if status in REPLACE:
        deployer.emit(f"{name}: {status} (it never finished creating); deleting it")
        cloudformation.delete_stack(StackName=name)
        deployer.wait_deleted(timeout)
        return None
    if status is not None and status not in STABLE:
        raise DeployError(f"{name} is {status}; it cannot be deployed to (see its events)")
    return status


def _wait_while_in_progress(deployer: StackDeployer, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    while True:
        status = deployer.stack_status()
        if status is None or not status.endswith("_IN_PROGRESS") or status in REPLACE:
            return status
        if time.monotonic() > deadline:
            raise DeployError(f"{deployer.stack_name} still {status} after {timeout:.0f} s")
        time.sleep(deployer.poll_seconds)
