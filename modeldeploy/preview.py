"""`deploy-preview`: what a deploy of a stage would change, as Markdown, without deploying.

    deploy-preview --stack-name my-project-staging --config-file staging-config-export.json
    deploy-preview --stack-name my-project-prod --config-file prod-config-export.json \\
        --output preview-prod.md --step-summary

Runs deploy.py's checks (the config keeps the template's rules, the package exists and is
Approved, prod serves only the promotion manifest's package), creates the change set the
deploy would create (same template, parameters, tags and capabilities), waits for it,
describes it and deletes it: a preview never executes a change set and never leaves one
behind, also on an error or Ctrl-C. A stack that does not exist yet (or that the deploy
would replace, after a failed create) is previewed with a CREATE change set on a throwaway
stack name, `<stack>-preview-<hex>`, deleted with its change set: the real name is never
held in REVIEW_IN_PROGRESS while a deploy may run, and the preview's IAM role needs no
DeleteStack on real stacks. Prints the Markdown (resources added, modified, replaced or
removed; parameters before -> after; the package that would be served and its metrics),
or writes it to --output; appends it to $GITHUB_STEP_SUMMARY with --step-summary and puts
it in S3 with --upload-s3-uri (what CodePipeline's approval links to).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import secrets
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from modeldeploy.accounts import recorded_target, session_for
from modeldeploy.deploy import REPLACE, StackDeployer, change_set_name, load_template_config
from modeldeploy.errors import ConfigError, DeployError, run_cli
from modeldeploy.preflight import check_deployable, promotion_manifest
from modeldeploy.preview_markdown import render
from modeldeploy.registry import describe_package, read_metrics
from modeldeploy.stage_config import TEMPLATE, template_parameters

logger = logging.getLogger(__name__)
CHANGE_SET_PREFIX = "preview-"
NO_CHANGES = ("didn't contain changes", "No updates")


@dataclass(frozen=True)
class ServedPackage:
    """A model package as the preview shows it."""

    arn: str
    version: int | None = None
    approval_status: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class StackPreview:
    """What deploying `config` to `stack_name` would do."""

    stack_name: str
    stage: str
    kind: str  # "create": the stack does not exist (or would be replaced); "update"
    changes: list[dict]  # the change set's ResourceChange entries
    parameters_before: dict[str, str]
    parameters_after: dict[str, str]
    package: ServedPackage | None
    package_before: ServedPackage | None
    replaces_status: str | None = None  # the failed stack the deploy would delete first
    no_changes: bool = False


def parameters_of(stack: dict | None) -> dict[str, str]:
    """The parameter values a described stack was deployed with."""
    return {
        p["ParameterKey"]: p.get("ResolvedValue", p["ParameterValue"])
        for p in (stack or {}).get("Parameters", [])
    }


def change_set_request(
    stack_name: str, name: str, kind: str, template_body: str, config: dict
) -> dict:
    """CreateChangeSet's arguments exactly as deploy.py's StackDeployer.deploy builds them."""
    return {
        "StackName": stack_name,
        "ChangeSetName": name,
        "ChangeSetType": kind,
        "TemplateBody": template_body,
        "Parameters": [
            {"ParameterKey": k, "ParameterValue": str(v)}
            for k, v in config.get("Parameters", {}).items()
        ],
        "Tags": [{"Key": k, "Value": str(v)} for k, v in config.get("Tags", {}).items()],
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    }


def throwaway_stack_name(stack_name: str) -> str:
    """Where a CREATE preview's change set lives (stack names: at most 128 characters)."""
    return f"{stack_name[:100]}-preview-{secrets.token_hex(4)}"


def described_changes(
    cloudformation,
    stack_name: str,
    kind: str,
    template_body: str,
    config: dict,
    poll: float,
    timeout: float,
) -> tuple[list[dict], bool]:
    """Create the change set, wait for it and describe it; returns (its changes, whether it
    has none). The change set (and, for a CREATE, the REVIEW_IN_PROGRESS stack it made) is
    deleted before this returns or raises, whatever happens, KeyboardInterrupt included.

    Raises DeployError when CloudFormation refuses the change set.
    """
    deployer = StackDeployer(cloudformation, stack_name, emit=logger.info, poll_seconds=poll)
    name = change_set_name(CHANGE_SET_PREFIX)
    created = False
    try:
        try:
            cloudformation.create_change_set(
                **change_set_request(stack_name, name, kind.upper(), template_body, config)
            )
        except KeyboardInterrupt:  # it may exist all the same (refused: nothing to delete)
            created = True
            raise
        created = True
        described = deployer._wait_change_set(name, timeout)
        changes, token = list(described.get("Changes", [])), described.get("NextToken")
        while token:  # a stack of many resources: Changes come in pages
            page = cloudformation.describe_change_set(
                StackName=stack_name, ChangeSetName=name, NextToken=token
            )
            changes += page.get("Changes", [])
            token = page.get("NextToken")
    finally:
        if created:
            deployer._discard(name, kind.upper())
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        if kind == "update" and any(text in reason for text in NO_CHANGES):
            return [], True
        raise DeployError(f"{stack_name}: CloudFormation refuses the change set: {reason}")
    return [c["ResourceChange"] for c in changes if c.get("Type", "Resource") == "Resource"], False


def served_package(sagemaker, s3, arn: str | None) -> ServedPackage | None:
    """The package behind `arn` with its metrics; only its ARN when it cannot be read (a
    package deleted since, or a registry the caller may not read)."""
    if not arn:
        return None
    try:
        package = describe_package(sagemaker, arn)
        metrics = read_metrics(s3, package.metrics_uri)
    except (ClientError, BotoCoreError, DeployError, KeyError) as err:
        logger.warning("cannot describe model package %s: %s", arn, err)
        return ServedPackage(arn)
    return ServedPackage(arn, package.version, package.approval_status, metrics)


def template_defaults(template: Path) -> dict[str, str]:
    """The template's parameter defaults: what a parameter the config omits will be."""
    return {
        k: str(v["Default"]) for k, v in template_parameters(template).items() if "Default" in v
    }


def preview_stack(
    clients: dict, stack_name: str, config: dict, template: Path, poll: float, timeout: float
) -> StackPreview:
    """What deploying `config` with `template` to `stack_name` would change."""
    cloudformation = clients["cloudformation"]
    current = StackDeployer(cloudformation, stack_name).describe()
    status = current["StackStatus"] if current else None
    replaced = status in REPLACE
    kind = "create" if current is None or replaced else "update"
    target = throwaway_stack_name(stack_name) if kind == "create" else stack_name
    changes, unchanged = described_changes(
        cloudformation, target, kind, template.read_text(), config, poll, timeout
    )
    before = {} if kind == "create" else parameters_of(current)
    after = {**template_defaults(template), **config.get("Parameters", {})}
    new_arn = after.get("ModelPackageName")
    old_arn = before.get("ModelPackageName")
    package = served_package(clients["sagemaker"], clients["s3"], new_arn)
    return StackPreview(
        stack_name=stack_name,
        stage=after.get("StageName", stack_name),
        kind=kind,
        changes=changes,
        parameters_before=before,
        parameters_after=after,
        package=package,
        package_before=(
            package
            if old_arn == new_arn
            else served_package(clients["sagemaker"], clients["s3"], old_arn)
        ),
        replaces_status=status if replaced else None,
        no_changes=unchanged,
    )


def write_outputs(
    markdown: str, output: Path | None, step_summary: bool, s3=None, s3_uri: str | None = None
) -> None:
    """Print the Markdown, or write it to `output`; append it to the job summary and put it
    at `s3_uri` too, when asked."""
    if s3_uri:
        bucket, _, key = s3_uri.removeprefix("s3://").partition("/")
        s3.put_object(Bucket=bucket, Key=key, Body=markdown.encode(), ContentType="text/markdown")
        logger.info("uploaded the preview to %s", s3_uri)
    if output is None:
        print(markdown, end="")
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(markdown)
        print(f"wrote {output}")
    if step_summary:
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
            summary.write(markdown if markdown.endswith("\n") else markdown + "\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="deploy-preview", description=__doc__.splitlines()[0].split(": ", 1)[1]
    )
    parser.add_argument("--stack-name", required=True)
    parser.add_argument(
        "--config-file", required=True, type=Path, help="TemplateConfiguration written by build.py"
    )
    parser.add_argument("--template-file", type=Path, default=TEMPLATE)
    parser.add_argument(
        "--manifest",
        type=Path,
        help="promotion manifest, as for deploy.py (prod: required; default: "
        "promotion-manifest.json beside the config)",
    )
    parser.add_argument("--output", type=Path, help="write the Markdown here instead of stdout")
    parser.add_argument(
        "--step-summary",
        action="store_true",
        help="also append the Markdown to $GITHUB_STEP_SUMMARY (GitHub Actions' job summary)",
    )
    parser.add_argument(
        "--upload-s3-uri",
        help="also put the Markdown at this s3://bucket/key (what an approval links to)",
    )
    parser.add_argument("--timeout-seconds", type=float, default=600)
    parser.add_argument("--poll-seconds", type=float, default=2)
    parser.add_argument("--log-level", default=os.environ.get("LOGLEVEL", "WARNING").upper())
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, clients: dict | None = None) -> int:
    """`clients`: boto3 clients by service name (cloudformation, sagemaker, s3), made from
    the default session when not given."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    given = dict(clients or {})
    for service in ("cloudformation", "sagemaker", "s3"):
        given.setdefault(service, None)

    def work() -> int:
        if args.step_summary and not os.environ.get("GITHUB_STEP_SUMMARY"):
            raise ConfigError("--step-summary: GITHUB_STEP_SUMMARY is not set")
        if args.upload_s3_uri and not re.match(r"^s3://[a-z0-9.-]{3,63}/.+", args.upload_s3_uri):
            raise ConfigError(f"--upload-s3-uri: {args.upload_s3_uri!r} is not s3://bucket/key")
        if not args.template_file.is_file():
            raise ConfigError(f"{args.template_file}: file not found")
        config = load_template_config(args.config_file, args.template_file)
        # A stage in an account of its own: preview there, as its deploy role (as deploy.py).
        target = recorded_target(config, args.config_file, args.manifest)
        if target.account:
            session = session_for(target, config["Parameters"]["StageName"])
            made = {s: session.client(s) for s in given}
        else:
            made = {s: c or boto3.client(s) for s, c in given.items()}
        manifest = promotion_manifest(config, args.config_file, args.manifest)
        check_deployable(made["sagemaker"], config, str(args.config_file), manifest)
        preview = preview_stack(
            made,
            args.stack_name,
            config,
            args.template_file,
            args.poll_seconds,
            args.timeout_seconds,
        )
        write_outputs(
            render(preview), args.output, args.step_summary, made["s3"], args.upload_s3_uri
        )
        return 0

    if threading.current_thread() is not threading.main_thread():
        return run_cli("deploy-preview", work)
    # A cancelled CI job or a CodeBuild timeout ends with SIGTERM: unwind as for Ctrl-C,
    # so the change set is deleted on the way out.
    previous = signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    try:
        return run_cli("deploy-preview", work)
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
