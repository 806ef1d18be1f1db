"""boto3 clients bound to a sandbox endpoint (never to the caller's own AWS settings)."""

from __future__ import annotations

import boto3

from sandbox.constants import client_environment


def sandbox_session(endpoint_url: str) -> boto3.Session:
    env = client_environment(endpoint_url)
    return boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
        region_name=env["AWS_DEFAULT_REGION"],
    )


def sandbox_client(service: str, endpoint_url: str):
    return sandbox_session(endpoint_url).client(service, endpoint_url=endpoint_url)
