"""`run-pipeline`: upsert a pipeline, start an execution and follow it to the end.

    run-pipeline -n pipelines.churn.pipeline --role-arn <role> \\
        --kwargs '{"region": "eu-west-1", "default_bucket": "my-bucket"}' \\
        --tags '[{"Key": "sagemaker:project-name", "Value": "churn"}]'

Exit codes: 0 the execution Succeeded; 1 it Failed or was Stopped (the failed step and its
reason are printed); 2 usage error (one line, no traceback).
"""

from __future__ import annotations

import argparse
import sys

from botocore.exceptions import BotoCoreError, ClientError

from pipelines._utils import (
    UsageError,
    add_common_arguments,
    configure_logging,
    get_pipeline_driver,
    parse_mapping,
    parse_tags,
    prepare_sdk_environment,
)
from pipelines.churn.environment import ConfigError
from pipelines.execution import (
    ExecutionResult,
    metrics_markdown,
    print_registered_package,
    wait_for_execution,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
AWS_POLL_SECONDS = 30.0
LOCAL_POLL_SECONDS = 0.5


def check_parameters(pipeline, overrides: dict) -> dict:
    """Check overrides against the pipeline's parameters: known names, matching types.

    Returns the overrides; raises UsageError naming the first bad one.
    """
    declared = {p.to_request()["Name"]: p.to_request() for p in pipeline.parameters}
    kinds = {"String": (str,), "Integer": (int,), "Float": (int, float), "Boolean": (bool,)}
    for name, value in overrides.items():
        if name not in declared:
            raise UsageError(
                f"unknown pipeline parameter {name!r} (known: {', '.join(sorted(declared))})"
            )
        kind = declared[name]["Type"]
        is_bool = isinstance(value, bool)
        if not isinstance(value, kinds[kind]) or (is_bool and kind != "Boolean"):
            raise UsageError(f"parameter {name!r} must be a {kind}, got {value!r}")
    return overrides


def report(result: ExecutionResult) -> int:
    """Print how the execution ended; returns the exit code."""
    print(f"Pipeline execution {result.arn} {result.status}")
    if result.succeeded:
        return EXIT_OK
    for step, reason in result.failed_steps:
        print(f"Failed step: {step}: {reason}")
    if result.failure_reason and not result.failed_steps:
        print(f"Reason: {result.failure_reason}")
    return EXIT_FAILED


def run(args: argparse.Namespace) -> int:
    kwargs = parse_mapping(args.kwargs, "--kwargs")
    overrides = parse_mapping(args.parameters, "--parameters")
    tags = parse_tags(args.tags)
    if args.local:
        from sandbox import local_run

        with local_run.local_sandbox() as sandbox:
            kwargs, role_arn = local_run.local_defaults(kwargs, args.role_arn)
            local_run.ensure_bucket(sandbox.client("s3"), kwargs["default_bucket"])
            return execute(args, kwargs, overrides, tags, role_arn, sandbox)
    if not args.role_arn:
        raise UsageError("--role-arn is required (or use --local)")
    return execute(args, kwargs, overrides, tags, args.role_arn, None)


def execute(args, kwargs: dict, overrides: dict, tags: list, role_arn: str, sandbox) -> int:
    """Render, upsert, start and follow; `sandbox` is None on AWS."""
    prepare_sdk_environment(kwargs)
    pipeline = get_pipeline_driver(args.module_name, kwargs)
    check_parameters(pipeline, overrides)
    if sandbox is not None and "InputDataUri" not in overrides:
        from sandbox import local_run

        default_input = next(
            p.default_value for p in pipeline.parameters if p.name == "InputDataUri"
        )
        local_run.upload_sample_data(sandbox.client("s3"), default_input, sandbox.home)

    print(f"Upserting pipeline {pipeline.name}")
    upserted = pipeline.upsert(role_arn=role_arn, description=args.description, tags=tags)
    print(f"Pipeline ARN: {upserted['PipelineArn']}")
    execution = pipeline.start(parameters=overrides or None)
    print(f"Started execution {execution.arn}")
    if args.no_wait:
        return EXIT_OK
    session = pipeline.sagemaker_session
    poll_seconds = args.poll_seconds or (LOCAL_POLL_SECONDS if sandbox else AWS_POLL_SECONDS)
    result = wait_for_execution(session.sagemaker_client, execution.arn, poll_seconds)
    code = report(result)
    if result.succeeded:
        registered = print_registered_package(
            session.sagemaker_client, session.boto_session.client("s3"), result
        )
        if registered and args.summary_markdown:
            with open(args.summary_markdown, "a") as summary:
                summary.write(metrics_markdown(*registered))
    elif sandbox is not None:
        from sandbox import local_run

        for step, _ in result.failed_steps:
            tail = local_run.failed_step_log(sandbox.home, result.arn, step)
            if tail:
                print(tail)
    return code


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Create/update and run a SageMaker pipeline.")
    add_common_arguments(parser)
    parser.add_argument(
        "-role-arn", "--role-arn", dest="role_arn", help="role the pipeline runs as"
    )
    parser.add_argument("-tags", "--tags", help="JSON list of {Key, Value} tags")
    parser.add_argument("-description", "--description", help="pipeline description")
    parser.add_argument("--parameters", help="execution parameter overrides as a JSON object")
    parser.add_argument("--no-wait", action="store_true", help="return once started")
    parser.add_argument(
        "--local",
        action="store_true",
        help="run in the local sandbox instead of AWS (no account needed)",
    )
    parser.add_argument(
        "--summary-markdown", help="append the registered package's metrics table to this file"
    )
    parser.add_argument("--poll-seconds", type=float, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level)
    try:
        return run(args)
    except (UsageError, ConfigError) as err:
        print(f"run-pipeline: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (BotoCoreError, ClientError) as err:
        print(f"run-pipeline: AWS call failed: {err}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
