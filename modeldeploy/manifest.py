"""The promotion manifest: which package passed staging, so prod deploys exactly that one."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from modeldeploy.errors import ConfigError, read_json_file
from modeldeploy.registry import Package

MANIFEST_FILE = "promotion-manifest.json"
REQUIRED = ("model_package_arn", "model_package_version", "model_package_group")


def current_commit() -> str:
    """The commit being built: CodeBuild's or GitHub's variable, else git, else 'unknown'."""
    for name in ("CODEBUILD_RESOLVED_SOURCE_VERSION", "GITHUB_SHA"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        )
        return done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def build_manifest(package: Package, metrics: dict[str, float]) -> dict:
    return {
        "model_package_arn": package.arn,
        "model_package_version": package.version,
        "model_package_group": package.group,
        "model_data_url": package.model_data_url,
        "test_data_uri": package.test_data_uri,
        "metrics": metrics,
        "git_commit": current_commit(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def read_manifest(path: Path) -> dict:
    """Read and check a manifest; raises ConfigError naming the file and field."""
    manifest = read_json_file(path)
    missing = [key for key in REQUIRED if key not in manifest]
    if missing:
        raise ConfigError(f"{path}: missing field(s) {', '.join(missing)}")
    return manifest


def verify_config_matches(manifest: dict, config: dict, source: str) -> None:
    """Refuse a deploy whose ModelPackageName is not the manifest's package."""
    deploying = config.get("Parameters", {}).get("ModelPackageName")
    if deploying != manifest["model_package_arn"]:
        raise ConfigError(
            f"{source}: deploys {deploying!r}, but the promotion manifest names "
            f"{manifest['model_package_arn']!r}; refusing to deploy a package that did not "
            "pass staging"
        )
