"""The deploy pipeline as `codepipeline/model-deploy.yml` declares it, run on the sandbox.

Stages and actions come from the template, in order. Each action type becomes what it does
on AWS, locally:
- Source (CodeStar connection): the working tree's files (tracked and untracked, not
  ignored) as the SourceArtifact.
- CodeBuild: the project's buildspec, build phase, run by `sandbox.demo.buildspec` with the
  project's and the action's environment variables.
- CloudFormation: `modeldeploy/deploy.py` with the artifact's template and configuration.
- Manual approval: a prompt when interactive, else an auto-approval that says so.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.demo import buildspec
from sandbox.demo.progress import Progress, StageFailed, StageLog
from sandbox.demo.template import Template, TemplateError

_VARIABLE = re.compile(r"#\{(\w+)\.(\w+)\}")
DEPLOY_SCRIPT = Path("modeldeploy/deploy.py")


@dataclass(frozen=True)
class Action:
    stage: str
    name: str
    category: str
    provider: str
    configuration: dict
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    namespace: str | None
    role_arn: str | None = None  # the action's own role (a stage account's, cross-account)


def pipeline_actions(template: Template) -> list[Action]:
    """Every action of the template's CodePipeline, stage by stage, resolved."""
    _, pipeline = template.resource_of_type("AWS::CodePipeline::Pipeline")
    actions = []
    for stage in template.resolve(pipeline["Properties"]["Stages"]):
        for action in stage["Actions"]:
            kind = action["ActionTypeId"]
            actions.append(
                Action(
                    stage=stage["Name"],
                    name=action["Name"],
                    category=kind["Category"],
                    provider=kind["Provider"],
                    configuration=action.get("Configuration", {}),
                    inputs=tuple(a["Name"] for a in action.get("InputArtifacts", [])),
                    outputs=tuple(a["Name"] for a in action.get("OutputArtifacts", [])),
                    namespace=action.get("Namespace"),
                    role_arn=action.get("RoleArn"),
                )
            )
    return actions


def codebuild_project(template: Template, project_name: str) -> dict:
    """The CodeBuild project (resolved properties) an action's ProjectName names."""
    for logical_id, resource in template.body["Resources"].items():
        if resource["Type"] != "AWS::CodeBuild::Project":
            continue
        if template.resolve(resource["Properties"].get("Name", logical_id)) == project_name:
            return template.resolve(resource["Properties"])
    raise TemplateError(f"{template.path}: no CodeBuild project named {project_name!r}")


@dataclass
class DeployPipelineRun:
    """One execution of the deploy pipeline: artifacts, exported variables, stage results."""

    template: Template
    workspace: Path
    repo: Path
    environment: dict[str, str]
    progress: Progress
    approve: Callable[[str], bool]
    poll_seconds: float = 0.5
    # Like `aws codebuild start-build --environment-variables-override`: wins over all.
    codebuild_overrides: dict[str, str] = field(default_factory=dict)
    # The same for one stage's CodeBuild action only (stage name -> variables), e.g. to
    # make one smoke test fail and watch what the pipeline does about it.
    stage_overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    # Files a commit changes in the source (path in the repository -> content).
    source_changes: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)
    variables: dict[str, dict[str, str]] = field(default_factory=dict)
    stages_run: list[str] = field(default_factory=list)
    commit: str = "unknown"

    def run(self) -> None:
        """Every stage in order; raises StageFailed at the first that fails."""
        if self.workspace.exists():
            shutil.rmtree(self.workspace)
        self.workspace.mkdir(parents=True)
        for action in pipeline_actions(self.template):
            detail = f"{action.category}/{action.provider}"
            with self.progress.stage(f"{action.stage}", detail) as log:
                self.stages_run.append(action.stage)
                handler = {
                    "CodeStarSourceConnection": self._source,
                    "CodeBuild": self._codebuild,
                    "CloudFormation": self._cloudformation,
                    "Manual": self._manual_approval,
                }.get(action.provider)
                if handler is None:
                    raise StageFailed(action.stage, f"the sandbox cannot run {detail} actions")
                handler(action, log)

    # --- action types ----------------------------------------------------------------------

    def _source(self, action: Action, log: StageLog) -> None:
        target = self._new_artifact(action.outputs[0])
        files = source_files(self.repo)
        for relative in files:
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.repo / relative, destination)
        for relative, content in self.source_changes.items():
            (target / relative).write_text(content)
            log.say(f"{relative}: changed by this run's commit")
        self.commit = source_commit(self.repo)
        branch = action.configuration.get("BranchName", "")
        log.say(
            f"{action.configuration.get('FullRepositoryId', 'repository')}@{branch}: "
            f"{len(files)} files of the working tree ({self.commit}) as {action.outputs[0]}"
        )

    def _codebuild(self, action: Action, log: StageLog) -> None:
        project = codebuild_project(self.template, action.configuration["ProjectName"])
        primary = action.configuration.get("PrimarySource", action.inputs[0])
        build_dir = self.workspace / "builds" / action.stage
        shutil.copytree(self.artifacts[primary], build_dir)  # CodeBuild unpacks a fresh copy
        secondary = {name: self.artifacts[name] for name in action.inputs if name != primary}
        variables = {
            v["Name"]: str(v["Value"])
            for v in project["Environment"].get("EnvironmentVariables", [])
        }
        overrides = json.loads(action.configuration.get("EnvironmentVariables", "[]"))
        variables |= {v["name"]: v["value"] for v in overrides}
        variables["CODEBUILD_RESOLVED_SOURCE_VERSION"] = self.commit
        variables |= self.codebuild_overrides
        variables |= self.stage_overrides.get(action.stage, {})
        spec_path = build_dir / project["Source"]["BuildSpec"]
        log.say(f"project {action.configuration['ProjectName']}: {project['Source']['BuildSpec']}")
        result = buildspec.run_build_phase(
            spec_path, build_dir, variables, secondary, self.environment, log
        )
        if action.namespace:
            self.variables[action.namespace] = result.exported
        for name in action.outputs:
            target = self._new_artifact(name)
            for path in result.artifact_files:
                shutil.copy2(path, target / path.name)
            log.say(f"{name}: {', '.join(p.name for p in result.artifact_files)}")

    def _cloudformation(self, action: Action, log: StageLog) -> None:
        config = action.configuration
        command = deploy_command(
            self.repo,
            config["StackName"],
            self._artifact_path(config["TemplatePath"]),
            self._artifact_path(config["TemplateConfiguration"]),
            self.poll_seconds,
        )
        if action.role_arn:
            log.say(f"action role {action.role_arn}, stack role {config['RoleArn']}")
        output = log.run(command, self.environment, cwd=self.repo)
        # Cross-account: CodePipeline would run the action as the stage account's deploy
        # role; deploy.py assumes the role of the account the stage config names. They must
        # be the same role, or the template and the stage configs disagree.
        if action.role_arn and not any(f"as {action.role_arn}" in line for line in output):
            raise StageFailed(
                action.stage,
                f"the action's RoleArn is {action.role_arn}, but deploy.py did not deploy as "
                "it: the stage config names another account (or none)",
            )

    def _manual_approval(self, action: Action, log: StageLog) -> None:
        message = self.substitute(action.configuration.get("CustomData", "Approve?"))
        log.say(message)
        if not self.approve(message):
            raise StageFailed(action.stage, "rejected at the manual approval; prod is unchanged")

    # --- helpers ---------------------------------------------------------------------------

    def substitute(self, text: str) -> str:
        """`#{Namespace.Variable}` as CodePipeline fills it from an action's output."""
        return _VARIABLE.sub(
            lambda m: self.variables.get(m.group(1), {}).get(m.group(2), m.group(0)), text
        )

    def _new_artifact(self, name: str) -> Path:
        path = self.workspace / "artifacts" / name
        path.mkdir(parents=True)
        self.artifacts[name] = path
        return path

    def _artifact_path(self, reference: str) -> Path:
        """`Artifact::path/in/it` as the CloudFormation action reads it."""
        artifact, _, relative = reference.partition("::")
        return self.artifacts[artifact] / relative


def deploy_command(
    repo: Path, stack: str, template: Path, config: Path, poll_seconds: float = 0.5
) -> list[str]:
    """`modeldeploy/deploy.py` for one stack: what a CloudFormation deploy becomes here.
    The native action tests nothing: the pipeline's own test stage smoke-tests after it."""
    return [
        sys.executable,
        str(repo / DEPLOY_SCRIPT),
        "--no-smoke-test",
        "--stack-name",
        stack,
        "--template-file",
        str(template),
        "--config-file",
        str(config),
        "--poll-seconds",
        str(poll_seconds),
    ]


def source_files(repo: Path) -> list[str]:
    """The files a push would carry: tracked and untracked, minus what .gitignore excludes."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (repo / name).is_file()]


def source_commit(repo: Path) -> str:
    """HEAD's commit, marked `-dirty` when the working tree has changes (it ships those)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if changes else head
