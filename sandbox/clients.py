"""boto3 clients bound to a sandbox endpoint (never to the caller's own AWS settings)."""

from __future__ import annotations

import functools
import threading

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from sandbox.constants import client_environment

_client_lock = threading.Lock()


def share_botocore_loader() -> None:
    """Every botocore session in this process shares one loader (and its cache) per data
    path. A new session otherwise parses the service models again: moto's EC2 backend alone
    makes three sessions at import, each reading ec2's 5 MB model (0.7 s of every sandbox
    start), and SDK v3 makes one for most of its clients. The files do not change while the
    process runs."""
    if not hasattr(botocore.session.create_loader, "cache_info"):
        botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)


def sandbox_session(endpoint_url: str) -> boto3.Session:
    env = client_environment(endpoint_url)
    return boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
        region_name=env["AWS_DEFAULT_REGION"],
    )


@functools.lru_cache(maxsize=8)
def _shared_session(endpoint_url: str) -> boto3.Session:
    """One session per endpoint: a new session parses the service models again, which
    took 0.3-1.3 s for the two clients every pipeline execution makes; a warm one, 15 ms."""
    return sandbox_session(endpoint_url)


def sandbox_client(service: str, endpoint_url: str, config: Config | None = None):
    # Clients are thread-safe; making them from one session is not, hence the lock.
    with _client_lock:
        return _shared_session(endpoint_url).client(
            service, endpoint_url=endpoint_url, config=config
        )
