"""ValidateData Lambda: check the training data against its data contract before anything
is trained.

Event: {"input_data_uri": "s3://bucket/key.csv" | "s3://bucket/prefix/", "contract": "churn-v1"}
(a prefix means every .csv object under it, as the Preprocess step reads it).

Returns the report ({"valid": true, "rows": ..., ...}) when the data meets the contract.
Raises DataValidationError otherwise, whose message names each broken rule and column: the
state machine catches that error name, notifies and stops, so nothing is trained.
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .contract import Checker, ContractError, load_contract

logger = logging.getLogger(__name__)


class DataValidationError(Exception):
    """The data breaks its contract (the state machine's Catch matches this name)."""


class InputError(ValueError):
    """The event is malformed or names no data (a usage error, not a data problem)."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not isinstance(uri, str) or not uri.startswith("s3://") or "/" not in uri[5:]:
        raise InputError(f"input_data_uri must be s3://bucket/key or prefix, got {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def csv_keys(s3, bucket: str, key: str) -> list[str]:
    """`key` itself when it names a .csv object, else every .csv object under it."""
    if key.endswith(".csv"):
        return [key]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
    return sorted(
        o["Key"] for page in pages for o in page.get("Contents", []) if o["Key"].endswith(".csv")
    )


def text_lines(body) -> Iterator[str]:
    """The object's lines, decoded as they stream (a UTF-8 character may span chunks)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending = ""
    for chunk in body.iter_chunks(1 << 20):
        pending += decoder.decode(chunk)
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def validate(s3, input_data_uri: str, contract_name: str) -> dict:
    """Check every CSV at `input_data_uri` against `contract_name`; returns the report.

    Raises DataValidationError when a rule is broken, InputError when there is no data or
    the contract is unknown.
    """
    try:
        contract = load_contract(contract_name)
    except ContractError as err:
        raise InputError(str(err)) from None
    bucket, key = split_s3_uri(input_data_uri)
    try:
        keys = csv_keys(s3, bucket, key)
        if not keys:
            raise InputError(f"no .csv object at {input_data_uri}")
        checker = Checker(contract, contract_name)
        for name in keys:
            body = s3.get_object(Bucket=bucket, Key=name)["Body"]
            checker.feed(f"s3://{bucket}/{name}", text_lines(body))
    except ClientError as err:
        raise InputError(f"cannot read {input_data_uri}: {err}") from err
    report = checker.report()
    if not report.valid:
        broken = "; ".join(str(v) for v in report.violations)
        raise DataValidationError(
            f"{input_data_uri} breaks data contract {contract_name}: {broken}"
        )
    logger.info("%s meets %s: %d rows", input_data_uri, contract_name, report.rows)
    return report.as_dict()


def handler(event: dict[str, Any], context: Any) -> dict:
    """Lambda entry point (see the module docstring)."""
    if not isinstance(event, dict):
        raise InputError(f"event must be an object, got {type(event).__name__}")
    for field in ("input_data_uri", "contract"):
        if not event.get(field):
            raise InputError(f"event field {field!r} is missing")
    return validate(boto3.client("s3"), event["input_data_uri"], event["contract"])
