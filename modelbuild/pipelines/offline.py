"""Render a pipeline definition without AWS credentials or a network.

SDK v3 still calls AWS while it renders: it checks (and may create) the default bucket,
uploads the step code to S3, and asks IAM to simulate the training role's policy. None of
that changes the JSON it produces once region, role and bucket are given, so those calls
are answered by an in-process moto instead of AWS. Only `get-pipeline-definition` does
this; `run-pipeline` uploads the code for real, because the execution needs it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from unittest import mock

import boto3
from moto import mock_aws

# A render never reads the code back, so bucket names that S3 itself would refuse (such as
# the one-letter bucket in the seed's documentation) are accepted here.
_S3_NAME_CHECK = "moto.s3.models.MIN_BUCKET_NAME_LENGTH"

OFFLINE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "offline-render",
    "AWS_SECRET_ACCESS_KEY": "offline-render",
    "AWS_SESSION_TOKEN": "offline-render",
    "AWS_EC2_METADATA_DISABLED": "true",
    # The role check calls iam:SimulatePrincipalPolicy, which has nothing to check offline.
    "SAGEMAKER_VALIDATE_ROLE": "false",
}


def can_render_offline(kwargs: dict) -> bool:
    """Region, role and bucket given: nothing left that the SDK would need to look up."""
    return all(kwargs.get(key) for key in ("region", "role", "default_bucket"))


@contextlib.contextmanager
def offline_aws(region: str, bucket: str) -> Iterator[None]:
    """Route every AWS call made inside the block to an in-memory moto, with `bucket`."""
    environment = {**OFFLINE_ENVIRONMENT, "AWS_DEFAULT_REGION": region}
    # patch.dict restores the whole environment on exit, including the names popped here.
    with mock.patch.dict(os.environ, environment), mock.patch(_S3_NAME_CHECK, 1):
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_REGION"):
            os.environ.pop(name, None)
        with mock_aws():
            yield _create_bucket(region, bucket)


def _create_bucket(region: str, bucket: str) -> None:
    s3 = boto3.client("s3", region_name=region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
