"""Smoke test of a deployed stage (the seed's `test/test.py` contract, really testing).

    python test/test.py --import-build-config staging-config-export.json \\
        --export-test-results test-results.json

Exit 0 when every check passed, 1 when one failed, 2 for a bad config or manifest.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from modeldeploy.accounts import manifest_target, session_for
from modeldeploy.errors import ConfigError, DeployError
from modeldeploy.manifest import MANIFEST_FILE, read_manifest
from modeldeploy.smoke import run_smoke_test


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Smoke-test a deployed endpoint.")
    parser.add_argument("--log-level", default=os.environ.get("LOGLEVEL", "INFO").upper())
    parser.add_argument(
        "--import-build-config",
        required=True,
        type=Path,
        help="the stage's TemplateConfiguration written by build.py",
    )
    parser.add_argument("--export-test-results", required=True, type=Path)
    parser.add_argument("--manifest", type=Path, default=Path(MANIFEST_FILE))
    parser.add_argument(
        "--latency-budget-ms", type=float, default=float(os.environ.get("LATENCY_BUDGET_MS", 500))
    )
    parser.add_argument("--latency-requests", type=int, default=50)
    parser.add_argument("--timeout-seconds", type=float, default=1800)
    parser.add_argument("--poll-seconds", type=float, default=15)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)  # credential/endpoint chatter
    try:
        config = json.loads(args.import_build_config.read_text())
        parameters = config["Parameters"]
        endpoint = f"{parameters['SageMakerProjectName']}-{parameters['StageName']}"
        manifest = read_manifest(args.manifest)
        target = manifest_target(manifest, parameters["StageName"], str(args.manifest))
    except (OSError, json.JSONDecodeError, KeyError) as err:
        print(f"test.py: cannot read {args.import_build_config}: {err!r}", file=sys.stderr)
        return 2
    except ConfigError as err:
        print(f"test.py: {err}", file=sys.stderr)
        return 2
    try:  # the stage's own account, when build.py named one for it
        session = session_for(target, parameters["StageName"])
    except DeployError as err:
        print(f"test.py: {err}", file=sys.stderr)
        return 1
    report = run_smoke_test(
        session.client("sagemaker"),
        session.client("sagemaker-runtime"),
        session.client("s3"),
        endpoint,
        manifest,
        args.latency_budget_ms,
        args.latency_requests,
        args.timeout_seconds,
        args.poll_seconds,
    )
    for check in report.checks:
        print(f"{'PASS' if check.passed else 'FAIL'} {check.name}: {check.detail}")
    args.export_test_results.parent.mkdir(parents=True, exist_ok=True)
    args.export_test_results.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    print(
        f"{endpoint}: {'passed' if report.passed else 'FAILED'}; "
        f"results in {args.export_test_results}"
    )
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
