"""`build.py`: turn the newest Approved model package into CloudFormation configs.

Keeps the contract of AWS's SageMaker Projects deploy seed, so its buildspec works:

    python build.py --model-execution-role "$MODEL_EXECUTION_ROLE_ARN" \\
      --model-package-group-name "$SOURCE_MODEL_PACKAGE_GROUP_NAME" \\
      --sagemaker-project-id "$SAGEMAKER_PROJECT_ID" \\
      --sagemaker-project-name "$SAGEMAKER_PROJECT_NAME" --s3-bucket "$ARTIFACT_BUCKET"

Writes staging-config-export.json and prod-config-export.json (TemplateConfiguration
format) and promotion-manifest.json. With no Approved package, or when that package has no
readable inference contract (modeldeploy/contract.py), it writes nothing and exits 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import boto3

from modeldeploy.accounts import MANIFEST_KEY, model_role_arn, stage_target
from modeldeploy.batch_config import batch_export, batch_export_path, load_batch_config
from modeldeploy.contract import load_contract
from modeldeploy.errors import ConfigError, run_cli
from modeldeploy.manifest import MANIFEST_FILE, build_manifest
from modeldeploy.monitoring.parameters import monitoring_parameters
from modeldeploy.registry import latest_approved, read_metrics
from modeldeploy.stage_config import export_config, load_stage_config

logger = logging.getLogger(__name__)
HERE = Path(__file__).parent


def _cli_files(config: dict) -> tuple[list[dict], list[dict]]:
    """Parameters and tags as `aws cloudformation create-stack` takes them."""
    parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in config["Parameters"].items()]
    return parameters, [{"Key": k, "Value": v} for k, v in config["Tags"].items()]


def build(args: argparse.Namespace, sagemaker, s3) -> dict[Path, dict]:
    """Everything build.py writes, by path; raises before anything is written."""
    stages = {
        "staging": (load_stage_config(args.import_staging_config), args.export_staging_config),
        "prod": (load_stage_config(args.import_prod_config), args.export_prod_config),
    }
    # Where each stage deploys (an account of its own, or this one): checked before anything.
    targets = {
        "staging": stage_target(Path(args.import_staging_config), args.sagemaker_project_name),
        "prod": stage_target(Path(args.import_prod_config), args.sagemaker_project_name),
    }
    for expected, (config, _) in stages.items():
        if config["Parameters"]["StageName"] != expected:
            raise ConfigError(
                f"{expected} config has StageName {config['Parameters']['StageName']!r}"
            )
    package = latest_approved(sagemaker, args.model_package_group_name)
    # A package without a usable inference contract cannot be smoke-tested: deploy nothing.
    load_contract(sagemaker, s3, package.arn)
    logger.info("deploying %s (version %s)", package.arn, package.version)
    tags = {
        "sagemaker:project-name": args.sagemaker_project_name,
        "sagemaker:project-id": args.sagemaker_project_id,
    }
    if args.sagemaker_project_arn:
        tags["sagemaker:project-arn"] = args.sagemaker_project_arn

    outputs: dict[Path, dict] = {}
    imports = {"staging": args.import_staging_config, "prod": args.import_prod_config}
    for stage, (config, export_path) in stages.items():
        exported = export_config(
            config,
            {
                "ModelPackageName": package.arn,
                # In a stage account of its own, the endpoint runs as that account's role.
                "ModelExecutionRoleArn": model_role_arn(targets[stage], args.sagemaker_project_name)
                or args.model_execution_role,
                "SageMakerProjectName": args.sagemaker_project_name,
                "SageMakerProjectId": args.sagemaker_project_id,
                "DataCaptureUploadPath": f"s3://{args.s3_bucket}/datacapture-{stage}",
                # The monitoring schedule, where the stage config asks for one.
                **monitoring_parameters(sagemaker, s3, package.arn, args.s3_bucket, config),
            },
            tags,
            source=f"{stage} config",
        )
        outputs[Path(export_path)] = exported
        # The stage's scheduled batch transform, when its config has one (batch_config.py).
        batch = load_batch_config(Path(imports[stage]), stage)
        if batch:
            outputs[batch_export_path(export_path)] = batch_export(
                batch, stage, exported, args.s3_bucket
            )
        if args.export_cfn_params_tags:
            parameters, tag_list = _cli_files(exported)
            stem = Path(export_path).with_suffix("")
            outputs[Path(f"{stem}-params.json")] = parameters
            outputs[Path(f"{stem}-tags.json")] = tag_list
    manifest = build_manifest(package, read_metrics(s3, package.metrics_uri))
    manifest[MANIFEST_KEY] = {stage: target.to_json() for stage, target in targets.items()}
    outputs[Path(args.export_manifest)] = manifest
    return outputs


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default=os.environ.get("LOGLEVEL", "INFO").upper())
    parser.add_argument("--model-execution-role", required=True)
    parser.add_argument("--model-package-group-name", required=True)
    parser.add_argument("--sagemaker-project-id", required=True)
    parser.add_argument("--sagemaker-project-name", required=True)
    parser.add_argument("--sagemaker-project-arn")
    parser.add_argument("--s3-bucket", required=True)
    parser.add_argument("--import-staging-config", default=str(HERE / "staging-config.json"))
    parser.add_argument("--import-prod-config", default=str(HERE / "prod-config.json"))
    parser.add_argument("--export-staging-config", default="staging-config-export.json")
    parser.add_argument("--export-prod-config", default="prod-config-export.json")
    parser.add_argument("--export-manifest", default=MANIFEST_FILE)
    parser.add_argument(
        "--export-cfn-params-tags",
        type=lambda v: v.lower() in ("1", "true"),
        default=False,
        help="also write create-stack style params/tags files",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, sagemaker=None, s3=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")

    def work() -> int:
        # Everything is computed (and can fail) before the first file is written.
        outputs = build(args, sagemaker or boto3.client("sagemaker"), s3 or boto3.client("s3"))
        for path, content in outputs.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(content, indent=2) + "\n")
            print(f"wrote {path}")
        return 0

    return run_cli("build.py", work)


if __name__ == "__main__":
    sys.exit(main())
