"""`get-pipeline-definition`: render a pipeline's definition JSON.

    get-pipeline-definition -n pipelines.churn.pipeline \\
        --kwargs '{"region": "us-east-1", "role": "arn:aws:iam::111122223333:role/r",
                   "default_bucket": "b"}'

SDK v3 calls AWS while it renders (it checks the default bucket and uploads the step code),
so it needs an AWS endpoint, as the seed's does. With no AWS account, run it against the
local sandbox, unchanged: `python -m sandbox exec -- get-pipeline-definition ...`.
"""

from __future__ import annotations

import argparse
import json
import sys

from botocore.exceptions import BotoCoreError, ClientError

from pipelines._utils import (
    UsageError,
    add_common_arguments,
    configure_logging,
    get_pipeline_driver,
    parse_mapping,
    prepare_sdk_environment,
)
from pipelines.churn.environment import ConfigError


def render_definition(module_name: str, kwargs: dict) -> str:
    """Return the definition JSON (pretty-printed) of `module_name`'s pipeline."""
    prepare_sdk_environment(kwargs)
    definition = get_pipeline_driver(module_name, kwargs).definition()
    return json.dumps(json.loads(definition), indent=2, sort_keys=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Render a SageMaker pipeline definition.")
    add_common_arguments(parser)
    parser.add_argument("-f", "--file-name", help="write here instead of to stdout")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level)
    try:
        kwargs = parse_mapping(args.kwargs, "--kwargs")
        definition = render_definition(args.module_name, kwargs)
    except (UsageError, ConfigError) as err:
        print(f"get-pipeline-definition: {err}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as err:
        print(
            f"get-pipeline-definition: AWS call failed ({err}); with no AWS account, render "
            "in the sandbox: python -m sandbox exec -- get-pipeline-definition ...",
            file=sys.stderr,
        )
        return 1
    if args.file_name:
        with open(args.file_name, "w") as out:
            out.write(definition + "\n")
    else:
        print(definition)
    return 0


if __name__ == "__main__":
    sys.exit(main())
