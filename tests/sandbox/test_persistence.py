"""State survives a crash: everything the sandbox holds comes back on the next `up`, the
endpoints serve again, and an execution the crash interrupted ends Failed instead of
running forever."""

from __future__ import annotations

import io
import json
import os
import signal
import tarfile
import time

from sandbox import daemon
from tests.sandbox.conftest import sandbox_cli as _sandbox
from tests.sandbox.test_moto_patches import TEMPLATE, _parameters

# A model whose inference script doubles what it is sent: enough to tell it answers.
INFERENCE = """
import json
def model_fn(model_dir):
    return 2
def input_fn(body, content_type):
    return json.loads(body)
def predict_fn(data, model):
    return [model * x for x in data]
def output_fn(prediction, accept):
    return json.dumps(prediction)
"""


def _model_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        script = INFERENCE.encode()
        info = tarfile.TarInfo("code/inference.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    return buffer.getvalue()


def _invoke(running, endpoint: str) -> list:
    runtime = running.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json", Body=json.dumps([1, 2, 3])
    )
    return json.loads(answer["Body"].read())


def _crash(running) -> None:
    time.sleep(1.5)  # a snapshot follows the last change within half a second
    os.kill(running.pid, signal.SIGKILL)
    while daemon._alive(running.pid):
        time.sleep(0.05)


def test_state_survives_a_crash(home):
    """Buckets, objects, the registry, KMS keys, stacks, their exports and the endpoints
    they created come back after a SIGKILL, and the endpoint serves again."""
    assert _sandbox(home, "up").returncode == 0
    running = daemon.find_running(home)
    s3, sagemaker = running.client("s3"), running.client("sagemaker")
    s3.create_bucket(Bucket="kept")
    s3.put_object(Bucket="kept", Key="a/b.bin", Body=bytes(range(256)) * 1000)
    s3.put_object(Bucket="kept", Key="gone.txt", Body=b"deleted before the snapshot")
    s3.delete_object(Bucket="kept", Key="gone.txt")  # moto closes its buffer
    upload = s3.create_multipart_upload(Bucket="kept", Key="parts.bin")["UploadId"]
    part = s3.upload_part(
        Bucket="kept", Key="parts.bin", UploadId=upload, PartNumber=1, Body=b"p" * 1000
    )
    s3.complete_multipart_upload(
        Bucket="kept",
        Key="parts.bin",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    s3.put_object(Bucket="kept", Key="model.tar.gz", Body=_model_archive())
    sagemaker.create_model_package_group(ModelPackageGroupName="kept-group")
    kms = running.client("kms")  # moto's asymmetric keys are objects pickle cannot take as is
    signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    signed = kms.sign(KeyId=signing, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")
    running.client("cloudformation").create_stack(
        StackName="kept-stack",
        TemplateBody=TEMPLATE,
        Parameters=_parameters("kept-endpoint", "s3://kept/model.tar.gz"),
    )
    assert _invoke(running, "kept-endpoint") == [2, 4, 6]
    _crash(running)

    assert _sandbox(home, "up").returncode == 0
    restarted = daemon.find_running(home)
    assert restarted.pid != running.pid
    assert "snapshot of the state failed" not in (home / "logs" / "server.log").read_text()
    s3, sagemaker = restarted.client("s3"), restarted.client("sagemaker")
    assert s3.get_object(Bucket="kept", Key="a/b.bin")["Body"].read() == bytes(range(256)) * 1000
    assert s3.get_object(Bucket="kept", Key="parts.bin")["Body"].read() == b"p" * 1000
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="kept")["Contents"]]
    assert keys == ["a/b.bin", "model.tar.gz", "parts.bin"]
    groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in groups] == ["kept-group"]
    verified = restarted.client("kms").verify(
        KeyId=signing,
        Message=b"m",
        Signature=signed["Signature"],
        SigningAlgorithm="RSASSA_PSS_SHA_256",
    )
    assert verified["SignatureValid"]
    cloudformation = restarted.client("cloudformation")
    [stack] = cloudformation.describe_stacks(StackName="kept-stack")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    exports = cloudformation.list_exports()["Exports"]
    assert [e["Name"] for e in exports] == ["kept-stack-model-data-url"]
    endpoint = sagemaker.describe_endpoint(EndpointName="kept-endpoint")
    assert endpoint["EndpointStatus"] == "InService"
    assert _invoke(restarted, "kept-endpoint") == [2, 4, 6]


# A processing job that sleeps: still running when the sandbox is killed.
SLEEPING = {
    "Version": "2020-12-01",
    "Parameters": [],
    "Steps": [
        {
            "Name": "Sleep",
            "Type": "Processing",
            "Arguments": {
                "ProcessingResources": {
                    "ClusterConfig": {
                        "InstanceCount": 1,
                        "InstanceType": "ml.m5.large",
                        "VolumeSizeInGB": 1,
                    }
                },
                "AppSpecification": {
                    "ImageUri": "python",
                    "ContainerEntrypoint": ["python3", "-c", "import time; time.sleep(4)"],
                },
                "RoleArn": "arn:aws:iam::123456789012:role/r",
            },
        }
    ],
}


def test_an_execution_the_crash_interrupted_ends_failed(home):
    """Nothing runs it in the new process: it must not show Executing forever."""
    from sandbox.executions import INTERRUPTED

    assert _sandbox(home, "up").returncode == 0
    running = daemon.find_running(home)
    sagemaker = running.client("sagemaker")
    sagemaker.create_pipeline(
        PipelineName="interrupted",
        PipelineDefinition=json.dumps(SLEEPING),
        RoleArn="arn:aws:iam::123456789012:role/r",
    )
    arn = sagemaker.start_pipeline_execution(PipelineName="interrupted")["PipelineExecutionArn"]
    steps = []
    while not steps:
        steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)[
            "PipelineExecutionSteps"
        ]
    _crash(running)

    assert _sandbox(home, "up").returncode == 0
    restarted = daemon.find_running(home).client("sagemaker")
    described = restarted.describe_pipeline_execution(PipelineExecutionArn=arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == INTERRUPTED
    [step] = restarted.list_pipeline_execution_steps(PipelineExecutionArn=arn)[
        "PipelineExecutionSteps"
    ]
    assert (step["StepName"], step["StepStatus"]) == ("Sleep", "Failed")
    assert step["FailureReason"] == INTERRUPTED


def test_an_unreadable_snapshot_is_set_aside_and_the_sandbox_starts_empty(home):
    """A snapshot pickles moto's classes: one from another moto version may not load."""
    (home / "state").mkdir(parents=True)
    (home / "state" / "snapshot.pickle").write_bytes(b"not a pickle")
    assert _sandbox(home, "up").returncode == 0
    running = daemon.find_running(home)
    assert running.client("s3").list_buckets()["Buckets"] == []
    assert (home / "state" / "snapshot.pickle.unreadable").read_bytes() == b"not a pickle"
    assert "could not be loaded" in (home / "logs" / "server.log").read_text()
