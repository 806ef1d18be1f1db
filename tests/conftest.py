"""Fixtures shared by the whole suite: fake AWS credentials, a moto server, sample data."""

from __future__ import annotations

import collections
import contextlib
import functools
import gc
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest

from sandbox.clients import share_botocore_loader

# moto, pandas, scikit-learn and the sandbox are imported by the fixtures that use them:
# xdist's controller loads this file too, runs no test, and starts the workers after it.
if TYPE_CHECKING:
    from sandbox import Sandbox

REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerPipelineRole"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "SAGEMAKER_VALIDATE_ROLE": "false",
}


REMOVED = ("AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL", "SANDBOX_HOME")
NO_FILES = {"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
# scikit-learn trains and predicts with OpenMP, one thread per core by default. The suite
# runs processes side by side (two executions at once, one xdist worker per core) and
# trains in this process too: one thread each keeps them from fighting over the cores (two
# Train steps at once took 7.0 s against 8.5 s, and one took 27 s instead of 4 s when its
# threads waited by spinning). The results are the same with one thread.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}
TEST_ENVIRONMENT = {**FAKE_AWS, **NO_FILES, **ONE_THREAD}

# Before any test module imports SDK v3 (it builds a boto3 client at import time) or
# scikit-learn (OpenMP reads its thread count once, when loaded): fake credentials, a fixed
# region, no profile or credentials file, so no test reaches real AWS.
for _name in REMOVED:
    os.environ.pop(_name, None)
os.environ.update(TEST_ENVIRONMENT)

# SDK v3 creates a fresh boto3 session for most of the ~15 clients a render makes, and each
# session re-reads botocore's service models: 2-3 s of JSON parsing per render, and the
# suite renders dozens of times. Every session in this process shares one loader.
share_botocore_loader()


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker more than the cores. Some files mostly wait (Terraform's
    provider waits about a minute for S3 each apply, demo scenarios poll): meanwhile the
    extra worker keeps the cores busy."""
    return (os.cpu_count() or 1) + 1


def pytest_collection_finish(session: pytest.Session) -> None:
    # Collection imports SDK v3, moto, scikit-learn...: over 500,000 objects that live to the
    # end, which every full garbage collection walks again (0.3 s each on an idle machine),
    # among them the collections as each xdist worker's interpreter exits. Frozen, the
    # collector leaves them alone.
    gc.freeze()


# xdist hands out whole test files (`--dist loadfile`: a module-scoped fixture, such as a
# whole pipeline run, is set up once). Files start longest first, as long as the last run
# took, so that no worker is left running one long file alone at the end.
FILE_SECONDS_KEY = "sagemaker-mlops-template/file-seconds"
# Before any run has been timed (a fresh clone, as in CI), the files known to take longest
# start first: mostly waiting (Terraform's applies, whole demo scenarios), they overlap
# with the rest instead of running alone at the end.
FIRST_RUN_SECONDS = {
    "tests/terraform/test_terraform.py": 120,
    "tests/demo/test_scenarios.py": 90,
    "tests/demo/test_terraform_demo.py": 80,
    "tests/demo/test_orchestrated_scenarios.py": 40,
}
_file_seconds: collections.Counter[str] = collections.Counter()


@functools.cache
def _last_run_seconds(config: pytest.Config) -> dict[str, float]:
    """Each test file's seconds in the last run, read once. xdist's workers get the
    controller's copy: they must all put the tests in the same order, even if another
    session rewrites the cache meanwhile."""
    if hasattr(config, "workerinput"):
        return config.workerinput.get("file_seconds", {})
    cache = getattr(config, "cache", None)  # None under `-p no:cacheprovider`
    return (cache.get(FILE_SECONDS_KEY, None) if cache else None) or FIRST_RUN_SECONDS


@pytest.hookimpl(optionalhook=True)  # xdist's: the controller configures each worker
def pytest_configure_node(node) -> None:
    node.workerinput["file_seconds"] = _last_run_seconds(node.config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    last_run = _last_run_seconds(config)
    items.sort(key=lambda item: -last_run.get(item.nodeid.split("::")[0], 0))  # stable


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _file_seconds[report.nodeid.split("::")[0]] += report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    cache = getattr(session.config, "cache", None)
    if cache and not hasattr(session.config, "workerinput"):  # xdist's controller, or no xdist
        cache.set(FILE_SECONDS_KEY, {**cache.get(FILE_SECONDS_KEY, {}), **_file_seconds})


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same, restored before each test (a test may have changed it)."""
    for name in REMOVED:
        monkeypatch.delenv(name, raising=False)
    for name, value in TEST_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(name="moto_server", scope="session")
def fixture_moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 and a free port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(name="aws_endpoint")
def fixture_aws_endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 (and SDK v3) at the moto server for this test, with a clean state."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    import requests

    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    return moto_server


@pytest.fixture(name="sagemaker_client")
def fixture_sagemaker_client(aws_endpoint: str):
    return boto3.client("sagemaker", region_name=REGION, endpoint_url=aws_endpoint)


@pytest.fixture(name="s3_client")
def fixture_s3_client(aws_endpoint: str):
    return boto3.client("s3", region_name=REGION, endpoint_url=aws_endpoint)


@pytest.fixture(name="churn_csv", scope="session")
def fixture_churn_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 generated customers, written once for the session."""
    from pipelines.churn.generate_data import write_churn_csv

    return write_churn_csv(tmp_path_factory.mktemp("raw") / "churn.csv", rows=2_000, seed=7)


@pytest.fixture(name="splits", scope="session")
def fixture_splits(churn_csv: Path, tmp_path_factory) -> Path:
    """Preprocess output: <root>/{train,validation,test}/<name>.csv."""
    from pipelines.churn.steps import preprocess

    root = tmp_path_factory.mktemp("splits")
    assert (
        preprocess.main(
            [
                "--input-dir",
                str(churn_csv.parent),
                "--train-dir",
                str(root / "train"),
                "--validation-dir",
                str(root / "validation"),
                "--test-dir",
                str(root / "test"),
            ]
        )
        == 0
    )
    return root


@pytest.fixture(name="model_dir", scope="session")
def fixture_model_dir(splits: Path, tmp_path_factory) -> Path:
    """SM_MODEL_DIR after training, as the container leaves it."""
    from pipelines.churn.steps.training import train

    model_dir = tmp_path_factory.mktemp("model")
    assert (
        train.main(
            [
                "--train-dir",
                str(splits / "train"),
                "--validation-dir",
                str(splits / "validation"),
                "--model-dir",
                str(model_dir),
                "--max_iter",
                "60",
            ]
        )
        == 0
    )
    return model_dir


@pytest.fixture(name="model_archive", scope="session")
def fixture_model_archive(model_dir: Path, tmp_path_factory) -> Path:
    """A folder holding model.tar.gz, as the Evaluate step receives it."""
    folder = tmp_path_factory.mktemp("archive")
    with tarfile.open(folder / "model.tar.gz", "w:gz") as tar:
        for item in model_dir.iterdir():
            tar.add(item, arcname=item.name)
    return folder


@pytest.fixture(name="evaluation", scope="session")
def fixture_evaluation(model_archive: Path, splits: Path, tmp_path_factory) -> Path:
    from pipelines.churn.steps import evaluate

    out = tmp_path_factory.mktemp("evaluation")
    assert (
        evaluate.main(
            [
                "--model-dir",
                str(model_archive),
                "--test-dir",
                str(splits / "test"),
                "--output-dir",
                str(out),
            ]
        )
        == 0
    )
    return out / "evaluation.json"


@pytest.fixture(name="interpreter", params=["this", "3.11.2"])
def fixture_interpreter(request, monkeypatch) -> str:
    """Tar extraction as on this interpreter, and as on one without tarfile's extraction
    filters (Debian 12's 3.11.2; they came in 3.11.4)."""
    if request.param == "3.11.2":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return request.param


@contextlib.contextmanager
def fresh_sandbox(home: Path) -> Iterator[Sandbox]:
    """A sandbox of its own in `home`, starting empty. moto keeps its state in process-wide
    backends, so what another sandbox of this worker made (the session's, an earlier demo
    file's) would otherwise show here: model packages, stacks, state machines."""
    import requests

    from sandbox import Sandbox

    with Sandbox(home=home) as running:
        requests.post(f"{running.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
        yield running


@pytest.fixture(name="sandbox", scope="session")
def fixture_sandbox(tmp_path_factory) -> Iterator[Sandbox]:
    """One sandbox (moto + pipelines service + endpoint runtime) for the session."""
    from sandbox import Sandbox

    with Sandbox(home=tmp_path_factory.mktemp("sandbox-home")) as running:
        yield running
