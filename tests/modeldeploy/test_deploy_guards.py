"""deploy.py never leaves prod broken: it refuses, before any change set, a config the
template would refuse, a package that is missing or not Approved, and a prod deploy of
anything but the package that passed staging; a failed deploy leaves no change set behind;
a failed smoke test after a prod update puts the previous configuration back."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from botocore.exceptions import ClientError

from modeldeploy import deploy
from modeldeploy.deploy import StackDeployer
from modeldeploy.manifest import MANIFEST_FILE
from modeldeploy.smoke import served_package
from modeldeploy.stage_config import TEMPLATE

MISSING_PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/nobody-group/7"


def _serving(registry, endpoint: str) -> str:
    described = registry.sagemaker.describe_endpoint(EndpointName=endpoint)
    return served_package(registry.sagemaker, described)


def _stack_exists(name: str) -> bool:
    return StackDeployer(boto3.client("cloudformation"), name).describe() is not None


def _pending_change_sets(stack: str) -> list[str]:
    """Change sets of `stack` that were never executed (AWS drops executed ones)."""
    try:
        summaries = boto3.client("cloudformation").list_change_sets(StackName=stack)["Summaries"]
    except ClientError:
        return []
    return [s["ChangeSetName"] for s in summaries if s["ExecutionStatus"] != "EXECUTE_COMPLETE"]


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def _edit(path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def _invoke_sample(registry, endpoint: str) -> list:
    runtime = boto3.client("sagemaker-runtime")
    sample = registry.churn_contract["sample"][0]
    body = json.dumps({"instances": [sample]})
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=body, ContentType="application/json"
    )
    return json.loads(answer["Body"].read())["predictions"]


def _set_count(value):
    return lambda doc: doc["Parameters"].__setitem__("EndpointInstanceCount", value)


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda path: path.write_text("[]"), "must be an object with a 'Parameters' object"),
        (
            lambda path: path.write_text('{"Parameters": "oops"}'),
            "must be an object with a 'Parameters' object",
        ),
        (
            lambda path: _edit(path, _set_count("abc")),
            "parameter EndpointInstanceCount='abc' is not a number",
        ),
        (lambda path: _edit(path, _set_count(0)), "parameter EndpointInstanceCount=0 is below 1"),
        (
            lambda path: _edit(path, lambda doc: doc["Parameters"].pop("ModelPackageName")),
            "no value for template parameter(s) ModelPackageName",
        ),
        (
            lambda path: _edit(path, lambda doc: doc.__setitem__("Tags", ["a"])),
            "'Tags' must be an object",
        ),
    ],
    ids=["json-array", "parameters-string", "count-abc", "count-zero", "no-package", "tags-list"],
)
def test_a_bad_config_is_one_line_and_creates_nothing(registry, flow, capsys, write, message):
    registry.register(flow.group)
    assert flow.build() == 0
    config = flow.path("staging-config-export.json")
    write(config)
    capsys.readouterr()
    assert flow.deploy("staging", with_manifest=False) == 2
    assert _one_line(capsys.readouterr().err) == f"deploy.py: {config}: {message}"
    assert not _stack_exists(f"{flow.project}-staging")


def test_prod_with_a_package_that_does_not_exist_is_refused(registry, flow, capsys):
    good = registry.register(flow.group)
    assert flow.promote() == (0, 0, 0, 0, 0)
    config = flow.path("prod-config-export.json")
    _edit(config, lambda doc: doc["Parameters"].__setitem__("ModelPackageName", MISSING_PACKAGE))
    _edit(
        flow.path(MANIFEST_FILE), lambda doc: doc.__setitem__("model_package_arn", MISSING_PACKAGE)
    )
    capsys.readouterr()
    assert flow.deploy("prod") == 2
    assert _one_line(capsys.readouterr().err) == (
        f"deploy.py: {config}: parameter ModelPackageName: model package {MISSING_PACKAGE} "
        "does not exist"
    )
    assert _serving(registry, f"{flow.project}-prod") == good
    assert _invoke_sample(registry, f"{flow.project}-prod")
    assert _pending_change_sets(f"{flow.project}-prod") == []


def test_prod_without_the_promotion_manifest_is_refused(registry, flow, capsys):
    registry.register(flow.group)
    assert flow.build() == 0
    flow.path(MANIFEST_FILE).unlink()
    capsys.readouterr()
    assert flow.deploy("prod", with_manifest=False) == 2
    assert "deploying to prod needs the promotion manifest" in _one_line(capsys.readouterr().err)
    assert not _stack_exists(f"{flow.project}-prod")


def test_prod_checks_the_manifest_beside_its_config_when_none_is_given(registry, flow, capsys):
    registry.register(flow.group)
    assert flow.build() == 0  # the manifest is written beside the configs, as in an artifact
    other = registry.register(flow.group)
    config = flow.path("prod-config-export.json")
    _edit(config, lambda doc: doc["Parameters"].__setitem__("ModelPackageName", other))
    capsys.readouterr()
    assert flow.deploy("prod", with_manifest=False) == 2
    assert "refusing to deploy a package that did not pass staging" in capsys.readouterr().err
    assert not _stack_exists(f"{flow.project}-prod")


def test_a_package_that_is_not_approved_is_refused(registry, flow, capsys):
    registry.register(flow.group)
    assert flow.build() == 0
    pending = registry.register(flow.group, status="PendingManualApproval")
    config = flow.path("staging-config-export.json")
    _edit(config, lambda doc: doc["Parameters"].__setitem__("ModelPackageName", pending))
    capsys.readouterr()
    assert flow.deploy("staging", with_manifest=False) == 2
    assert _one_line(capsys.readouterr().err) == (
        f"deploy.py: {config}: parameter ModelPackageName: model package {pending} is "
        "PendingManualApproval, not Approved"
    )
    assert not _stack_exists(f"{flow.project}-staging")


def test_a_failed_prod_smoke_test_restores_the_previous_configuration(
    registry, flow, failing_archive, capsys
):
    good = registry.register(flow.group)
    assert flow.promote() == (0, 0, 0, 0, 0)
    # A package that loads but cannot score, as if it had passed staging (a prod-only
    # failure): with no traffic during its canary no alarm sees it; the smoke test does.
    failing = registry.register(flow.group, archive=failing_archive)
    _edit(
        flow.path("prod-config-export.json"),
        lambda doc: doc["Parameters"].__setitem__("ModelPackageName", failing),
    )
    _edit(flow.path(MANIFEST_FILE), lambda doc: doc.__setitem__("model_package_arn", failing))
    capsys.readouterr()
    assert flow.deploy("prod") == 1
    out, err = capsys.readouterr()
    assert "Stack " + f"{flow.project}-prod updated" in out
    assert "FAIL csv-predictions" in out and "the new model cannot score" in out
    assert "restoring the previous endpoint configuration" in out
    line = _one_line(err)
    assert line.startswith(f"deploy.py: smoke test of {flow.project}-prod failed (csv-predictions:")
    assert line.endswith(
        f"restored {flow.project}-prod to its previous configuration, serving {good}"
    )
    endpoint = registry.sagemaker.describe_endpoint(EndpointName=f"{flow.project}-prod")
    assert endpoint["EndpointStatus"] == "InService"
    assert _serving(registry, f"{flow.project}-prod") == good
    assert _invoke_sample(registry, f"{flow.project}-prod")
    assert _pending_change_sets(f"{flow.project}-prod") == []


def test_a_prod_package_that_cannot_load_never_takes_traffic(registry, flow, capsys):
    good = registry.register(flow.group)
    assert flow.promote() == (0, 0, 0, 0, 0)
    broken = registry.register(flow.group, broken=True)
    _edit(
        flow.path("prod-config-export.json"),
        lambda doc: doc["Parameters"].__setitem__("ModelPackageName", broken),
    )
    _edit(flow.path(MANIFEST_FILE), lambda doc: doc.__setitem__("model_package_arn", broken))
    capsys.readouterr()
    # The blue/green update's new fleet fails to start: the endpoint stays on the old
    # fleet, the stack rolls back, and deploy.py says so.
    assert flow.deploy("prod") == 1
    line = _one_line(capsys.readouterr().err)
    assert f"{flow.project}-prod ended UPDATE_ROLLBACK_COMPLETE" in line
    assert _failure(registry, broken) in line
    assert line.endswith(f"({good}) again")
    assert _serving(registry, f"{flow.project}-prod") == good
    assert _invoke_sample(registry, f"{flow.project}-prod")
    assert _pending_change_sets(f"{flow.project}-prod") == []


def _failure(registry, package: str) -> str:
    url = registry.sagemaker.describe_model_package(ModelPackageName=package)[
        "InferenceSpecification"
    ]["Containers"][0]["ModelDataUrl"]
    return f"model at {url} failed to load: weights missing"


def test_change_set_names_are_unique_and_valid():
    names = [deploy.change_set_name() for _ in range(2000)]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-zA-Z][-a-zA-Z0-9]{0,127}", name) for name in names)


def _template_and_config(flow) -> tuple[str, dict]:
    config = deploy.load_template_config(flow.path("staging-config-export.json"))
    return TEMPLATE.read_text(), config


def test_an_interrupted_first_deploy_leaves_no_stack_and_no_change_set(registry, flow):
    registry.register(flow.group)
    assert flow.build() == 0
    stack = f"{flow.project}-staging"

    def interrupt(line: str) -> None:
        if "change:" in line:  # after the change set is made, before it runs: Ctrl-C
            raise KeyboardInterrupt

    deployer = StackDeployer(boto3.client("cloudformation"), stack, emit=interrupt, poll_seconds=0)
    with pytest.raises(KeyboardInterrupt):
        deployer.deploy(*_template_and_config(flow), timeout=10)
    assert _pending_change_sets(stack) == []
    assert not _stack_exists(stack)


def test_an_update_whose_execution_fails_leaves_no_change_set(registry, flow):
    registry.register(flow.group)
    assert flow.build() == 0 and flow.deploy("staging") == 0
    newer = registry.register(flow.group)
    stack = f"{flow.project}-staging"
    cloudformation = boto3.client("cloudformation")

    def refuse(**_kwargs):
        raise ClientError(
            {"Error": {"Code": "InsufficientCapabilities", "Message": "refused"}},
            "ExecuteChangeSet",
        )

    cloudformation.meta.events.register("before-call.cloudformation.ExecuteChangeSet", refuse)
    template, config = _template_and_config(flow)
    config["Parameters"]["ModelPackageName"] = newer
    with pytest.raises(ClientError):
        StackDeployer(cloudformation, stack, emit=lambda _: None, poll_seconds=0).deploy(
            template, config, timeout=10
        )
    assert _pending_change_sets(stack) == []
    assert StackDeployer(cloudformation, stack).stack_status() == "CREATE_COMPLETE"
