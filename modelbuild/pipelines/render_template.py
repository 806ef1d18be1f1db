"""`python -m pipelines.render_template`: the pipeline definition as a Terraform template.

    python -m sandbox exec -- python -m pipelines.render_template   # no AWS account needed

Renders each environment's definition with SDK v3, as `get-pipeline-definition` does, with
sentinel values where Terraform supplies its own, and writes
`terraform/modules/sagemaker-pipeline/pipeline-definition.<environment>.json.tftpl` with
`${...}` placeholders for them (role, bucket, model package group, images, threshold,
region). SDK v3 uploads the step code while it renders, and the definition points at it;
those files are copied to the module's `code/` folder, which Terraform uploads to the
artifact bucket. Two things are made reproducible on the way: the training code's
timestamped prefix is named after its content instead, and the absolute source folder SDK v3
records in `sourcecode.json` (which the container never reads) becomes a repository path.

The template is generated, never edited: tests/terraform/ checks that it is current and
that Terraform's templatefile() of it is what SDK v3 renders for the same values.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from pipelines._utils import UsageError, configure_logging
from pipelines.churn.environment import ConfigError, load_environment
from pipelines.get_pipeline_definition import render_definition

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "terraform" / "modules" / "sagemaker-pipeline"
MODULE_NAME = "pipelines.churn.pipeline"
ENVIRONMENTS = ("dev", "prod")
REGION = "us-east-1"

# What the render is given where Terraform supplies its own value: distinctive strings that
# appear nowhere else, so each occurrence is one of these.
ROLE = "arn:aws:iam::000000000000:role/terraform-template-role"
BUCKET = "terraform-template-bucket"
GROUP = "terraform-template-group"
BY_SUBSTRING = {ROLE: "pipeline_role_arn", BUCKET: "bucket", GROUP: "model_package_group_name"}
PLACEHOLDERS = (
    "pipeline_role_arn",
    "bucket",
    "model_package_group_name",
    "processing_image_uri",
    "training_image_uri",
    "inference_image_uri",
    "min_roc_auc",
    "region",
)
# Code prefixes that depend on the machine that renders: the training code's time of
# render, and a processing script's SDK hash (of its absolute path with its content).
# The template names both after the content alone, so any checkout renders the same.
TIMESTAMPED = re.compile(r"(?<=-train-)\d{14}(?=/)|(?<=/code/)[0-9a-f]{64}(?=/)")
SKIPPED_PARTS = {"__pycache__"}


def _mark(name: str) -> str:
    return f"@@{name}@@"


def _walk(node, visit: Callable[[list, str], None], path: str = "$") -> None:
    """Call visit(container, key-or-index path) for each string value below `node`."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        where = f"{path}.{key}" if isinstance(node, dict) else f"{path}[{key}]"
        if isinstance(value, str):
            visit(node, key, where)
        elif isinstance(value, dict | list):
            _walk(value, visit, where)


def _all_steps(steps: list[dict]) -> Iterator[dict]:
    for step in steps:
        yield step
        if step["Type"] == "Condition":
            yield from _all_steps(step["Arguments"].get("IfSteps", []))
            yield from _all_steps(step["Arguments"].get("ElseSteps", []))


def mark_images(definition: dict) -> None:
    """Each step's image, by its role: processing, training or inference (the same URI can
    serve two roles, so they are told apart by where they are, not by value)."""
    for step in _all_steps(definition["Steps"]):
        arguments = step["Arguments"]
        if step["Type"] == "Processing":
            arguments["AppSpecification"]["ImageUri"] = _mark("processing_image_uri")
        elif step["Type"] == "Training":
            arguments["AlgorithmSpecification"]["TrainingImage"] = _mark("training_image_uri")
        elif step["Type"] == "RegisterModel":
            for container in arguments["InferenceSpecification"]["Containers"]:
                container["Image"] = _mark("inference_image_uri")


def mark_threshold(definition: dict) -> None:
    for parameter in definition["Parameters"]:
        if parameter["Name"] == "MinRocAuc":
            parameter["DefaultValue"] = _mark("min_roc_auc")
            return
    raise UsageError("the definition has no MinRocAuc parameter to template")


def mark_values(definition: dict) -> None:
    """The sentinels, wherever they occur, and the region where it is a whole value; an
    image or region left anywhere else would tie the template to one region: refused."""

    def visit(container, key, where: str) -> None:
        value = container[key]
        for sentinel, name in BY_SUBSTRING.items():
            value = value.replace(sentinel, _mark(name))
        if value == REGION:
            value = _mark("region")
        elif ".dkr.ecr." in value or REGION in value:
            raise UsageError(
                f"{where} = {value!r} names a region or image the template cannot place; "
                "teach pipelines/render_template.py where it belongs"
            )
        container[key] = value

    _walk(definition, visit)


def to_template(definition: dict) -> str:
    """Pretty-printed JSON with `${name}` placeholders (MinRocAuc as a bare number); any
    `${` or `%{` of the definition's own is escaped for templatefile()."""
    text = json.dumps(definition, indent=2, sort_keys=True)
    text = text.replace("${", "$${").replace("%{", "%%{")
    text = text.replace(f'"{_mark("min_roc_auc")}"', "${min_roc_auc}")
    for name in PLACEHOLDERS:
        text = text.replace(_mark(name), "${" + name + "}")
    return text + "\n"


def referenced_code(definition: dict) -> list[str]:
    """The keys (objects or prefixes) in the render's bucket that the definition names."""
    found: list[str] = []

    def visit(container, key, _where: str) -> None:
        value = container[key]
        if value.startswith(f"s3://{BUCKET}/"):
            found.append(value.removeprefix(f"s3://{BUCKET}/"))

    _walk(definition, visit)
    # An output prefix that holds a code prefix (S3OutputPath above the training code)
    # would take every earlier render's code along: only the innermost references count.
    return sorted(
        {ref for ref in found if not any(o.startswith(ref.rstrip("/") + "/") for o in found)}
    )


def fetch_code(s3, definition: dict) -> dict[str, bytes]:
    """Every object the render uploaded that the definition points at, by key."""
    files: dict[str, bytes] = {}
    for reference in referenced_code(definition):
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=reference)
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"]
                inside = key == reference or key.startswith(reference.rstrip("/") + "/")
                if inside and not SKIPPED_PARTS.intersection(key.split("/")):
                    files[key] = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return files


def _repository_paths(key: str, content: bytes) -> bytes:
    """sourcecode.json's absolute source_dir, as a path in the repository."""
    if not key.endswith("/sourcecode.json"):
        return content
    record = json.loads(content)
    source = record.get("source_dir")
    if source and os.path.isabs(source):
        path = Path(source)
        record["source_dir"] = (
            path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else path.name
        )
    return json.dumps(record).encode()


def content_named(files: dict[str, bytes]) -> dict[str, str]:
    """{timestamp: content hash} for each timestamped prefix among the keys."""
    groups: dict[str, list[str]] = {}
    for key in files:
        match = TIMESTAMPED.search(key)
        if match:
            groups.setdefault(match.group(), []).append(key)
    renamed = {}
    for stamp, keys in groups.items():
        digest = hashlib.sha256()
        for key in sorted(keys):
            digest.update(TIMESTAMPED.sub("", key).encode() + b"\0" + files[key] + b"\0")
        renamed[stamp] = digest.hexdigest()[: len(stamp)]
    return renamed


def render_template(environment: str, s3) -> tuple[str, dict[str, bytes]]:
    """(template text, {key: content} of the step code) for one environment."""
    kwargs = {
        "region": REGION,
        "role": ROLE,
        "default_bucket": BUCKET,
        "model_package_group_name": GROUP,
        "environment": environment,
    }
    definition = json.loads(render_definition(MODULE_NAME, kwargs))
    files = {key: _repository_paths(key, body) for key, body in fetch_code(s3, definition).items()}
    renamed = content_named(files)

    def rename(text: str) -> str:
        return TIMESTAMPED.sub(lambda m: renamed.get(m.group(), m.group()), text)

    files = {rename(key): body for key, body in files.items()}

    def visit(container, key, _where: str) -> None:
        container[key] = rename(container[key])

    _walk(definition, visit)
    mark_images(definition)
    mark_threshold(definition)
    mark_values(definition)
    return to_template(definition), files


def template_path(output_dir: Path, environment: str) -> Path:
    return output_dir / f"pipeline-definition.{environment}.json.tftpl"


def render_all(environments: tuple[str, ...], s3) -> dict[str, str | bytes]:
    """Every file the module gets, by path relative to it (templates and code/)."""
    outputs: dict[str, str | bytes] = {}
    for environment in environments:
        load_environment(environment)  # an unknown one fails before any render
    _ensure_bucket(s3)
    for environment in environments:
        template, files = render_template(environment, s3)
        outputs[template_path(Path(), environment).as_posix()] = template
        for key, body in files.items():
            outputs[f"code/{key}"] = body
    return outputs


def _ensure_bucket(s3) -> None:
    """SDK v3 uploads the step code to the render's bucket: it must exist."""
    try:
        s3.head_bucket(Bucket=BUCKET)
    except ClientError:
        s3.create_bucket(Bucket=BUCKET)


def write(outputs: dict[str, str | bytes], output_dir: Path) -> None:
    """Replace the module's generated files (a stale code file would be uploaded too)."""
    shutil.rmtree(output_dir / "code", ignore_errors=True)
    for relative, content in sorted(outputs.items()):
        path = output_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].strip("`: "))
    parser.add_argument("-o", "--output-dir", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "-e", "--environment", action="append", help=f"default: {', '.join(ENVIRONMENTS)}"
    )
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, s3=None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level)
    environments = tuple(args.environment or ENVIRONMENTS)
    try:
        if s3 is None:
            import boto3

            s3 = boto3.client("s3", region_name=REGION)
        outputs = render_all(environments, s3)
    except (UsageError, ConfigError) as err:
        print(f"render_template: {err}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as err:
        print(
            f"render_template: AWS call failed ({err}); with no AWS account, render in the "
            "sandbox: python -m sandbox exec -- python -m pipelines.render_template",
            file=sys.stderr,
        )
        return 1
    write(outputs, args.output_dir)
    for relative in sorted(outputs):
        if relative.endswith(".tftpl"):
            print(f"wrote {args.output_dir / relative}")
    print(
        f"wrote {sum(1 for r in outputs if r.startswith('code/'))} code files under "
        f"{args.output_dir / 'code'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
