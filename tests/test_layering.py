"""The product stands alone: it never imports the sandbox, the demo, the benchmarks or moto
(the import-linter contract in pyproject.toml), and installing it brings no moto."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """lint-imports on a copy of the packages at `root` (its own import path, no cache)."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{root}:{root / 'modelbuild'}"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _copy_of_the_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in ("modelbuild", "modeldeploy", "orchestration", "sandbox", "benchmarks"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root)
    return root


def test_the_contract_holds_and_fails_on_an_added_import(tmp_path):
    root = _copy_of_the_repo(tmp_path)
    kept = _lint_imports(root)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "1 kept, 0 broken" in kept.stdout

    step = root / "modelbuild" / "pipelines" / "churn" / "environment.py"
    step.write_text(step.read_text() + "\nimport sandbox  # noqa\n")
    broken = _lint_imports(root)
    assert broken.returncode == 1
    assert "pipelines.churn.environment -> sandbox" in broken.stdout


def test_the_contract_covers_orchestration(tmp_path):
    root = _copy_of_the_repo(tmp_path)
    handler = root / "orchestration" / "lambdas" / "champion_gate.py"
    handler.write_text(handler.read_text() + "\nimport moto  # noqa\n")
    broken = _lint_imports(root)
    assert broken.returncode == 1
    assert "orchestration.lambdas.champion_gate -> moto" in broken.stdout


def _closure(lock: dict, root: str) -> dict[str, str]:
    """Every package `root` needs without extras, each with one package that asks for it."""
    packages = {p["name"]: p for p in lock["package"]}
    needed_by, queue = {root: ""}, [root]
    while queue:
        name = queue.pop()
        for dependency in packages[name].get("dependencies", []):
            if dependency["name"] not in needed_by:
                needed_by[dependency["name"]] = name
                queue.append(dependency["name"])
    return needed_by


def test_installing_the_product_brings_no_moto():
    """`pip install .` (no extras) resolves to uv.lock's closure of the main dependencies."""
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    needed_by = _closure(lock, "sagemaker-mlops-template")
    assert "sagemaker" in needed_by
    assert "moto" not in needed_by
    # SDK v3 itself brings Flask and Werkzeug: sagemaker-train requires mlflow, which
    # requires Flask. Nothing of ours does.
    chain, name = [], "werkzeug"
    while name:
        chain.append(name)
        name = needed_by.get(name, "")
    assert "mlflow" in chain and "sagemaker-train" in chain, chain
