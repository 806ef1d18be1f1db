"""Several AWS accounts in one sandbox.

moto keeps each account's state apart, and decides a request's account from its access key
(an assumed role's keys belong to the role's account; the sandbox's own fake keys to
123456789012, the tooling account). What AWS Organizations gives an administrator, the
credentials of a user in each member account, is `admin_environment` here; roles are then
assumed with STS as on AWS (patch `assume_role_trust` checks their trust policies).
"""

from __future__ import annotations

import functools

import boto3

from sandbox.constants import REGION, client_environment

ADMIN_USER = "sandbox-account-admin"
ACCOUNT_HEADER = "x-moto-account-id"  # moto: this request acts in that account


def _credentials_environment(endpoint_url: str, key_id: str, secret: str, token: str | None):
    environment = {
        **client_environment(endpoint_url),
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
    }
    if token:
        environment["AWS_SESSION_TOKEN"] = token
    else:
        environment.pop("AWS_SESSION_TOKEN", None)
    return environment


def admin_environment(endpoint_url: str, account: str) -> dict[str, str]:
    """boto3's variables for an administrator of `account`: an IAM user there, with an
    access key made once per process and sandbox, the user's older keys deleted (IAM allows
    two). A key that is gone (the sandbox's state was reset) would act in the default
    account, silently: one that no longer belongs to `account` is made again."""
    environment = dict(_admin_environment(endpoint_url, account))
    if _account_of(environment) != account:
        _admin_environment.cache_clear()
        environment = dict(_admin_environment(endpoint_url, account))
    return environment


def _account_of(environment: dict[str, str]) -> str:
    sts = boto3.client(
        "sts",
        endpoint_url=environment["AWS_ENDPOINT_URL"],
        region_name=REGION,
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
    )
    return sts.get_caller_identity()["Account"]


@functools.lru_cache(maxsize=64)
def _admin_environment(endpoint_url: str, account: str) -> tuple[tuple[str, str], ...]:
    own = client_environment(endpoint_url)  # the sandbox's fake (tooling) credentials
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=own["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=own["AWS_SECRET_ACCESS_KEY"],
    )
    # Only this bootstrap call names its account in a header; everything after it acts in
    # the account its credentials belong to, as on AWS.
    iam.meta.events.register(
        "before-sign.iam.*",
        lambda request, **_: request.headers.__setitem__(ACCOUNT_HEADER, account),
    )
    try:
        iam.get_user(UserName=ADMIN_USER)
    except iam.exceptions.NoSuchEntityException:
        iam.create_user(UserName=ADMIN_USER)
    for key in iam.list_access_keys(UserName=ADMIN_USER)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=ADMIN_USER, AccessKeyId=key["AccessKeyId"])
    key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    environment = _credentials_environment(
        endpoint_url, key["AccessKeyId"], key["SecretAccessKey"], None
    )
    return tuple(environment.items())


def assumed_environment(
    endpoint_url: str, role_arn: str, session_name: str, caller: dict[str, str] | None = None
) -> dict[str, str]:
    """boto3's variables for `role_arn`, assumed by `caller` (variables; default the
    sandbox's own credentials, the tooling account's)."""
    caller = caller or client_environment(endpoint_url)
    sts = boto3.client(
        "sts",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=caller["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=caller["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=caller.get("AWS_SESSION_TOKEN"),
    )
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    return _credentials_environment(
        endpoint_url,
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
    )
