"""A buildspec's build phase, run as CodeBuild runs it, on this machine.

Like CodeBuild: one shell for the whole phase (so `export` carries over), the buildspec's
`env.variables` overridden by the project's variables and those by the action's,
`CODEBUILD_SRC_DIR` (and `CODEBUILD_SRC_DIR_<artifact>` for secondary sources), a failed
command fails the build, `exported-variables` read after the phase, artifact file names
expanded with the final variables. The install phase is not run: the project virtualenv
already holds what it installs (the venv's bin/ comes first on PATH).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from sandbox.demo.progress import StageLog


class BuildspecError(ValueError):
    """The buildspec has no build phase, or is not a buildspec."""


@dataclass
class BuildResult:
    exported: dict[str, str]
    artifact_files: list[Path]


def load(path: Path) -> dict:
    try:
        spec = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise BuildspecError(f"{path}: {err}") from None
    if not isinstance(spec, dict) or not spec.get("phases", {}).get("build", {}).get("commands"):
        raise BuildspecError(f"{path}: no phases.build.commands")
    for index, command in enumerate(spec["phases"]["build"]["commands"]):
        if not isinstance(command, str):  # e.g. an unquoted "key: value" read as a mapping
            raise BuildspecError(f"{path}: phases.build.commands[{index}] is not a string")
    return spec


def phase_script(commands: list[str], exported: list[str], exports_file: Path) -> str:
    """One bash script: the commands, stopping at the first failure, then the exports."""
    dump = (
        f"{shlex.quote(sys.executable)} -c "
        '\'import json, os, sys; json.dump({k: os.environ.get(k, "") for k in sys.argv[2:]}, '
        f'open(sys.argv[1], "w"))\' {shlex.quote(str(exports_file))} '
        + " ".join(shlex.quote(name) for name in exported)
    )
    lines = ["set -eo pipefail"]
    for command in commands:
        lines.append(f"echo {shlex.quote('[Container] Running command ' + command.strip())}")
        lines.append(command)
    lines += [f"export {name}" for name in exported] + [dump]
    return "\n".join(lines) + "\n"


def run_build_phase(
    spec_path: Path,
    source_dir: Path,
    project_variables: dict[str, str],
    secondary_sources: dict[str, Path],
    base_environment: dict[str, str],
    log: StageLog,
) -> BuildResult:
    spec = load(spec_path)
    env_section = spec.get("env") or {}
    variables = {k: str(v) for k, v in (env_section.get("variables") or {}).items()}
    variables |= project_variables
    exported = list(env_section.get("exported-variables") or [])
    environment = {
        **base_environment,
        **variables,
        "CODEBUILD_SRC_DIR": str(source_dir),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{base_environment.get('PATH', '')}",
    }
    for name, path in secondary_sources.items():
        environment[f"CODEBUILD_SRC_DIR_{name}"] = str(path)
    exports_file = source_dir / ".codebuild-exported.json"
    script = phase_script(spec["phases"]["build"]["commands"], exported, exports_file)
    log.run(["bash", "-c", script], environment, cwd=source_dir)
    exported_values = json.loads(exports_file.read_text())
    final = {**environment, **exported_values}
    files = [
        source_dir / _expand(name, final) for name in (spec.get("artifacts") or {}).get("files", [])
    ]
    missing = [str(path.relative_to(source_dir)) for path in files if not path.is_file()]
    if missing:
        raise BuildspecError(f"{spec_path.name}: artifact file(s) not produced: {missing}")
    return BuildResult(exported=exported_values, artifact_files=files)


def _expand(text: str, variables: dict[str, str]) -> str:
    for name in sorted(variables, key=len, reverse=True):
        text = text.replace(f"${{{name}}}", variables[name]).replace(f"${name}", variables[name])
    return text
