"""Argument parsing and pipeline loading shared by the `run-pipeline` and
`get-pipeline-definition` CLIs (the contract of AWS's SageMaker Projects seed code)."""

from __future__ import annotations

import argparse
import ast
import functools
import importlib
import json
import logging
import os
import warnings

import botocore.loaders
import botocore.session

_shared_loader = functools.cache(botocore.loaders.create_loader)


class UsageError(Exception):
    """The command line is wrong; the CLI prints the message and exits 2."""


def parse_mapping(text: str | None, flag: str) -> dict:
    """Parse a JSON object, or a Python dict literal as the seed buildspec passes, into a dict."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise UsageError(
                f"{flag} is neither JSON nor a Python dict literal: {text!r}"
            ) from None
    if not isinstance(value, dict):
        raise UsageError(f"{flag} must be an object, got {type(value).__name__}")
    return value


def parse_tags(text: str | None) -> list[dict[str, str]]:
    """Parse `--tags` (a JSON list of {"Key", "Value"} objects)."""
    if not text:
        return []
    try:
        tags = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"--tags is not valid JSON: {err.msg}") from None
    if not isinstance(tags, list) or not all(
        isinstance(t, dict) and set(t) == {"Key", "Value"} for t in tags
    ):
        raise UsageError('--tags must be a JSON list of {"Key": ..., "Value": ...} objects')
    return tags


def prepare_sdk_environment(kwargs: dict) -> None:
    """Set what SDK v3 needs before it is imported.

    Importing `sagemaker.mlops` builds a boto3 client at import time, which fails without a
    region, so the region given in kwargs is exported first (an explicit setting wins).
    SDK v3 makes a fresh boto3 session for most of the clients a render makes, and each
    session parses botocore's service models again (SageMaker's alone is megabytes of
    JSON); the files do not change while the command runs, so every session shares one
    loader and its cache.
    """
    region = kwargs.get("region")
    if region and not os.environ.get("AWS_DEFAULT_REGION") and not os.environ.get("AWS_REGION"):
        os.environ["AWS_DEFAULT_REGION"] = region
    botocore.session.create_loader = _shared_loader


def load_pipeline_module(module_name: str):
    """Import the module that defines `get_pipeline`; raises UsageError if there is none."""
    if not module_name:
        raise UsageError("-n/--module-name is required")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name):
            raise UsageError(f"pipeline module {module_name!r} not found") from None
        raise
    quiet_sdk_logging()
    if not callable(getattr(module, "get_pipeline", None)):
        raise UsageError(f"module {module_name!r} has no get_pipeline()")
    return module


def get_pipeline_driver(module_name: str, kwargs: dict):
    """Build the pipeline: `<module>.get_pipeline(**kwargs)`.

    Raises UsageError for a missing module or arguments that get_pipeline rejects.
    """
    module = load_pipeline_module(module_name)
    if "region" not in kwargs:
        raise UsageError('--kwargs must include "region"')
    try:
        return module.get_pipeline(**kwargs)
    except TypeError as err:
        raise UsageError(f"get_pipeline() rejected --kwargs: {err}") from None


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The module and kwargs flags both CLIs share, with the seed's single-dash spellings."""
    parser.add_argument(
        "-n",
        "--module-name",
        required=True,
        help="module defining get_pipeline, e.g. pipelines.churn.pipeline",
    )
    parser.add_argument("-kwargs", "--kwargs", help="get_pipeline arguments (JSON or Python dict)")
    parser.add_argument("--log-level", default="WARNING")


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if level.upper() != "DEBUG":
        warnings.filterwarnings("ignore", module=r"sagemaker\.")
        quiet_sdk_logging()


def quiet_sdk_logging() -> None:
    """SDK v3 logs every default it fills in, and sets its loggers' levels when imported;
    hold them at ERROR (call again after importing the SDK) unless the root is at DEBUG."""
    if logging.getLogger().level <= logging.DEBUG:
        return
    for name in list(logging.root.manager.loggerDict):
        if name.split(".")[0] in ("sagemaker", "sagemaker_core", "botocore", "moto", "werkzeug"):
            logging.getLogger(name).setLevel(logging.ERROR)
