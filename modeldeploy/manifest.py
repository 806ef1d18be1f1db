"""The promotion manifest: which package passed staging, so prod deploys exactly that one.

`python -m modeldeploy.manifest FILE FIELD` prints one field (JSON for non-strings), for
buildspecs to export, without depending on jq being installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
        "inference_contract_uri": package.contract_uri,
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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m modeldeploy.manifest FILE FIELD", file=sys.stderr)
        return 2
    path, field = Path(args[0]), args[1]
    try:
        value = read_manifest(path)[field]
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyError:
        print(f"error: {path}: no field {field!r}", file=sys.stderr)
        return 1
    print(value if isinstance(value, str) else json.dumps(value, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
