"""Terraform against the sandbox: the binary, the provider from a local mirror, and a
runner that keeps each root module's working files out of the repository.

Skipped, with the reason, when `terraform` is not on PATH or no provider mirror is found
(the registry is not reachable offline). The mirror is the folder that holds
`registry.terraform.io/hashicorp/aws/<version>/`: $TF_PLUGIN_DIR, else the first of the
places Terraform itself and distributions keep plugins.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# The same search `make demo IAC=terraform` does.
from sandbox.demo.terraform import GO_RUNTIME, find_plugin_dir

REPO = Path(__file__).parents[2]
TERRAFORM_DIR = REPO / "terraform"
ASL = REPO / "orchestration" / "state_machine.asl.json"
ENVIRONMENTS = ("dev", "prod")


@dataclass
class Terraform:
    """`terraform` in one working folder, with its environment; times each command."""

    binary: str
    workdir: Path
    env: dict[str, str]
    plugin_dir: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    destroyed: bool = False

    def command(self, *args: str) -> list[str]:
        return [self.binary, f"-chdir={self.workdir}", *args]

    def run(self, *args: str, timeout: float = 600, ok: tuple[int, ...] = (0,)):
        started = time.monotonic()
        done = subprocess.run(
            self.command(*args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.timings[args[0]] = time.monotonic() - started
        assert done.returncode in ok, (
            f"terraform {' '.join(args)} exited {done.returncode} in {self.workdir}:\n"
            f"{done.stderr[-4000:]}\n{done.stdout[-4000:]}"
        )
        return done

    def destroy(self):
        self.destroyed = True
        return self.run("destroy", "-auto-approve", "-input=false", "-no-color")

    def init(self):
        plugins = [f"-plugin-dir={self.plugin_dir}"] if self.plugin_dir else []
        return self.run("init", "-input=false", "-no-color", *plugins)


@pytest.fixture(name="terraform_binary", scope="session")
def fixture_terraform_binary() -> str:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not on PATH: the Terraform tests need it (1.5 or later)")
    return binary


@pytest.fixture(name="plugin_dir", scope="session")
def fixture_plugin_dir() -> Path:
    root, why_not = find_plugin_dir()
    if root is None:
        pytest.skip(why_not)
    return root


@pytest.fixture(name="terraform_env", scope="session")
def fixture_terraform_env(tmp_path_factory) -> dict[str, str]:
    """No AWS variables of the caller's; no CLI config of the user's; a plugin cache of the
    session's own."""
    folder = tmp_path_factory.mktemp("terraform-cli")
    (folder / "terraformrc").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    env.update(
        {
            **GO_RUNTIME,
            "TF_CLI_CONFIG_FILE": str(folder / "terraformrc"),
            "TF_PLUGIN_CACHE_DIR": str(folder / "plugin-cache"),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
    )
    (folder / "plugin-cache").mkdir()
    return env


@pytest.fixture(name="terraform_tree", scope="module")
def fixture_terraform_tree(tmp_path_factory) -> Iterator[Path]:
    """A copy of terraform/, so state and .terraform/ stay out of the repository, with the
    state machine's ASL file where the orchestration module reads it (../orchestration)."""
    root = tmp_path_factory.mktemp("tree")
    shutil.copytree(TERRAFORM_DIR, root / "terraform")
    (root / "orchestration").mkdir()
    shutil.copy(ASL, root / "orchestration" / ASL.name)
    yield root / "terraform"
