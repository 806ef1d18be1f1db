"""Local jobs: S3Prefix downloads, container paths, the training contract."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from sandbox.runner import jobs
from sandbox.runner import s3 as s3_transfer

ENVIRONMENT = {"PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1"}


@pytest.fixture(name="bucket")
def fixture_bucket(s3_client) -> str:
    s3_client.create_bucket(Bucket="jobs-test")
    for key in ("data/a.csv", "data/sub/b.csv", "data-other/c.csv", "one/file.json"):
        s3_client.put_object(Bucket="jobs-test", Key=key, Body=key.encode())
    return "jobs-test"


def test_s3_prefix_download_keeps_relative_paths(s3_client, bucket, tmp_path):
    assert s3_transfer.download_prefix(s3_client, "s3://jobs-test/data", tmp_path / "d") == 2
    assert (tmp_path / "d" / "a.csv").read_text() == "data/a.csv"
    assert (tmp_path / "d" / "sub" / "b.csv").exists()
    assert not (tmp_path / "d" / "c.csv").exists()  # "data-other" is not under "data"
    s3_transfer.download_prefix(s3_client, "s3://jobs-test/one/file.json", tmp_path / "f")
    assert (tmp_path / "f" / "file.json").exists()


def test_empty_input_is_an_error(s3_client, bucket, tmp_path):
    with pytest.raises(s3_transfer.S3Error, match="no object found at s3://jobs-test/nothing"):
        s3_transfer.download_prefix(s3_client, "s3://jobs-test/nothing", tmp_path)


@pytest.mark.parametrize(
    ("uri", "key"),
    [
        ("s3://jobs-test/data", "data/../../escape.txt"),
        ("s3://jobs-test/data/", "data/sub/../../../escape.txt"),
        ("s3://jobs-test/data", "data/../escape.txt"),  # a sibling of the destination
        ("s3://jobs-test/data", "data/sub/../b.csv"),  # stays inside, but `..` is refused
        ("s3://jobs-test/data/..", "data/.."),  # the object that is the prefix: named ".."
    ],
)
def test_keys_leading_out_of_the_destination_are_refused_before_any_download(
    s3_client, bucket, tmp_path, uri, key
):
    s3_client.put_object(Bucket=bucket, Key=key, Body=b"escaped")
    destination = tmp_path / "job" / "in"
    message = (
        f"refusing to download s3://jobs-test/{key}: its path below the input prefix "
        rf"\(.*\) leads outside the destination {destination}$"
    )
    with pytest.raises(s3_transfer.S3Error, match=message):
        s3_transfer.download_prefix(s3_client, uri, destination)
    assert list(tmp_path.rglob("*")) == []  # nothing written, the other keys neither


def test_absolute_looking_keys_stay_below_the_destination(s3_client, bucket, tmp_path):
    s3_client.put_object(Bucket=bucket, Key="data//etc/passwd", Body=b"inside")
    s3_transfer.download_prefix(s3_client, "s3://jobs-test/data/", tmp_path / "d")
    assert (tmp_path / "d" / "etc" / "passwd").read_bytes() == b"inside"


def _job(tmp_path: Path, s3_client, request: dict) -> jobs.Job:
    return jobs.Job(
        name="job-1",
        arn="arn:job",
        request=request,
        folder=tmp_path / "job",
        log_path=tmp_path / "job.log",
        s3=s3_client,
        base_environment={"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"},
    )


def test_processing_rewrites_container_paths_and_uploads_outputs(s3_client, bucket, tmp_path):
    script = tmp_path / "copy.py"
    script.write_text(
        "import os, shutil, sys\n"
        "src, dst = sys.argv[1], sys.argv[2]\n"
        "shutil.copy(os.path.join(src, 'a.csv'), os.path.join(dst, 'out.csv'))\n"
        "print(os.environ['MODE'])\n"
    )
    s3_client.upload_file(str(script), bucket, "code/copy.py")
    request = {
        "AppSpecification": {
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/copy.py"],
            "ContainerArguments": ["/opt/ml/processing/in", "/opt/ml/processing/out"],
        },
        "Environment": {"MODE": "local"},
        "ProcessingInputs": [
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": "s3://jobs-test/code/copy.py",
                    "LocalPath": "/opt/ml/processing/input/code",
                },
            },
            {
                "InputName": "data",
                "S3Input": {"S3Uri": "s3://jobs-test/data", "LocalPath": "/opt/ml/processing/in"},
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "result",
                    "S3Output": {
                        "S3Uri": "s3://jobs-test/result",
                        "LocalPath": "/opt/ml/processing/out",
                    },
                }
            ]
        },
    }
    properties = jobs.run_processing(_job(tmp_path, s3_client, request))
    assert properties["ProcessingJobStatus"] == "Completed"
    body = s3_client.get_object(Bucket=bucket, Key="result/out.csv")["Body"].read()
    assert body == b"data/a.csv"
    log = (tmp_path / "job.log").read_text()
    assert "local" in log and str(tmp_path / "job" / "opt/ml/processing/in") in log


def test_local_paths_leading_out_of_the_job_folder_are_refused(s3_client, bucket, tmp_path):
    request = {
        "AppSpecification": {"ContainerEntrypoint": ["true"]},
        "ProcessingInputs": [
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": "s3://jobs-test/data",
                    "LocalPath": "/opt/ml/processing/../../../../escaped",
                },
            }
        ],
    }
    with pytest.raises(jobs.JobFailed, match="leads outside the job's container filesystem"):
        jobs.run_processing(_job(tmp_path, s3_client, request))
    assert not (tmp_path / "escaped").exists()


def test_failing_process_reports_its_last_stderr_line(tmp_path, s3_client):
    with pytest.raises(jobs.JobFailed, match="^ValueError: bad input$"):
        jobs.run_logged(
            [sys.executable, "-c", "raise ValueError('bad input')"],
            {},
            tmp_path,
            tmp_path / "x.log",
        )
    assert "Traceback" in (tmp_path / "x.log").read_text()


def test_training_follows_the_sdk_v3_driver_contract(s3_client, bucket, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(
        "import json, os, sys\n"
        "from pathlib import Path\n"
        "model = Path(os.environ['SM_MODEL_DIR'])\n"
        "(model / 'seen.json').write_text(json.dumps({'argv': sys.argv[1:],\n"
        "    'hps': json.loads(os.environ['SM_HPS']),\n"
        "    'train': sorted(os.listdir(os.environ['SM_CHANNEL_TRAIN'])),\n"
        "    'cwd': os.getcwd()}))\n"
        "print('auc=0.91')\n"
    )
    drivers = tmp_path / "drivers"
    drivers.mkdir()
    (drivers / "sourcecode.json").write_text(json.dumps({"entry_script": "train.py"}))
    s3_transfer.upload_directory(s3_client, code, "s3://jobs-test/t/code")
    s3_transfer.upload_directory(s3_client, drivers, "s3://jobs-test/t/sm_drivers")

    def channel(name, uri):
        return {
            "ChannelName": name,
            "DataSource": {"S3DataSource": {"S3Uri": uri}},
        }

    request = {
        "AlgorithmSpecification": {
            "MetricDefinitions": [{"Name": "auc", "Regex": r"auc=([0-9.]+)"}]
        },
        "HyperParameters": {"max_iter": "20", "learning_rate": "0.1", "name": "hgb"},
        "InputDataConfig": [
            channel("train", "s3://jobs-test/data"),
            channel("code", "s3://jobs-test/t/code"),
            channel("sm_drivers", "s3://jobs-test/t/sm_drivers"),
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://jobs-test/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    properties = jobs.run_training(_job(tmp_path, s3_client, request))
    assert properties["ModelArtifacts"]["S3ModelArtifacts"] == (
        "s3://jobs-test/models/job-1/output/model.tar.gz"
    )
    assert properties["FinalMetricDataList"] == [{"MetricName": "auc", "Value": 0.91}]
    seen = json.loads((tmp_path / "job/opt/ml/model/seen.json").read_text())
    assert seen["argv"] == ["--max_iter", "20", "--learning_rate", "0.1", "--name", "hgb"]
    assert seen["hps"] == {"max_iter": 20, "learning_rate": 0.1, "name": "hgb"}
    assert seen["train"] == ["a.csv", "sub"]
    assert seen["cwd"].endswith("opt/ml/input/data/code")


def test_training_without_sdk_v3_drivers_is_refused(tmp_path, s3_client):
    request = {"InputDataConfig": [{"ChannelName": "train", "DataSource": {}}]}
    with pytest.raises(jobs.JobFailed, match="only SDK v3 ModelTrainer script mode"):
        jobs.run_training(_job(tmp_path, s3_client, request))


@pytest.mark.parametrize("warm_start", [True, False])
def test_peak_rss_is_the_jobs_own(tmp_path, warm_start):
    """A job that fills 300 MiB reports at least that; a fresh one that does nothing reports
    far less than this test process holds (moto, pandas, scikit-learn loaded)."""
    fill = "data = b'x' * (300 << 20)\n"
    (tmp_path / "fill.py").write_text(fill)
    command = [sys.executable, "fill.py"] if warm_start else [sys.executable, "-c", fill]
    big = jobs.run_logged(command, ENVIRONMENT, tmp_path, tmp_path / "big.log")
    assert big.peak_rss_bytes >= 300 << 20
    small = jobs.run_logged(
        [sys.executable, "-c", "pass"], ENVIRONMENT, tmp_path, tmp_path / "small.log"
    )
    assert small.peak_rss_bytes < 100 << 20
    assert "peak RSS" in (tmp_path / "small.log").read_text()


def test_missing_program_cannot_start(tmp_path):
    with pytest.raises(jobs.JobFailed, match="cannot start '/no/such/program'"):
        jobs.run_logged(["/no/such/program"], ENVIRONMENT, tmp_path, tmp_path / "x.log")
