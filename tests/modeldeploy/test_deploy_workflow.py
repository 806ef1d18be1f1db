"""The merge-to-deploy path of .github/workflows/deploy.yml, end to end in the sandbox: the
build, staging and production jobs' own `run:` lines (build.py -> staging deploy -> smoke
test -> prod deploy -> smoke test), as GitHub runs them, one job after the other in one
working directory (standing for the deploy-configs artifact the jobs upload and download).
The OIDC and checkout steps are actions, not commands: the sandbox's credentials stand for
the role they assume."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from sandbox.constants import DEFAULT_BUCKET
from tests.modeldeploy.conftest import ROLE

ROOT = Path(__file__).parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"
# The steps after checkout, credentials and install, job by job, in the jobs' order (needs:);
# `batch`: a stage config's BatchTransform target, after the endpoint (none by default).
MERGE_PATH = [("build", "build")] + [
    (job, step) for job in ("staging", "production") for step in ("deploy", "smoke", "batch")
]
_EXPRESSION = re.compile(r"\$\{\{\s*vars\.(\w+)\s*\}\}")


def job_steps() -> dict[tuple[str, str], str]:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    return {(job, s["id"]): s.get("run") for job in jobs for s in jobs[job]["steps"]}


def with_variables(script: str, variables: dict[str, str]) -> str:
    """`${{ vars.NAME }}` filled in, as GitHub does before the shell sees the line."""
    return _EXPRESSION.sub(lambda m: variables[m.group(1)], script)


def served_package(sagemaker, endpoint: str) -> str:
    config = sagemaker.describe_endpoint_config(
        EndpointConfigName=sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    )
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    return model["PrimaryContainer"]["ModelPackageName"]


def run_jobs(sandbox, work: Path, project: str, steps: list[tuple[str, str]]) -> dict:
    """The steps' `run:` lines in `work`, as the jobs run them; each one's stdout by step."""
    variables = {
        "MODEL_EXECUTION_ROLE_ARN": ROLE,
        "SAGEMAKER_PROJECT_ID": "p-test1234",
        "ARTIFACT_BUCKET": DEFAULT_BUCKET,
    }
    environment = {
        **os.environ,
        **sandbox.environment,
        "PROJECT": project,  # the workflow's env: vars.SAGEMAKER_PROJECT_NAME
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        # Behaviour, not speed, is under test: a busy machine must not fail the smoke test.
        "LATENCY_BUDGET_MS": "5000",
    }
    scripts = job_steps()
    outputs = {}
    for job, step_id in steps:
        script = scripts[(job, step_id)]
        assert script, (job, step_id)
        done = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", with_variables(script, variables)],
            cwd=work,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, (job, step_id, done.stdout[-3000:], done.stderr[-3000:])
        outputs[job, step_id] = done.stdout
    return outputs


def test_a_merge_deploys_staging_then_prod_with_the_workflows_own_commands(
    registry, sandbox, tmp_path
):
    project = "wf-merge"  # as on AWS (and in the demo), the package group is the project's
    approved = registry.register(project)
    registry.register(project, status="PendingManualApproval")  # newer, never deployed
    # The jobs' working directory: a checkout (modeldeploy/); `python` is the project's.
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "modeldeploy").symlink_to(ROOT / "modeldeploy")
    outputs = run_jobs(sandbox, work, project, MERGE_PATH)

    sagemaker = sandbox.client("sagemaker")
    for stage in ("staging", "prod"):
        assert served_package(sagemaker, f"{project}-{stage}") == approved
        assert (work / f"{stage}-results.json").is_file()
    prod_deploy, prod_smoke = outputs["production", "deploy"], outputs["production", "smoke"]
    assert f"Deploying {approved} to {project}-prod" in prod_deploy
    assert f"Smoke test of {project}-prod passed" in prod_deploy
    assert f"{project}-prod: passed" in prod_smoke
    # No stage config asks for a batch transform.
    assert outputs["staging", "batch"] == outputs["production", "batch"] == ""
    stacks = sandbox.client("cloudformation").describe_stacks()["Stacks"]
    assert not [s["StackName"] for s in stacks if s["StackName"].startswith(f"{project}-prod-b")]


def test_a_prod_config_with_batch_transform_also_deploys_and_smoke_tests_it(
    registry, sandbox, tmp_path
):
    project = "wf-batch"
    approved = registry.register(project)
    work = tmp_path / "checkout"
    shutil.copytree(ROOT / "modeldeploy", work / "modeldeploy", ignore=_caches)
    prod_config = work / "modeldeploy" / "prod-config.json"
    config = json.loads(prod_config.read_text())
    config["BatchTransform"] = {"Parameters": {"ScheduleExpression": "rate(1 day)"}}
    prod_config.write_text(json.dumps(config))
    outputs = run_jobs(sandbox, work, project, MERGE_PATH)

    staging_batch, prod_batch = outputs["staging", "batch"], outputs["production", "batch"]
    assert staging_batch == ""  # staging's config has no BatchTransform
    assert f"Deploying {approved} to {project}-prod-batch" in prod_batch
    assert f"Batch smoke test of {project}-prod-batch passed" in prod_batch
    schedule = sandbox.client("scheduler").get_schedule(Name=f"{project}-prod-batch")
    assert schedule["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:sagemaker:createTransformJob"
    assert served_package(sandbox.client("sagemaker"), f"{project}-prod") == approved


def _caches(folder, names):
    return [n for n in names if n == "__pycache__"]
