"""`run-pipeline`: upsert a pipeline, start an execution and follow it to the end.

    run-pipeline -n pipelines.churn.pipeline --role-arn <role> \\
        --kwargs '{"region": "eu-west-1", "default_bucket": "my-bucket"}' \\
        --tags '[{"Key": "sagemaker:project-name", "Value": "churn"}]'

It talks to whatever AWS endpoint boto3 is configured for: AWS itself, or the local
sandbox (`python -m sandbox exec -- run-pipeline ...` runs this same command line there).

Exit codes: 0 the execution Succeeded; 1 it Failed or was Stopped (the failed step and its
reason are printed); 2 usage error (one line, no traceback).
"""

from __future__ import annotations

import argparse
import os
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
DEFAULT_POLL_SECONDS = 30.0
POLL_VARIABLE = "RUN_PIPELINE_POLL_SECONDS"


def check_parameters(pipeline, overrides: dict, module_name: str | None = None) -> dict:
    """Check overrides against the pipeline's parameters: known names, matching types, then
    (if `module_name` exports `validate_parameters(values)`) what the effective values,
    defaults and overrides, mean to that pipeline.

    Returns the overrides; raises UsageError naming the first bad one.
    """
    import importlib

    from pipelines.parameters import ParameterError

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
        enum_values = declared[name].get("EnumValues")
        if enum_values and value not in enum_values:
            raise UsageError(
                f"parameter {name!r} must be one of {', '.join(enum_values)}, got {value!r}"
            )
    module = importlib.import_module(module_name) if module_name else None
    validate = getattr(module, "validate_parameters", None)
    if validate is not None:
        defaults = {n: r["DefaultValue"] for n, r in declared.items() if "DefaultValue" in r}
        try:
            validate({**defaults, **overrides})
        except ParameterError as err:
            raise UsageError(str(err)) from None
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


def poll_seconds(args: argparse.Namespace) -> float:
    """How often to ask about the execution: --poll-seconds, else $RUN_PIPELINE_POLL_SECONDS
    (the sandbox exports a short one: its runs take seconds, not minutes), else 30 s."""
    if args.poll_seconds:
        return args.poll_seconds
    raw = os.environ.get(POLL_VARIABLE)
    if not raw:
        return DEFAULT_POLL_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        raise UsageError(f"{POLL_VARIABLE} must be a number of seconds, got {raw!r}") from None
    if seconds <= 0:
        raise UsageError(f"{POLL_VARIABLE} must be positive, got {raw!r}")
    return seconds


def run(args: argparse.Namespace) -> int:
    """Render, upsert, start and follow, against whichever AWS endpoint boto3 is given."""
    kwargs = parse_mapping(args.kwargs, "--kwargs")
    overrides = parse_mapping(args.parameters, "--parameters")
    tags = parse_tags(args.tags)
    if not args.role_arn:
        raise UsageError("--role-arn is required")
    interval = poll_seconds(args)
    prepare_sdk_environment(kwargs)
    pipeline = get_pipeline_driver(args.module_name, kwargs)
    check_parameters(pipeline, overrides, args.module_name)

    print(f"Upserting pipeline {pipeline.name}")
    upserted = pipeline.upsert(role_arn=args.role_arn, description=args.description, tags=tags)
    print(f"Pipeline ARN: {upserted['PipelineArn']}")
    execution = pipeline.start(parameters=overrides or None)
    print(f"Started execution {execution.arn}")
    if args.no_wait:
        return EXIT_OK
    session = pipeline.sagemaker_session
    result = wait_for_execution(session.sagemaker_client, execution.arn, interval)
    code = report(result)
    if result.succeeded:
        registered = print_registered_package(
            session.sagemaker_client, session.boto_session.client("s3"), result
        )
        if registered and args.summary_markdown:
            with open(args.summary_markdown, "a") as summary:
                summary.write(metrics_markdown(*registered))
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
