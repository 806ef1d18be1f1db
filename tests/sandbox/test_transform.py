"""Batch transform (the Transform step): records split, batched, filtered, joined and
assembled as SageMaker does, answered by the model's own inference code or a built-in
algorithm's; and the JSONPath subset of DataProcessing."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile

import numpy as np
import pytest

from sandbox.runner import jobs, transform
from sandbox.runner.containers import batch_transform
from sandbox.runner.containers import data_processing as dp

BUCKET = "transform-test"
pytestmark = pytest.mark.filterwarnings("ignore:.*Unknown file format")
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"


def _job(tmp_path, s3_client, request: dict, name: str = "job") -> jobs.Job:
    environment = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    return jobs.Job(
        name=name,
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:job/{name}",
        request=request,
        folder=tmp_path / name,
        log_path=tmp_path / f"{name}.log",
        s3=s3_client,
        base_environment={"PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1", **environment},
    )


def _data(rows: int = 120, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.random((rows, 3))
    return features, 4 * features[:, 0] - 2 * features[:, 1] + 0.1 * rng.random(rows)


def _csv(labels, features) -> str:
    return "".join(
        ",".join(map(repr, [float(y), *map(float, x)])) + "\n"
        for y, x in zip(labels, features, strict=True)
    )


def _read(s3_client, key: str) -> bytes:
    return s3_client.get_object(Bucket=BUCKET, Key=key)["Body"].read()


@pytest.fixture(name="xgboost_model")
def fixture_xgboost_model(s3_client, tmp_path, sagemaker_client) -> str:
    """A built-in XGBoost model, trained by the sandbox's algorithm runner and created as a
    SageMaker model; returns its name."""
    s3_client.create_bucket(Bucket=BUCKET)
    features, labels = _data()
    s3_client.put_object(Bucket=BUCKET, Key="train/train.csv", Body=_csv(labels, features))
    request = {
        "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
        "HyperParameters": {"objective": "reg:squarederror", "num_round": "20", "max_depth": "3"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {"S3DataSource": {"S3Uri": f"s3://{BUCKET}/train/"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    trained = jobs.run_training(_job(tmp_path, s3_client, request, "train"))
    sagemaker_client.create_model(
        ModelName="xgb",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={
            "Image": XGBOOST_IMAGE,
            "ModelDataUrl": trained["ModelArtifacts"]["S3ModelArtifacts"],
        },
    )
    return "xgb"


def _booster(s3_client, tmp_path):
    import xgboost as xgb

    body = _read(s3_client, "models/train/output/model.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        tar.extractall(tmp_path / "unpacked")  # noqa: S202 — our own archive
    booster = xgb.Booster()
    booster.load_model(str(tmp_path / "unpacked" / "xgboost-model"))
    return booster


def test_xgboost_join_and_filters_give_label_and_prediction(
    xgboost_model, s3_client, sagemaker_client, tmp_path
):
    import xgboost as xgb

    features, labels = _data(rows=40, seed=9)
    s3_client.put_object(
        Bucket=BUCKET, Key="batch/part-1.csv", Body=_csv(labels[:25], features[:25])
    )
    s3_client.put_object(
        Bucket=BUCKET, Key="batch/part-2.csv", Body=_csv(labels[25:], features[25:])
    )
    request = {
        "ModelName": xgboost_model,
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/batch"}
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": f"s3://{BUCKET}/scored",
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": 1,
        "DataProcessing": {
            "InputFilter": "$[1:]",
            "JoinSource": "Input",
            "OutputFilter": "$[0,-1]",
        },
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    described = transform.run_transform(_job(tmp_path, s3_client, request), sagemaker_client)
    assert described["TransformJobStatus"] == "Completed"
    rows = [
        line.split(",")
        for key in ("scored/part-1.csv.out", "scored/part-2.csv.out")
        for line in _read(s3_client, key).decode().splitlines()
    ]
    assert len(rows) == 40
    assert all(len(row) == 2 for row in rows)
    assert [float(r[0]) for r in rows] == pytest.approx(labels.tolist())
    expected = _booster(s3_client, tmp_path).predict(xgb.DMatrix(features))
    assert [float(r[1]) for r in rows] == pytest.approx(expected.tolist(), rel=1e-5)


def test_gzip_whole_file_single_record_without_join_is_the_models_answer(
    xgboost_model, s3_client, sagemaker_client, tmp_path
):
    import xgboost as xgb

    features, _ = _data(rows=5, seed=4)
    body = "".join(",".join(map(repr, map(float, x))) + "\n" for x in features)
    s3_client.put_object(Bucket=BUCKET, Key="plain/rows.csv", Body=gzip.compress(body.encode()))
    request = {
        "ModelName": xgboost_model,
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/plain/rows.csv"}
            },
            "ContentType": "text/csv",
            "SplitType": "None",
            "CompressionType": "Gzip",
        },
        "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/plain-out/"},
        "BatchStrategy": "SingleRecord",
    }
    transform.run_transform(_job(tmp_path, s3_client, request), sagemaker_client)
    answer = _read(s3_client, "plain-out/rows.csv.out").decode()
    expected = _booster(s3_client, tmp_path).predict(xgb.DMatrix(features))
    # One request, the container's batch answer: a prediction a line.
    assert [float(v) for v in answer.split()] == pytest.approx(expected.tolist(), rel=1e-5)


INFERENCE = """
import json
import joblib
import os
import numpy as np


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(body, content_type):
    if content_type == "application/jsonlines":
        return np.array([json.loads(line) for line in body.decode().splitlines()])
    raise ValueError(content_type)


def output_fn(prediction, accept):
    return "\\n".join(json.dumps({"score": float(p)}) for p in prediction), accept
"""


@pytest.fixture(name="script_model")
def fixture_script_model(s3_client, sagemaker_client, tmp_path) -> str:
    """A scikit-learn model whose model.tar.gz carries code/inference.py (script mode), with
    no predict_fn: the container's default (model.predict) applies."""
    import joblib
    from sklearn.linear_model import LinearRegression

    s3_client.create_bucket(Bucket=BUCKET)
    features, labels = _data()
    folder = tmp_path / "model"
    (folder / "code").mkdir(parents=True)
    joblib.dump(LinearRegression().fit(features, labels), folder / "model.joblib")
    (folder / "code" / "serve.py").write_text(INFERENCE)
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        for item in folder.iterdir():
            tar.add(item, arcname=item.name)
    s3_client.upload_file(str(tmp_path / "model.tar.gz"), BUCKET, "script/model.tar.gz")
    sagemaker_client.create_model(
        ModelName="script",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl": f"s3://{BUCKET}/script/model.tar.gz",
            "Environment": {
                "SAGEMAKER_PROGRAM": "serve.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
        },
    )
    return "script"


def test_script_model_json_lines_joined_and_filtered(
    script_model, s3_client, sagemaker_client, tmp_path
):
    import joblib

    features, _ = _data(rows=7, seed=5)
    lines = "".join(
        json.dumps({"id": f"r{i}", "features": x.tolist()}) + "\n" for i, x in enumerate(features)
    )
    s3_client.put_object(Bucket=BUCKET, Key="json/in.jsonl", Body=lines)
    request = {
        "ModelName": script_model,
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/json/"}
            },
            "ContentType": "application/jsonlines",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": f"s3://{BUCKET}/json-out",
            "Accept": "application/jsonlines",
            "AssembleWith": "Line",
        },
        "BatchStrategy": "MultiRecord",
        "DataProcessing": {
            "InputFilter": "$.features",
            "JoinSource": "Input",
            "OutputFilter": "$['id','SageMakerOutput']",
        },
    }
    transform.run_transform(_job(tmp_path, s3_client, request), sagemaker_client)
    out = [
        json.loads(line) for line in _read(s3_client, "json-out/in.jsonl.out").decode().splitlines()
    ]
    model = joblib.load(tmp_path / "model" / "model.joblib")
    expected = model.predict(features)
    assert [o["id"] for o in out] == [f"r{i}" for i in range(7)]
    assert [o["SageMakerOutput"]["score"] for o in out] == pytest.approx(expected.tolist())


def test_a_model_that_cannot_answer_fails_the_job_with_its_error(
    script_model, s3_client, sagemaker_client, tmp_path
):
    s3_client.put_object(Bucket=BUCKET, Key="csv/in.csv", Body="1,2,3\n")
    request = {
        "ModelName": script_model,
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/csv/"}
            },
            "ContentType": "text/csv",
        },
        "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/csv-out"},
    }
    with pytest.raises(jobs.JobFailed, match="ValueError: text/csv"):
        transform.run_transform(_job(tmp_path, s3_client, request), sagemaker_client)
    assert "Contents" not in s3_client.list_objects_v2(Bucket=BUCKET, Prefix="csv-out")


def test_manifest_input_and_unknown_filters_fail_naming_them(
    script_model, s3_client, sagemaker_client, tmp_path
):
    base = {
        "ModelName": script_model,
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": f"s3://{BUCKET}/m"}
            }
        },
        "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/m-out"},
    }
    with pytest.raises(jobs.JobFailed, match="S3DataType 'ManifestFile' is not supported"):
        transform.run_transform(_job(tmp_path, s3_client, base), sagemaker_client)
    bad_filter = {**base, "DataProcessing": {"InputFilter": "$..features"}}
    with pytest.raises(
        jobs.JobFailed, match=r"DataProcessing.InputFilter: JSONPath '\$..features'"
    ):
        transform.run_transform(_job(tmp_path, s3_client, bad_filter, "j2"), sagemaker_client)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", ["a", "b", "c", "d"]),
        ("$[1:]", ["b", "c", "d"]),
        ("$[:2]", ["a", "b"]),
        ("$[0]", "a"),
        ("$[-1]", "d"),
        ("$[0,-1]", ["a", "d"]),
        ("$[0,2:]", ["a", "c", "d"]),
    ],
)
def test_csv_paths_select_fields(path, expected):
    assert dp.select(["a", "b", "c", "d"], path) == expected


def test_json_paths_select_keys():
    record = {"id": 1, "features": [1, 2], "nested": {"x": 3}, "SageMakerOutput": {"score": 0.5}}
    assert dp.select(record, "$.features") == [1, 2]
    assert dp.select(record, "$.nested.x") == 3
    assert dp.select(record, "$['id','SageMakerOutput']") == {
        "id": 1,
        "SageMakerOutput": {"score": 0.5},
    }
    assert dp.select(record, "$.features[1]") == 2
    with pytest.raises(dp.FilterError, match="has no 'missing'"):
        dp.select(record, "$.missing")


def test_csv_join_appends_the_prediction_to_the_input_fields():
    joined, as_csv = dp.join(["5", "1.0", "2.0"], b"0.7", True, True)
    assert (joined, as_csv) == (["5", "1.0", "2.0", "0.7"], True)
    assert dp.render(dp.select(joined, "$[0,-1]"), True) == b"5,0.7"
    joined, as_csv = dp.join(["1", "2"], b'{"score": 0.5}', True, False)
    assert joined == {"SageMakerInput": ["1", "2"], "SageMakerOutput": {"score": 0.5}}


def test_multi_record_batches_stay_under_max_payload():
    records = [b"x" * 400_000] * 6
    groups = batch_transform.batches(records, "MultiRecord", 1)
    assert [len(g) for g in groups] == [2, 2, 2]
    assert all(sum(map(len, g)) + len(g) - 1 <= 1 << 20 for g in groups)
    assert batch_transform.batches(records, "SingleRecord", 1) == [[r] for r in records]
    with pytest.raises(batch_transform.TransformError, match="exceeds MaxPayloadInMB"):
        batch_transform.batches([b"x" * (2 << 20)], "MultiRecord", 1)


def _pipeline_data(s3, prefix: str):
    from sandbox.constants import DEFAULT_BUCKET

    train, test = _data(rows=200, seed=11), _data(rows=30, seed=12)
    s3.put_object(
        Bucket=DEFAULT_BUCKET, Key=f"{prefix}/train/train.csv", Body=_csv(train[1], train[0])
    )
    s3.put_object(Bucket=DEFAULT_BUCKET, Key=f"{prefix}/test/test.csv", Body=_csv(test[1], test[0]))
    return test


def test_transform_step_scores_with_the_model_a_training_step_made(sandbox, tmp_path):
    """Train (built-in XGBoost) -> CreateModel -> Transform, written with SDK v3 classes as
    the documentation's batch-transform examples are."""
    import xgboost as xgb
    from sagemaker.core import image_uris
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
    from sagemaker.core.transformer import Transformer
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import TrainingStep, TransformStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train import ModelTrainer

    from sandbox.constants import DEFAULT_BUCKET
    from tests.sandbox.sdk_pipeline import ROLE, pipeline_session, pointed_at, run

    prefix = "bt-pipeline"
    with pointed_at(sandbox):
        s3 = sandbox.client("s3")
        test_features, test_labels = _pipeline_data(s3, prefix)
        session = pipeline_session()
        image = image_uris.retrieve("xgboost", region="us-east-1", version="1.7-1")
        trainer = ModelTrainer(
            training_image=image,
            compute=Compute(instance_type="ml.m5.xlarge", instance_count=1),
            hyperparameters={"objective": "reg:squarederror", "num_round": 20, "max_depth": 3},
            input_data_config=[
                InputData(
                    channel_name="train",
                    data_source=f"s3://{DEFAULT_BUCKET}/{prefix}/train/",
                    content_type="text/csv",
                )
            ],
            output_data_config=OutputDataConfig(
                s3_output_path=f"s3://{DEFAULT_BUCKET}/{prefix}/models"
            ),
            sagemaker_session=session,
            role=ROLE,
        )
        train = TrainingStep(name="Train", step_args=trainer.train())
        builder = ModelBuilder(
            s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts,
            image_uri=image,
            sagemaker_session=session,
            role_arn=ROLE,
        )
        create = ModelStep(name="CreateModel", step_args=builder.build())
        transformer = Transformer(
            model_name=create.properties.ModelName,
            instance_count=1,
            instance_type="ml.m5.large",
            output_path=f"s3://{DEFAULT_BUCKET}/{prefix}/scored",
            accept="text/csv",
            assemble_with="Line",
            strategy="MultiRecord",
            sagemaker_session=session,
        )
        score = TransformStep(
            name="Score",
            step_args=transformer.transform(
                data=f"s3://{DEFAULT_BUCKET}/{prefix}/test/",
                content_type="text/csv",
                split_type="Line",
                input_filter="$[1:]",
                join_source="Input",
                output_filter="$[0,-1]",
            ),
        )
        pipeline = Pipeline(
            name="batch-transform", steps=[train, create, score], sagemaker_session=session
        )
        described, steps = run(pipeline, sandbox)
    assert described["PipelineExecutionStatus"] == "Succeeded", {
        n: s.get("FailureReason") for n, s in steps.items()
    }
    assert "TransformJob" in steps["Score"]["Metadata"]
    output = (
        s3.get_object(Bucket=DEFAULT_BUCKET, Key=f"{prefix}/scored/test.csv.out")["Body"]
        .read()
        .decode()
    )
    rows = [line.split(",") for line in output.splitlines()]
    [model_key] = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=DEFAULT_BUCKET, Prefix=f"{prefix}/models/")["Contents"]
        if o["Key"].endswith("model.tar.gz")
    ]
    body = s3.get_object(Bucket=DEFAULT_BUCKET, Key=model_key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        (tmp_path / "xgboost-model").write_bytes(tar.extractfile("xgboost-model").read())
    booster = xgb.Booster()
    booster.load_model(str(tmp_path / "xgboost-model"))
    assert [float(r[0]) for r in rows] == pytest.approx(test_labels.tolist())
    expected = booster.predict(xgb.DMatrix(test_features))
    assert [float(r[1]) for r in rows] == pytest.approx(expected.tolist(), rel=1e-5)


def test_linear_learner_model_answers_as_the_algorithm(s3_client, sagemaker_client, tmp_path):
    """A binary Linear Learner trained by the sandbox, scored in JSON Lines: a score and a
    predicted label per record."""
    import joblib

    s3_client.create_bucket(Bucket=BUCKET)
    features, scores = _data(rows=200, seed=21)
    labels = (scores > np.median(scores)).astype(int)
    s3_client.put_object(Bucket=BUCKET, Key="ll/train/t.csv", Body=_csv(labels, features))
    image = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"
    request = {
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "HyperParameters": {"predictor_type": "binary_classifier", "feature_dim": "3"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {"S3DataSource": {"S3Uri": f"s3://{BUCKET}/ll/train/"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/ll/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    trained = jobs.run_training(_job(tmp_path, s3_client, request, "ll-train"))
    sagemaker_client.create_model(
        ModelName="ll",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={
            "Image": image,
            "ModelDataUrl": trained["ModelArtifacts"]["S3ModelArtifacts"],
        },
    )
    rows = "".join(",".join(map(repr, map(float, x))) + "\n" for x in features[:10])
    s3_client.put_object(Bucket=BUCKET, Key="ll/batch/rows.csv", Body=rows)
    transform_request = {
        "ModelName": "ll",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3Uri": f"s3://{BUCKET}/ll/batch/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": f"s3://{BUCKET}/ll/scored",
            "Accept": "application/jsonlines",
            "AssembleWith": "Line",
        },
    }
    transform.run_transform(_job(tmp_path, s3_client, transform_request), sagemaker_client)
    answers = [json.loads(line) for line in _read(s3_client, "ll/scored/rows.csv.out").splitlines()]
    model = joblib.load(tmp_path / "ll-train/opt/ml/model/linear-learner-model.joblib")
    assert [a["predicted_label"] for a in answers] == model.predict(features[:10]).tolist()
    expected = model.predict_proba(features[:10])[:, 1]
    assert [a["score"] for a in answers] == pytest.approx(expected.tolist())
