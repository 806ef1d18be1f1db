"""The pipeline definition template (terraform/modules/sagemaker-pipeline): generated, never
edited by hand, and what Terraform's templatefile() makes of it is what SDK v3 renders."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from pathlib import Path

import pytest

from pipelines import render_template
from pipelines.churn.environment import load_environment
from pipelines.get_pipeline_definition import render_definition
from tests.terraform.conftest import ENVIRONMENTS, Terraform

MODULE = render_template.DEFAULT_OUTPUT
REGENERATE = "python -m sandbox exec -- python -m pipelines.render_template"
# SDK v3 names the training code's prefix after the time of the render; the template after
# the code's content (see pipelines/render_template.py). Both become one mark.
TRAINING_CODE = re.compile(r"-train-[0-9a-f]{14}/|-train-\d{14}/")
# A processing script's prefix: SDK v3 hashes its absolute path too, the template its content.
SCRIPT_CODE = re.compile(r"/code/[0-9a-f]{64}/")


@pytest.fixture(name="aws")
def fixture_aws(sandbox, monkeypatch):
    """boto3 and SDK v3 in this process pointed at the sandbox."""
    for name, value in sandbox.environment.items():
        monkeypatch.setenv(name, value)
    return sandbox


@pytest.fixture(name="rendered", scope="module")
def fixture_rendered(sandbox) -> dict[str, str | bytes]:
    """What the generator writes now, rendered against the sandbox."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in sandbox.environment.items():
            patch.setenv(name, value)
        return render_template.render_all(ENVIRONMENTS, sandbox.client("s3"))


def committed() -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {}
    for path in MODULE.glob("pipeline-definition.*.json.tftpl"):
        files[path.name] = path.read_text()
    for path in (MODULE / "code").rglob("*"):
        if path.is_file():
            files[path.relative_to(MODULE).as_posix()] = path.read_bytes()
    return files


def test_the_committed_template_and_code_are_what_the_generator_writes(rendered):
    on_disk = committed()
    assert sorted(on_disk) == sorted(rendered), f"out of date: run {REGENERATE}"
    stale = [name for name in rendered if on_disk[name] != rendered[name]]
    assert not stale, f"{', '.join(stale)} out of date: run {REGENERATE}"


def test_the_template_has_every_placeholder_and_nothing_region_bound(rendered):
    for environment in ENVIRONMENTS:
        text = rendered[f"pipeline-definition.{environment}.json.tftpl"]
        used = set(re.findall(r"(?<!\$)\$\{(\w+)\}", text))
        assert used == set(render_template.PLACEHOLDERS), environment
        assert ".dkr.ecr." not in text and "us-east-1" not in text
        for sentinel in render_template.BY_SUBSTRING:
            assert sentinel not in text


def test_every_code_uri_of_the_template_is_in_the_module(rendered):
    code = {name.removeprefix("code/") for name in rendered if name.startswith("code/")}
    text = rendered["pipeline-definition.dev.json.tftpl"]
    uris = set(re.findall(r'"s3://\$\{bucket\}/([^"]+)"', text))
    referenced = {u for u in uris if "/code/" in u or "/input/" in u}
    assert referenced, "the template names no step code"
    for key in referenced:
        assert key in code or any(c.startswith(key + "/") for c in code), key


def test_a_template_placeholder_in_the_definition_itself_is_escaped():
    definition = {"Parameters": [], "Steps": [], "Note": "a ${literal} and %{ directive }"}
    text = render_template.to_template(definition)
    assert "$${literal}" in text and "%%{ directive }" in text


def test_a_region_bound_value_it_cannot_place_is_refused():
    definition = {"Steps": [{"Arguments": {"Url": "https://s3.us-east-1.amazonaws.com/x"}}]}
    with pytest.raises(render_template.UsageError, match=r"\$\.Steps\[0\]\.Arguments\.Url"):
        render_template.mark_values(definition)


def _sdk_images(definition: dict) -> dict[str, str]:
    images = {}
    for step in render_template._all_steps(definition["Steps"]):
        arguments = step["Arguments"]
        if step["Type"] == "Processing":
            images["processing_image_uri"] = arguments["AppSpecification"]["ImageUri"]
        elif step["Type"] == "Training":
            images["training_image_uri"] = arguments["AlgorithmSpecification"]["TrainingImage"]
        elif step["Type"] == "RegisterModel":
            images["inference_image_uri"] = arguments["InferenceSpecification"]["Containers"][0][
                "Image"
            ]
    return images


def _templatefile(terraform_binary, terraform_env, folder: Path, template: Path, values: dict):
    """templatefile(template, values), as Terraform evaluates it (a root module with one
    output and no provider)."""
    folder.mkdir()
    (folder / "main.tf").write_text(
        'variable "template" {\n  type = string\n}\n\n'
        'variable "values" {\n  type = any\n}\n\n'
        'output "definition" {\n  value = templatefile(var.template, var.values)\n}\n'
    )
    (folder / "terraform.tfvars.json").write_text(
        json.dumps({"template": str(template), "values": values})
    )
    terraform = Terraform(terraform_binary, folder, terraform_env)
    terraform.run("init", "-input=false", "-no-color")
    terraform.run("apply", "-auto-approve", "-input=false", "-no-color")
    return terraform.run("output", "-raw", "definition").stdout


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_templatefile_gives_what_the_sdk_renders_for_the_same_values(
    aws, terraform_binary, terraform_env, tmp_path, environment
):
    role = f"arn:aws:iam::123456789012:role/churn-{environment}-execution"
    bucket = f"sagemaker-churn-{environment}-templatefile-test"
    group = f"churn-{environment}"
    with contextlib.suppress(aws.client("s3").exceptions.ClientError):
        aws.client("s3").create_bucket(Bucket=bucket)
    sdk = json.loads(
        render_definition(
            "pipelines.churn.pipeline",
            {
                "region": "us-east-1",
                "role": role,
                "default_bucket": bucket,
                "model_package_group_name": group,
                "environment": environment,
            },
        )
    )
    values = {
        "pipeline_role_arn": role,
        "bucket": bucket,
        "model_package_group_name": group,
        "min_roc_auc": load_environment(environment).min_roc_auc,
        "region": "us-east-1",
        **_sdk_images(sdk),
    }
    template = render_template.template_path(MODULE, environment)
    shutil.copy(template, tmp_path / template.name)
    text = _templatefile(
        terraform_binary, terraform_env, tmp_path / "root", tmp_path / template.name, values
    )

    def same_code_mark(document) -> str:
        text = TRAINING_CODE.sub("-train-<code>/", json.dumps(document, sort_keys=True))
        return SCRIPT_CODE.sub("/code/<script>/", text)

    assert same_code_mark(json.loads(text)) == same_code_mark(sdk)
