"""deploy-preview in the sandbox: the change set a deploy would execute, as Markdown, and
nothing left behind; the deploy workflow's own preview commands; the deploy pipeline's
path-filtered trigger and the approval that shows the preview."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from modeldeploy import preview
from modeldeploy.manifest import MANIFEST_FILE
from modeldeploy.stage_config import _CfnLoader
from sandbox.constants import DEFAULT_BUCKET
from tests.modeldeploy.conftest import ROLE, Flow

ROOT = Path(__file__).parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"
DEPLOY_PIPELINE = ROOT / "codepipeline" / "model-deploy.yml"
# The endpoint template's resources with Condition IsProd.
PROD_ONLY = {"ScalableTarget", "InvocationsScalingPolicy"}


def run_preview(flow, stage: str, *extra: str) -> tuple[int, str]:
    """deploy-preview for one of the flow's stages; returns (exit code, the Markdown)."""
    output = flow.path(f"preview-{stage}.md")
    output.unlink(missing_ok=True)
    argv = [
        "--stack-name",
        f"{flow.project}-{stage}",
        "--config-file",
        str(flow.path(f"{stage}-config-export.json")),
        "--output",
        str(output),
        "--poll-seconds",
        "0.1",
        *extra,
    ]
    code = preview.main(argv)
    return code, output.read_text() if output.exists() else ""


def leftovers(sandbox, project: str) -> tuple[list[str], list[str]]:
    """The project's live stacks and its change sets left behind (moto lists every
    stack's change sets, whatever StackName says)."""
    cloudformation = sandbox.client("cloudformation")
    stacks = sorted(
        s["StackName"]
        for s in cloudformation.list_stacks()["StackSummaries"]
        if s["StackName"].startswith(project) and s["StackStatus"] != "DELETE_COMPLETE"
    )
    # A preview's, or any not executed (moto also lists the ones a deploy executed).
    change_sets = [
        c["ChangeSetName"]
        for c in cloudformation.list_change_sets(StackName="any")["Summaries"]
        if c["StackName"].startswith(project)
        and (c["ChangeSetName"].startswith("preview-") or c["ExecutionStatus"] == "AVAILABLE")
    ]
    return stacks, change_sets


def rows(markdown: str) -> dict[str, list[str]]:
    """The resources table: {logical id: [action, type, replacement, what changes]}."""
    found = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and cells[0] in ("Add", "Modify", "Remove"):
            found[cells[1].strip("`")] = [cells[0], *cells[2:]]
    return found


def test_first_deploy_preview_adds_the_stage_resources_and_leaves_nothing(flow, registry, sandbox):
    arn = registry.register(flow.group)
    assert flow.build() == 0

    code, markdown = run_preview(flow, "staging")

    assert code == 0, markdown
    headline = markdown.splitlines()[0]
    assert headline.startswith(f"### staging: `{flow.project}-staging` does not exist yet")
    added = rows(markdown)
    assert added["Model"] == ["Add", "AWS::SageMaker::Model", "—", "—"]
    assert added["EndpointConfig"] == ["Add", "AWS::SageMaker::EndpointConfig", "—", "—"]
    assert added["Endpoint"] == ["Add", "AWS::SageMaker::Endpoint", "—", "—"]
    assert not PROD_ONLY & set(added)  # their Condition (IsProd) is false in staging
    assert f"version 1, Approved: `{arn}`" in markdown
    assert "| auc | 0.9 |" in markdown
    assert f"| ModelPackageName | — | `{arn}` |" in markdown
    assert leftovers(sandbox, flow.project) == ([], [])


def test_prod_preview_of_a_first_deploy_adds_the_prod_only_scaling(flow, registry, sandbox):
    registry.register(flow.group)
    assert flow.build() == 0

    code, markdown = run_preview(flow, "prod")

    assert code == 0, markdown
    added = rows(markdown)
    assert {"Model", "EndpointConfig", "Endpoint"} | PROD_ONLY <= set(added)
    assert {row[0] for row in added.values()} == {"Add"}
    assert leftovers(sandbox, flow.project) == ([], [])


def test_preview_of_a_new_package_shows_replacements_and_the_package_before_and_after(
    flow, registry, sandbox
):
    first = registry.register(flow.group)
    assert flow.build() == 0
    assert flow.deploy("staging") == 0
    second = registry.register(flow.group)
    assert flow.build() == 0

    code, markdown = run_preview(flow, "staging")

    assert code == 0, markdown
    assert markdown.splitlines()[0] == (
        f"### staging: `{flow.project}-staging` would be updated "
        "(0 added, 3 modified, 0 removed, 1 replaced, 1 maybe replaced)"
    )
    assert rows(markdown) == {
        "Model": [
            "Modify",
            "AWS::SageMaker::Model",
            "**True**",
            "PrimaryContainer (parameter ModelPackageName)",
        ],
        "EndpointConfig": [
            "Modify",
            "AWS::SageMaker::EndpointConfig",
            "Conditional",
            "ProductionVariants (Model.ModelName)",
        ],
        "Endpoint": [
            "Modify",
            "AWS::SageMaker::Endpoint",
            "False",
            "EndpointConfigName (EndpointConfig.EndpointConfigName)",
        ],
    }
    assert f"| ModelPackageName | `{first}` | `{second}` |" in markdown
    assert f"version 2, Approved: `{second}`" in markdown
    assert f"Served now: version 1, Approved: `{first}`" in markdown
    # Nothing executed: staging still serves the first package, and no change set is left.
    stack = sandbox.client("cloudformation").describe_stacks(StackName=f"{flow.project}-staging")
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Stacks"][0]["Parameters"]}
    assert parameters["ModelPackageName"] == first
    assert leftovers(sandbox, flow.project) == ([f"{flow.project}-staging"], [])


def test_preview_of_an_unchanged_stage_says_no_changes(flow, registry, sandbox):
    registry.register(flow.group)
    assert flow.build() == 0
    assert flow.deploy("staging") == 0

    code, markdown = run_preview(flow, "staging")

    assert code == 0, markdown
    assert markdown.splitlines()[0] == (
        f"### staging: `{flow.project}-staging`: no changes (the deploy leaves it as it is)"
    )
    assert rows(markdown) == {}
    assert leftovers(sandbox, flow.project) == ([f"{flow.project}-staging"], [])


def test_a_stage_config_change_alone_modifies_the_endpoint_config(flow, registry, sandbox):
    registry.register(flow.group)
    assert flow.build() == 0
    assert flow.deploy("staging") == 0
    config = json.loads(flow.path("staging-config-export.json").read_text())
    config["Parameters"]["EndpointInstanceCount"] = "2"
    flow.path("staging-config-export.json").write_text(json.dumps(config))

    code, markdown = run_preview(flow, "staging")

    assert code == 0, markdown
    assert rows(markdown)["EndpointConfig"] == [
        "Modify",
        "AWS::SageMaker::EndpointConfig",
        "**True**",
        "ProductionVariants (parameter EndpointInstanceCount)",
    ]
    assert "Model" not in rows(markdown)
    assert "| EndpointInstanceCount | `1` | `2` |" in markdown


class Interrupting:
    """The sandbox's CloudFormation client, but Ctrl-C arrives as `method` answers (the
    call has reached CloudFormation)."""

    def __init__(self, client, method: str):
        self.client, self.method = client, method

    def __getattr__(self, name):
        call = getattr(self.client, name)
        if name != self.method:
            return call

        def interrupted(**kwargs):
            call(**kwargs)
            raise KeyboardInterrupt

        return interrupted


@pytest.mark.parametrize("method", ["create_change_set", "describe_change_set"])
@pytest.mark.parametrize("deployed", [False, True], ids=["create", "update"])
def test_ctrl_c_during_a_preview_leaves_no_change_set_or_stack(
    registry, sandbox, tmp_path, deployed, method
):
    project = f"ctrl-c-{'update' if deployed else 'create'}-{method.split('_')[0]}"
    flow = Flow(project=project, group=f"{project}-group", folder=tmp_path)
    registry.register(flow.group)
    assert flow.build() == 0
    if deployed:
        assert flow.deploy("staging") == 0
    clients = {
        "cloudformation": Interrupting(sandbox.client("cloudformation"), method),
        "sagemaker": sandbox.client("sagemaker"),
        "s3": sandbox.client("s3"),
    }
    with pytest.raises(KeyboardInterrupt):
        preview.main(
            [
                "--stack-name",
                f"{flow.project}-staging",
                "--config-file",
                str(flow.path("staging-config-export.json")),
            ],
            clients=clients,
        )
    expected = [f"{flow.project}-staging"] if deployed else []
    assert leftovers(sandbox, flow.project) == (expected, [])


class Terminating:
    """The sandbox's CloudFormation client, but SIGTERM (a cancelled CI job, a CodeBuild
    timeout) arrives while the change set is being waited for."""

    def __init__(self, client):
        self.client = client

    def __getattr__(self, name):
        return getattr(self.client, name)

    def describe_change_set(self, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return self.client.describe_change_set(**kwargs)


def test_sigterm_during_a_preview_exits_143_and_leaves_nothing(registry, sandbox, tmp_path):
    flow = Flow(project="sigterm-preview", group="sigterm-preview-group", folder=tmp_path)
    registry.register(flow.group)
    assert flow.build() == 0
    before = signal.getsignal(signal.SIGTERM)
    clients = {
        "cloudformation": Terminating(sandbox.client("cloudformation")),
        "sagemaker": sandbox.client("sagemaker"),
        "s3": sandbox.client("s3"),
    }
    with pytest.raises(SystemExit) as exited:
        preview.main(
            [
                "--stack-name",
                f"{flow.project}-staging",
                "--config-file",
                str(flow.path("staging-config-export.json")),
            ],
            clients=clients,
        )
    assert exited.value.code == 143
    assert leftovers(sandbox, flow.project) == ([], [])
    assert signal.getsignal(signal.SIGTERM) is before  # the caller's handler is back


def test_bad_inputs_fail_in_one_line_and_create_nothing(flow, registry, sandbox, capsys):
    registry.register(flow.group)
    assert flow.build() == 0
    config = json.loads(flow.path("staging-config-export.json").read_text())
    cases = {
        "missing.json": None,
        "array.json": [],
        "bad-count.json": {
            **config,
            "Parameters": {**config["Parameters"], "EndpointInstanceCount": "abc"},
        },
        "rejected.json": {
            **config,
            "Parameters": {
                **config["Parameters"],
                "ModelPackageName": registry.register(flow.group, status="Rejected"),
            },
        },
    }
    for name, content in cases.items():
        if content is not None:
            flow.path(name).write_text(json.dumps(content))
        capsys.readouterr()
        code = preview.main(
            ["--stack-name", f"{flow.project}-staging", "--config-file", str(flow.path(name))]
        )
        err = capsys.readouterr().err
        assert code == 2, (name, err)
        assert err.count("\n") == 1 and err.startswith("deploy-preview: "), (name, err)
        assert name in err, err
    assert "is Rejected, not Approved" in err
    assert leftovers(sandbox, flow.project) == ([], [])


def test_step_summary_without_github_step_summary_is_a_usage_error(
    flow, registry, capsys, monkeypatch
):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    registry.register(flow.group)
    assert flow.build() == 0
    code, _ = run_preview(flow, "staging", "--step-summary")
    assert code == 2
    assert "GITHUB_STEP_SUMMARY is not set" in capsys.readouterr().err


def test_prod_preview_needs_the_promotion_manifest_as_the_deploy_does(
    flow, registry, sandbox, capsys
):
    registry.register(flow.group)
    assert flow.build() == 0
    flow.path(MANIFEST_FILE).unlink()
    code, _ = run_preview(flow, "prod")
    assert code == 2
    assert "promotion manifest" in capsys.readouterr().err


def test_a_stage_in_an_account_of_its_own_is_previewed_there(
    sandbox, registry, tmp_path, monkeypatch
):
    """As deploy.py deploys it: as the stage account's deploy role the manifest names."""
    from tests.modeldeploy.test_multi_account import PROD, STAGING, Accounts, _client

    accounts = Accounts(sandbox, registry, tmp_path, "ma-preview", monkeypatch)
    accounts.foundation(granted=[STAGING, PROD])
    accounts.stage_account(STAGING)
    accounts.stage_account(PROD)
    accounts.act_as_pipeline()
    assert accounts.build(staging=STAGING, prod=PROD) == 0
    assert accounts.deploy("staging") == 0
    flow = Flow(project=accounts.project, group=accounts.project, folder=tmp_path)

    code, staging = run_preview(flow, "staging")
    assert code == 0, staging
    assert staging.startswith("### staging: `ma-preview-staging`: no changes")  # it is there
    code, prod = run_preview(flow, "prod")
    assert code == 0, prod
    assert prod.startswith("### prod: `ma-preview-prod` does not exist yet")
    for account in (STAGING, PROD):
        admin = accounts.in_account(account)
        there = SimpleNamespace(client=lambda service, admin=admin: _client(admin, service))
        expected = ["ma-preview-stage-account"] + (
            ["ma-preview-staging"] if account == STAGING else []
        )
        assert leftovers(there, "ma-preview") == (expected, [])


# --- the deploy workflow's own commands -------------------------------------------------------


def workflow_step(job: str, step_id: str) -> dict:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    return next(s for s in jobs[job]["steps"] if s.get("id") == step_id)


def test_the_workflows_preview_commands_write_the_summary_and_the_comment(
    registry, sandbox, tmp_path
):
    # As on AWS (and in the demo), the package group is named after the project.
    flow = Flow(project="wf-preview", group="wf-preview", folder=tmp_path)
    first = registry.register(flow.group)
    assert flow.build() == 0
    assert flow.deploy("staging") == 0  # staging serves the first package, prod nothing yet
    second = registry.register(flow.group)
    # The job's working directory: a checkout (modeldeploy/) with the project's .venv.
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "modeldeploy").symlink_to(ROOT / "modeldeploy")
    (work / ".venv").symlink_to(ROOT / ".venv")
    summary = work / "summary.md"
    environment = {
        **os.environ,
        **sandbox.environment,
        # What the job's aws-project (or sandbox) step puts in $GITHUB_ENV.
        "PREVIEW_PROJECT": flow.project,
        "SAGEMAKER_PROJECT_ID": "p-test1234",
        "MODEL_EXECUTION_ROLE_ARN": ROLE,
        "ARTIFACT_BUCKET": DEFAULT_BUCKET,
        "PREVIEW_TARGET": "Against the sandbox.",
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    for step_id in ("build", "preview"):
        done = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", workflow_step("preview", step_id)["run"]],
            cwd=work,
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, (step_id, done.stdout, done.stderr)

    comment = (work / "preview.md").read_text()
    assert comment.startswith("## Deploy preview: the change sets merging this would execute")
    assert "Against the sandbox." in comment
    assert f"### staging: `{flow.project}-staging` would be updated" in comment
    assert f"### prod: `{flow.project}-prod` does not exist yet" in comment
    assert f"| ModelPackageName | `{first}` | `{second}` |" in comment
    staging, prod = comment.split("### prod:")
    assert rows(staging)["Model"][:3] == ["Modify", "AWS::SageMaker::Model", "**True**"]
    assert rows(prod)["Model"][:3] == ["Add", "AWS::SageMaker::Model", "—"]
    assert summary.read_text().strip() == comment.strip()
    assert leftovers(sandbox, flow.project) == ([f"{flow.project}-staging"], [])


def test_the_comment_step_updates_one_marked_comment():
    step = workflow_step("preview", "comment")
    assert step["uses"].startswith("actions/github-script@")
    script = step["with"]["script"]
    assert "<!-- deploy-preview -->" in script
    assert "updateComment" in script and "createComment" in script
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["preview"]
    assert job["permissions"]["pull-requests"] == "write"


def test_the_workflow_previews_pull_requests_and_deploys_merges_through_production():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    for event in ("pull_request", "push"):
        assert "modeldeploy/**" in triggers[event]["paths"], event
    assert triggers["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert "pull_request" in jobs["preview"]["if"]
    aws, sandbox_step = workflow_step("preview", "aws"), workflow_step("preview", "sandbox")
    assert aws["uses"].startswith("aws-actions/configure-aws-credentials@")
    assert aws["if"] == "vars.AWS_PREVIEW_ROLE_ARN != ''"
    assert sandbox_step["if"] == "vars.AWS_PREVIEW_ROLE_ARN == ''"
    assert "python -m sandbox up" in sandbox_step["run"]
    assert "AWS_PREVIEW_ROLE_ARN is not set" in sandbox_step["run"]  # the summary says so
    # A merge: build -> staging (deploy + smoke test) -> production's reviewers -> prod.
    assert jobs["staging"]["needs"] == "build" and jobs["production"]["needs"] == "staging"
    assert jobs["production"]["environment"] == "production"
    assert "pull_request" in jobs["build"]["if"]


def test_the_pipelines_preview_buildspec_uploads_the_preview_and_exports_its_headline(
    flow, registry, sandbox, tmp_path
):
    from sandbox.demo import buildspec
    from sandbox.demo.progress import StageLog

    first = registry.register(flow.group)
    assert flow.build() == 0
    assert flow.deploy("staging") == 0
    assert flow.deploy("prod") == 0
    second = registry.register(flow.group)
    assert flow.build() == 0
    # The Build stage's artifact: the configs, the manifest and the packaged template.
    (flow.folder / "template-export.yml").write_text(
        (ROOT / "modeldeploy" / "endpoint-config-template.yml").read_text()
    )
    source = tmp_path / "source"
    (source / "modeldeploy").mkdir(parents=True)
    spec = source / "modeldeploy" / "preview-buildspec.yml"
    spec.write_text((ROOT / "modeldeploy" / "preview-buildspec.yml").read_text())
    with open(os.devnull, "w") as quiet:
        result = buildspec.run_build_phase(
            spec,
            source,
            {"SAGEMAKER_PROJECT_NAME": flow.project, "ARTIFACT_BUCKET": DEFAULT_BUCKET},
            {"BuildArtifact": flow.folder},
            {**os.environ, **sandbox.environment},
            StageLog("PreviewProd", tmp_path / "preview.log", out=quiet),
        )

    headline = result.exported["PREVIEW_HEADLINE"]
    assert headline.startswith(f"prod: `{flow.project}-prod` would be updated (0 added, 3 modified")
    key = "previews/local/preview-prod.md"
    assert result.exported["PREVIEW_URL"].endswith(f"?region=us-east-1&prefix={key}")
    uploaded = sandbox.client("s3").get_object(Bucket=DEFAULT_BUCKET, Key=key)
    markdown = uploaded["Body"].read().decode()
    assert uploaded["ContentType"] == "text/markdown"
    assert markdown == (source / "preview-prod.md").read_text()
    assert f"| ModelPackageName | `{first}` | `{second}` |" in markdown
    assert leftovers(sandbox, flow.project) == (
        [f"{flow.project}-prod", f"{flow.project}-staging"],
        [],
    )


# --- the deploy pipeline (CodePipeline V2) -------------------------------------------------------


def test_deploy_pipeline_runs_on_pushes_to_the_deploy_half_and_approval_shows_the_preview():
    template = yaml.load(DEPLOY_PIPELINE.read_text(), Loader=_CfnLoader)
    resources = template["Resources"]
    pipeline = resources["ModelDeployPipeline"]["Properties"]
    assert pipeline["PipelineType"] == "V2"
    (trigger,) = pipeline["Triggers"]
    assert trigger["ProviderType"] == "CodeStarSourceConnection"
    assert trigger["GitConfiguration"]["SourceActionName"] == "Source"
    (push,) = trigger["GitConfiguration"]["Push"]
    assert push["Branches"]["Includes"] == ["BranchName"]  # !Ref BranchName
    assert push["FilePaths"]["Includes"] == ["modeldeploy/**", "codepipeline/model-deploy.yml"]
    stages = {s["Name"]: s["Actions"] for s in pipeline["Stages"]}
    names = [s["Name"] for s in pipeline["Stages"]]
    assert names.index("PreviewProd") == names.index("ApproveDeployment") - 1
    (preview_action,) = stages["PreviewProd"]
    assert preview_action["ActionTypeId"]["Provider"] == "CodeBuild"
    namespace = preview_action["Namespace"]
    project = resources[preview_action["Configuration"]["ProjectName"]]["Properties"]
    buildspec = yaml.safe_load((ROOT / project["Source"]["BuildSpec"]).read_text())
    commands = " ".join(buildspec["phases"]["build"]["commands"])
    assert "deploy-preview" in commands and "--stack-name" in commands
    exported = buildspec["env"]["exported-variables"]
    (approval,) = stages["ApproveDeployment"]
    configuration = approval["Configuration"]
    for variable in ("PREVIEW_HEADLINE", "PREVIEW_URL"):
        assert variable in exported
    assert f"#{{{namespace}.PREVIEW_HEADLINE}}" in configuration["CustomData"]
    assert configuration["ExternalEntityLink"] == f"#{{{namespace}.PREVIEW_URL}}"
