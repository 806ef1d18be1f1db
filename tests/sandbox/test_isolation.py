"""Jobs keep to their own folder: a script that names /opt/ml itself gets the job folder's,
never the host's, through the warm and the fresh-process paths alike; where isolation is
unavailable, a job that changes the host's /opt/ml fails; an S3 key that would lead out of
its input's folder fails the step before anything is written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from sandbox.runner import isolation, jobs, warm
from sandbox.runner import s3 as s3_transfer

ENVIRONMENT = {"PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1"}
ROLE = "arn:aws:iam::123456789012:role/r"
BUCKET = "isolation-test"

# A script as AWS's examples write them: container paths by name, not from its arguments.
HARD_CODED_PROCESSING = """\
import os, sys
print("preloaded:", "pandas" in sys.modules)
with open("/opt/ml/processing/input/data/x.csv") as source:
    rows = source.read().splitlines()
os.makedirs("/opt/ml/processing/output/train", exist_ok=True)
with open("/opt/ml/processing/output/train/a.csv", "w") as out:
    out.write("\\n".join(rows[:2]) + "\\n")
print("opt:", sorted(os.listdir("/opt")))
"""
# Warm: `python3 script.py` forks the warm interpreter. Fresh: anything else, here `-u`.
ENTRYPOINTS = {
    "warm": ["python3", "/opt/ml/processing/input/code/job.py"],
    "fresh": ["python3", "-u", "/opt/ml/processing/input/code/job.py"],
}


def _probe() -> str:
    """Why isolation is unavailable on this machine ("" when it is available)."""
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(isolation.__file__).parent)!r})
        import isolation
        try:
            isolation.isolate(sys.argv[1])
        except (isolation.Unavailable, isolation.Failed) as err:
            print(err)
        """
    )
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run(
            [sys.executable, "-I", "-c", code, folder], capture_output=True, text=True
        )
    return done.stdout.strip() or done.stderr.strip()


UNAVAILABLE = _probe()
needs_isolation = pytest.mark.skipif(bool(UNAVAILABLE), reason=f"no isolation: {UNAVAILABLE}")


@pytest.fixture(name="host_ml")
def fixture_host_ml():
    """The host's /opt/ml must be as it was after the test (a broken isolation would have
    written there: remove what the test created, then fail)."""
    existed = os.path.lexists(jobs.HOST_ML)
    before = jobs._host_ml_state()
    yield
    after = jobs._host_ml_state()
    if not existed and os.path.lexists(jobs.HOST_ML):
        subprocess.run(["rm", "-rf", str(jobs.HOST_ML)], check=False)
    assert after == before, f"the job changed the host's {jobs.HOST_ML}"


def _wait(sagemaker, arn: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)[
            "PipelineExecutionStatus"
        ]
        if status in ("Succeeded", "Failed", "Stopped"):
            return status
        time.sleep(0.1)  # the execution runs in this process: asking is cheap
    raise TimeoutError(arn)


def run_processing_step(sandbox, pipeline: str, arguments: dict) -> tuple[str, dict, Path]:
    """A one-step pipeline (a Processing step named Prep) run in the sandbox; returns the
    execution's status, the step's record and the job folder."""
    sagemaker = sandbox.client("sagemaker")
    definition = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [{"Name": "Prep", "Type": "Processing", "Arguments": arguments}],
    }
    sagemaker.create_pipeline(
        PipelineName=pipeline, PipelineDefinition=json.dumps(definition), RoleArn=ROLE
    )
    arn = sagemaker.start_pipeline_execution(PipelineName=pipeline)["PipelineExecutionArn"]
    status = _wait(sagemaker, arn)
    [step] = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)[
        "PipelineExecutionSteps"
    ]
    folder = sandbox.home / "executions" / arn.rsplit("/", 1)[-1]
    return status, step, folder


def processing_arguments(entrypoint: list[str], inputs: dict[str, str], outputs: dict) -> dict:
    """A CreateProcessingJob request as the SDK renders it: inputs and outputs by name,
    {name: S3 URI} each, at /opt/ml/processing/input/<name> and .../output/<name>."""
    return {
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 30,
            }
        },
        "AppSpecification": {"ImageUri": "sklearn:1.2-1", "ContainerEntrypoint": entrypoint},
        "RoleArn": ROLE,
        "ProcessingInputs": [
            {
                "InputName": name,
                "S3Input": {
                    "S3Uri": uri,
                    "LocalPath": f"/opt/ml/processing/input/{name}",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
            for name, uri in inputs.items()
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": name,
                    "S3Output": {
                        "S3Uri": uri,
                        "LocalPath": f"/opt/ml/processing/output/{name}",
                        "S3UploadMode": "EndOfJob",
                    },
                }
                for name, uri in outputs.items()
            ]
        },
    }


@pytest.fixture(name="bucket")
def fixture_bucket(sandbox) -> str:
    s3 = sandbox.client("s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="code/job.py", Body=HARD_CODED_PROCESSING.encode())
    s3.put_object(Bucket=BUCKET, Key="data/x.csv", Body=b"id,churn\n1,0\n2,1\n3,0\n")
    return BUCKET


@needs_isolation
@pytest.mark.parametrize("path", ["warm", "fresh"])
def test_processing_script_with_hard_coded_paths_gets_its_job_folder(
    sandbox, bucket, host_ml, path
):
    arguments = processing_arguments(
        ENTRYPOINTS[path],
        {"code": f"s3://{bucket}/code/job.py", "data": f"s3://{bucket}/data"},
        {"train": f"s3://{bucket}/{path}/train"},
    )
    status, step, folder = run_processing_step(sandbox, f"hard-coded-{path}", arguments)

    log = (folder / "logs" / "Prep.log").read_text()
    assert status == "Succeeded", log
    assert step["StepStatus"] == "Succeeded"
    body = sandbox.client("s3").get_object(Bucket=bucket, Key=f"{path}/train/a.csv")["Body"]
    assert body.read() == b"id,churn\n1,0\n"
    job_ml = folder / "jobs" / "Prep" / "opt" / "ml"
    assert (job_ml / "processing" / "output" / "train" / "a.csv").exists()
    assert f"preloaded: {path == 'warm'}" in log  # the path the test means to take
    assert "'ml'" in log  # the job saw an /opt/ml, its own, next to the host's /opt entries
    assert f"sandbox: /opt/ml was {job_ml} (own mount namespace, set up in" in log


def _training_request(bucket: str) -> dict:
    def channel(name: str) -> dict:
        return {
            "ChannelName": name,
            "DataSource": {"S3DataSource": {"S3Uri": f"s3://{bucket}/t/{name}"}},
        }

    return {
        "InputDataConfig": [channel("train"), channel("code"), channel("sm_drivers")],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }


TRAIN_SCRIPTS = {
    "warm": (
        "train.py",
        "rows = open('/opt/ml/input/data/train/x.csv').read().splitlines()\n"
        "open('/opt/ml/model/model.txt', 'w').write(f'{len(rows)} rows\\n')\n",
    ),
    "fresh": (
        "train.sh",
        "wc -l < /opt/ml/input/data/train/x.csv | tr -d ' ' > /opt/ml/model/model.txt\n",
    ),
}


@needs_isolation
@pytest.mark.parametrize("path", ["warm", "fresh"])
def test_training_script_writing_opt_ml_model_gets_its_model_archive(
    s3_client, tmp_path, host_ml, path
):
    s3_client.create_bucket(Bucket=BUCKET)
    entry, body = TRAIN_SCRIPTS[path]
    for key, content in {
        "t/train/x.csv": "a\nb\nc\n",
        f"t/code/{entry}": body,
        "t/sm_drivers/sourcecode.json": json.dumps({"entry_script": entry}),
    }.items():
        s3_client.put_object(Bucket=BUCKET, Key=key, Body=content.encode())
    job = jobs.Job(
        name="train-1",
        arn="arn:job",
        request=_training_request(BUCKET),
        folder=tmp_path / "job",
        log_path=tmp_path / "job.log",
        s3=s3_client,
        base_environment=ENVIRONMENT,
    )

    properties = jobs.run_training(job)

    archive = tmp_path / "model.tar.gz"
    uri = properties["ModelArtifacts"]["S3ModelArtifacts"]
    s3_client.download_file(*s3_transfer.split_uri(uri), str(archive))
    with tarfile.open(archive) as tar:
        assert tar.getnames() == ["model.txt"]
        assert tar.extractfile("model.txt").read().strip() in (b"3 rows", b"3")
    assert "own mount namespace" in (tmp_path / "job.log").read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another user needs root")
@needs_isolation
def test_an_unprivileged_job_is_isolated_through_a_user_namespace():
    """Without root, a user namespace grants the mounts; files keep the user's own ids."""
    shared = Path(tempfile.mkdtemp(prefix="sandbox-isolation-"))  # the user can reach it
    shared.chmod(0o777)
    try:
        _run_as_nobody(shared)
    finally:
        shutil.rmtree(shared)


def _run_as_nobody(shared: Path) -> None:
    code = textwrap.dedent(
        f"""
        import ctypes, json, os, sys
        sys.path.insert(0, {str(Path(isolation.__file__).parent)!r})
        import isolation
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
        # As a process the user started itself: dumpable (setuid cleared it), so that
        # its /proc/self files are its own.
        ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
        isolation.isolate({str(shared / "job")!r})
        os.makedirs("/opt/ml/model")
        with open("/opt/ml/model/m.txt", "w") as out:
            out.write("mine")
        print(json.dumps({{"ids": [os.getuid(), os.getgid()], "opt": os.listdir("/opt")}}))
        """
    )
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["ids"] == [65534, 65534]
    assert "ml" in seen["opt"]
    written = shared / "job" / "opt" / "ml" / "model" / "m.txt"
    assert written.read_text() == "mine"
    assert (written.stat().st_uid, written.stat().st_gid) == (65534, 65534)
    assert not os.path.exists("/opt/ml/model/m.txt")


@pytest.mark.parametrize("path", ["warm", "fresh"])
def test_without_isolation_a_job_that_changes_the_hosts_opt_ml_fails(tmp_path, monkeypatch, path):
    """Where namespaces are unavailable (SANDBOX_JOB_ISOLATION=off stands in for that
    here, and a folder for the host's /opt/ml), the job runs, says so in its log, and
    fails if it changed the host's /opt/ml."""
    host_ml = tmp_path / "host-opt-ml"
    monkeypatch.setattr(jobs, "HOST_ML", host_ml)
    env = {**ENVIRONMENT, isolation.SWITCH: "off", "HOST_ML": str(host_ml)}
    script = tmp_path / "job.py"
    script.write_text(
        "import os, sys\n"
        "if sys.argv[1:] == ['write']:\n"
        "    os.makedirs(os.environ['HOST_ML'])\n"
        "    open(os.path.join(os.environ['HOST_ML'], 'x'), 'w').close()\n"
    )
    python = [sys.executable] if path == "warm" else [sys.executable, "-u"]
    root = tmp_path / "job"

    jobs.run_logged([*python, str(script)], env, tmp_path, tmp_path / "quiet.log", root=root)
    log = (tmp_path / "quiet.log").read_text()
    assert f"job isolation is off (turned off by {isolation.SWITCH}=off)" in log

    with pytest.raises(jobs.JobFailed, match=r"the job changed the host's .*host-opt-ml"):
        jobs.run_logged(
            [*python, str(script), "write"], env, tmp_path, tmp_path / "write.log", root=root
        )


def test_input_key_leading_out_of_its_folder_fails_the_step_writing_nothing(sandbox, bucket):
    s3 = sandbox.client("s3")
    escape = "../../../../../../../escape.txt"
    s3.put_object(Bucket=bucket, Key="evil/ok.csv", Body=b"fine")
    s3.put_object(Bucket=bucket, Key=f"evil/{escape}", Body=b"escaped")
    arguments = processing_arguments(
        ENTRYPOINTS["warm"],
        {"code": f"s3://{bucket}/code/job.py", "data": f"s3://{bucket}/evil"},
        {"train": f"s3://{bucket}/evil-out/train"},
    )
    status, step, folder = run_processing_step(sandbox, "key-traversal", arguments)

    assert status == "Failed"
    destination = folder / "jobs" / "Prep" / "opt" / "ml" / "processing" / "input" / "data"
    assert step["StepStatus"] == "Failed"
    assert step["FailureReason"] == (
        f"refusing to download s3://{bucket}/evil/{escape}: its path below the input prefix "
        f"({escape!r}) leads outside the destination {destination}"
    )
    assert not os.path.lexists(os.path.normpath(destination / escape))
    assert not destination.exists()  # not even the key that was fine
    assert not any(p.name == "escape.txt" for p in sandbox.home.rglob("*"))
    assert not (folder / "logs" / "Prep.log").exists()  # the job never started


@pytest.mark.parametrize("path", ["warm", "fresh"])
def test_a_job_whose_isolation_fails_halfway_does_not_run(tmp_path, path):
    """isolation.Failed (here: its folder cannot be made) stops the job with the reason."""
    (tmp_path / "file").write_text("")
    root = tmp_path / "file" / "job"  # below a file: opt/ml cannot be created
    script = tmp_path / "job.py"
    script.write_text("open('ran', 'w').close()\n")
    with (tmp_path / "job.log").open("w") as log:
        if path == "warm":
            process = warm.shared(ENVIRONMENT).start(
                [str(script)], ENVIRONMENT, tmp_path, log, root
            )
        else:
            process = jobs._FreshProcess(
                [sys.executable, str(script)], ENVIRONMENT, tmp_path, log, root
            )
        stderr = process.stderr.read()
        ending = process.finish()
    assert ending.exit_code == 1
    assert "sandbox: cannot isolate the job's /opt/ml: cannot create" in stderr
    assert not (tmp_path / "ran").exists()
