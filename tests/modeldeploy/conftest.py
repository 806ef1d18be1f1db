"""Model packages registered straight into the sandbox registry, with real artifacts."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import tarfile
from pathlib import Path

import pytest

from modeldeploy.contract import CONTRACT_PROPERTY
from modeldeploy.manifest import MANIFEST_FILE
from pipelines.churn.steps.evaluate import CONTRACT_FILE
from sandbox.constants import DEFAULT_BUCKET

ROLE = "arn:aws:iam::123456789012:role/ModelExecutionRole"
TEST_SCRIPT = Path(__file__).parents[2] / "modeldeploy" / "test" / "test.py"


def load_smoke_cli():
    """modeldeploy/test/test.py, imported as the module CodeBuild runs as a script."""
    spec = importlib.util.spec_from_file_location("smoke_cli", TEST_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Registry:
    """Registers packages the way the pipeline's Register step does: model.tar.gz, the
    evaluation report and the inference contract in S3, the contract's URI in the package's
    CustomerMetadataProperties."""

    def __init__(self, sandbox, model_archive: Path, churn_contract: dict):
        self.sagemaker = sandbox.client("sagemaker")
        self.s3 = sandbox.client("s3")
        self.model_archive = model_archive / "model.tar.gz"
        self.churn_contract = churn_contract
        self.count = 0
        with contextlib.suppress(self.s3.exceptions.ClientError):
            self.s3.create_bucket(Bucket=DEFAULT_BUCKET)

    def register(
        self,
        group: str,
        status: str = "Approved",
        broken: bool = False,
        contract: dict | None | str = "churn",
        archive: Path | None = None,
    ) -> str:
        """A package in `group`. `contract`: "churn" (what the churn pipeline's Evaluate step
        writes), a contract document of one's own, or None for a package without one.
        `archive`: a model.tar.gz of one's own instead of the trained churn model."""
        self.count += 1
        prefix = f"registry-tests/{group}/{self.count}"
        if broken:  # a model.tar.gz whose inference code is there but whose model is not
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
                script = b"def model_fn(model_dir):\n    raise RuntimeError('weights missing')\n"
                info = tarfile.TarInfo("code/inference.py")
                info.size = len(script)
                tar.addfile(info, io.BytesIO(script))
            self.s3.put_object(
                Bucket=DEFAULT_BUCKET, Key=f"{prefix}/model.tar.gz", Body=buffer.getvalue()
            )
        else:
            self.s3.upload_file(
                str(archive or self.model_archive), DEFAULT_BUCKET, f"{prefix}/model.tar.gz"
            )
        report = {"binary_classification_metrics": {"auc": {"value": 0.9}}}
        self.s3.put_object(
            Bucket=DEFAULT_BUCKET, Key=f"{prefix}/evaluation.json", Body=json.dumps(report).encode()
        )
        metadata = {}
        if contract is not None:
            document = self.churn_contract if contract == "churn" else contract
            key = f"{prefix}/inference-contract.json"
            self.s3.put_object(Bucket=DEFAULT_BUCKET, Key=key, Body=json.dumps(document).encode())
            metadata["CustomerMetadataProperties"] = {
                CONTRACT_PROPERTY: f"s3://{DEFAULT_BUCKET}/{key}"
            }
        with contextlib.suppress(self.sagemaker.exceptions.ClientError):
            self.sagemaker.create_model_package_group(ModelPackageGroupName=group)
        return self.sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [
                    {
                        "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/"
                        "sagemaker-scikit-learn:1.9-0-cpu-py3",
                        "ModelDataUrl": f"s3://{DEFAULT_BUCKET}/{prefix}/model.tar.gz",
                        "Environment": {
                            "SAGEMAKER_PROGRAM": "inference.py",
                            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                        },
                    }
                ],
                "SupportedContentTypes": ["text/csv", "application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://{DEFAULT_BUCKET}/{prefix}/evaluation.json",
                    }
                }
            },
            **metadata,
        )["ModelPackageArn"]


@pytest.fixture(name="registry")
def fixture_registry(sandbox, model_archive, evaluation, monkeypatch) -> Registry:
    """The sandbox's registry, with boto3 in this process pointed at the sandbox."""
    for name, value in sandbox.environment.items():
        monkeypatch.setenv(name, value)
    churn_contract = json.loads((evaluation.parent / CONTRACT_FILE).read_text())
    return Registry(sandbox, model_archive, churn_contract)


class Flow:
    """build.py -> deploy.py -> test/test.py for one project, in a work folder."""

    def __init__(self, project: str, group: str, folder: Path):
        self.project, self.group, self.folder = project, group, folder
        self.smoke_cli = load_smoke_cli()

    def path(self, name: str) -> Path:
        return self.folder / name

    def build(self) -> int:
        from modeldeploy import build

        return build.main(
            [
                "--model-execution-role",
                ROLE,
                "--model-package-group-name",
                self.group,
                "--sagemaker-project-id",
                "p-test1234",
                "--sagemaker-project-name",
                self.project,
                "--s3-bucket",
                DEFAULT_BUCKET,
                "--export-staging-config",
                str(self.path("staging-config-export.json")),
                "--export-prod-config",
                str(self.path("prod-config-export.json")),
                "--export-manifest",
                str(self.path(MANIFEST_FILE)),
            ]
        )

    def deploy(self, stage: str, with_manifest: bool = True) -> int:
        from modeldeploy import deploy

        argv = [
            "--stack-name",
            f"{self.project}-{stage}",
            "--config-file",
            str(self.path(f"{stage}-config-export.json")),
            "--poll-seconds",
            "0.1",
            # The smoke test after a prod update, as quick as smoke() below.
            "--smoke-timeout-seconds",
            "10",
            "--latency-requests",
            "5",
            "--latency-budget-ms",
            "5000",
        ]
        if with_manifest:
            argv += ["--manifest", str(self.path(MANIFEST_FILE))]
        return deploy.main(argv)

    def smoke(self, stage: str) -> int:
        """The stage's smoke test; its results are then in results(stage)."""
        return self.smoke_cli.main(
            [
                "--import-build-config",
                str(self.path(f"{stage}-config-export.json")),
                "--manifest",
                str(self.path(MANIFEST_FILE)),
                "--export-test-results",
                str(self.path(f"{stage}-results.json")),
                "--poll-seconds",
                "0.1",
                "--timeout-seconds",
                "10",
                # Enough for a p50 and a p95; each request costs a model prediction.
                "--latency-requests",
                "5",
                # Behaviour, not speed, is under test; a busy CI machine must not fail it.
                "--latency-budget-ms",
                "5000",
            ]
        )

    def rollback(self, stage: str, reason: str = "test") -> int:
        """modeldeploy/rollback.py for the stage, its smoke test as quick as smoke()'s."""
        from modeldeploy import rollback

        return rollback.main(
            ["--sagemaker-project-name", self.project, "--stage", stage, "--reason", reason]
            + ["--poll-seconds", "0.1", "--timeout-seconds", "10"]
            + ["--latency-requests", "5", "--latency-budget-ms", "5000"]
        )

    def results(self, stage: str) -> dict:
        """What the stage's last smoke test wrote."""
        return json.loads(self.path(f"{stage}-results.json").read_text())

    def promote(self) -> tuple[int, int, int, int, int]:
        """The whole flow; returns each command's exit code, stopping at the first failure."""
        codes = []
        for step in (
            self.build,
            lambda: self.deploy("staging"),
            lambda: self.smoke("staging"),
            lambda: self.deploy("prod"),
            lambda: self.smoke("prod"),
        ):
            codes.append(step())
            if codes[-1] != 0:
                break
        return tuple(codes)


@pytest.fixture(name="flow")
def fixture_flow(registry, tmp_path, request) -> Flow:
    name = request.node.name.replace("_", "-")[5:25].strip("-")
    return Flow(project=name, group=f"{name}-group", folder=tmp_path)


# A model that loads and answers every request with HTTP 500: the churn model's own
# handlers (from the archive) with predict_fn replaced.
FAILING_PREDICT = """
def predict_fn(data, model):  # HTTP 500 from the container: SageMaker counts a 5XX
    raise RuntimeError("the new model cannot score")
"""


def variant_archive(model_dir: Path, path: Path, predict: str) -> Path:
    """model.tar.gz of the trained churn model, with `predict` defining its predict_fn."""
    script = (
        "from inference_churn import *  # noqa: F403 - the real handlers\n" + predict
    ).encode()
    with tarfile.open(path, "w:gz") as tar:
        for item in model_dir.iterdir():
            if item.name != "code":
                tar.add(item, arcname=item.name)
        tar.add(model_dir / "code" / "inference.py", arcname="code/inference_churn.py")
        info = tarfile.TarInfo("code/inference.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    return path


@pytest.fixture(name="failing_archive", scope="session")
def fixture_failing_archive(model_dir: Path, tmp_path_factory) -> Path:
    """A model that loads (so it reaches traffic) but fails every prediction."""
    folder = tmp_path_factory.mktemp("failing")
    return variant_archive(model_dir, folder / "model.tar.gz", FAILING_PREDICT)
