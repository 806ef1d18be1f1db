"""`approve` and `reject`: answer the model approval a state machine execution waits for.

    approve --execution-arn ARN --reason "beats the champion on recall"
    reject --state-machine-arn ARN --reason "trained on last month's bad export"

With only --state-machine-arn, the one execution waiting for approval is answered (more
than one: name it with --execution). The package's approval status is updated in the
registry, then the execution resumes (approve: Deploy; reject: ApprovalRejected, nothing
deployed). Exit 0 done, 1 nothing waits or AWS refused, 2 bad arguments; errors are one line.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Callable

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from orchestration import approval


def parse_args(program: str, argv: list[str] | None) -> argparse.Namespace:
    verb = "approve" if program == "approve" else "reject"
    parser = argparse.ArgumentParser(
        prog=program,
        description=f"{verb.capitalize()} the model a state machine execution waits on.",
    )
    parser.add_argument("--execution-arn", help="the waiting execution")
    parser.add_argument("--state-machine-arn", help="its state machine (alone: the one waiting)")
    parser.add_argument("--execution", help="the execution's name (with --state-machine-arn)")
    parser.add_argument(
        "--reason",
        required=program == "reject",
        default="approved" if program == "approve" else None,
        help="recorded in the registry and the execution's history"
        + (" (required)" if program == "reject" else ""),
    )
    parser.add_argument("--by", default=None, help="who decides (default: the login name)")
    parser.add_argument("--region", help="AWS region (default: boto3's)")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    if args.execution_arn and (args.execution or args.state_machine_arn):
        parser.error("give --execution-arn alone, or --state-machine-arn [--execution NAME]")
    if args.execution_arn and ":execution:" not in args.execution_arn:
        parser.error(f"--execution-arn is not an execution ARN: {args.execution_arn!r}")
    return args


def run(program: str, answer: Callable, argv: list[str] | None) -> int:
    args = parse_args(program, argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(message)s")
    try:
        reason = approval.check_reason(args.reason)
        session = boto3.Session(region_name=args.region)
        sfn = session.client("stepfunctions")
        waiting = approval.find_waiting(
            sfn, args.state_machine_arn, args.execution_arn or args.execution
        )
        answer(session.client("sagemaker"), sfn, waiting, reason, args.by or getpass.getuser())
    except approval.UsageError as err:
        print(f"{program}: {err}", file=sys.stderr)
        return 2
    except (approval.ApprovalError, ClientError, BotoCoreError) as err:
        print(f"{program}: {err}", file=sys.stderr)
        return 1
    verb = "approved" if program == "approve" else "rejected"
    print(f"{verb} {waiting.model_package_arn}; execution {waiting.execution_arn} resumes")
    return 0


def approve_main(argv: list[str] | None = None) -> int:
    return run("approve", approval.approve, argv)


def reject_main(argv: list[str] | None = None) -> int:
    return run("reject", approval.reject, argv)
