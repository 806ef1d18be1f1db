"""Training with the built-in XGBoost and Linear Learner images: the open-source
equivalents, the algorithms' hyperparameter names (strings), channels, artifact and metric
names; other built-in images fail naming the image."""

from __future__ import annotations

import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from sandbox.runner import jobs
from tests.sandbox.sdk_pipeline import ROLE, pipeline_session, pointed_at, run

BUCKET = "algorithms-test"
REGISTRY = "683313688378.dkr.ecr.us-east-1.amazonaws.com"
pytestmark = pytest.mark.filterwarnings("ignore:.*Unknown file format")


def _job(tmp_path, s3_client, request: dict, name: str = "train-1") -> jobs.Job:
    environment = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    return jobs.Job(
        name=name,
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        request=request,
        folder=tmp_path / name,
        log_path=tmp_path / f"{name}.log",
        s3=s3_client,
        base_environment={"PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1", **environment},
    )


def _regression(rows: int, seed: int):
    rng = np.random.default_rng(seed)
    features = rng.random((rows, 4))
    return features, 3 * features[:, 0] - 2 * features[:, 2] + 0.1 * rng.standard_normal(rows)


def _csv(features, labels) -> str:
    return "".join(
        ",".join(map(repr, [float(y), *map(float, x)])) + "\n"
        for x, y in zip(features, labels, strict=True)
    )


def _libsvm(features, labels) -> str:
    return "".join(
        f"{float(y)!r} " + " ".join(f"{i}:{float(v)!r}" for i, v in enumerate(x)) + "\n"
        for x, y in zip(features, labels, strict=True)
    )


def _channel(name: str, content_type: str | None = "text/csv") -> dict:
    channel = {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{name}/"}
        },
    }
    if content_type:
        channel["ContentType"] = content_type
    return channel


def _request(image: str, hyperparameters: dict, channels: list[dict]) -> dict:
    return {
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "HyperParameters": hyperparameters,
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }


def _artifact(s3_client, uri: str, tmp_path) -> dict[str, bytes]:
    key = uri.split(f"s3://{BUCKET}/", 1)[1]
    body = s3_client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


@pytest.fixture(name="regression_data")
def fixture_regression_data(s3_client):
    s3_client.create_bucket(Bucket=BUCKET)
    train, validation = _regression(300, 1), _regression(100, 2)
    s3_client.put_object(Bucket=BUCKET, Key="train/part.csv", Body=_csv(*train))
    s3_client.put_object(Bucket=BUCKET, Key="validation/part.csv", Body=_csv(*validation))
    s3_client.put_object(Bucket=BUCKET, Key="test/part.csv", Body=_csv(*_regression(80, 3)))
    return train, validation


def test_xgboost_trains_with_the_algorithms_names_and_reports_its_metrics(
    regression_data, s3_client, tmp_path
):
    import xgboost as xgb

    _, (features, labels) = regression_data
    hyperparameters = {
        "objective": "reg:squarederror",
        "num_round": "30",
        "max_depth": "4",
        "eta": "0.3",
        "gamma": "0",
        "min_child_weight": "1",
        "subsample": "0.9",
        "eval_metric": "rmse,mae",
    }
    request = _request(
        f"{REGISTRY}/sagemaker-xgboost:1.7-1",
        hyperparameters,
        [_channel("train"), _channel("validation")],
    )
    described = jobs.run_training(_job(tmp_path, s3_client, request))
    uri = described["ModelArtifacts"]["S3ModelArtifacts"]
    assert uri == f"s3://{BUCKET}/models/train-1/output/model.tar.gz"
    files = _artifact(s3_client, uri, tmp_path)
    assert list(files) == ["xgboost-model"]
    (tmp_path / "xgboost-model").write_bytes(files["xgboost-model"])
    booster = xgb.Booster()
    booster.load_model(str(tmp_path / "xgboost-model"))  # saved with save_model (1.3 and later)
    predicted = booster.predict(xgb.DMatrix(features))
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert set(metrics) == {"train:rmse", "train:mae", "validation:rmse", "validation:mae"}
    assert metrics["validation:rmse"] == pytest.approx(
        np.sqrt(np.mean((predicted - labels) ** 2)), abs=1e-4
    )
    assert metrics["validation:mae"] == pytest.approx(np.mean(np.abs(predicted - labels)), abs=1e-4)
    assert metrics["validation:rmse"] < 0.3
    log = (tmp_path / "train-1.log").read_text()
    assert "[29]\ttrain-rmse:" in log  # the container's evaluation log, a line a round


def test_seed_style_xgboost_1_0_pickles_the_booster_and_reads_libsvm_by_default(
    s3_client, tmp_path
):
    """AWS's abalone seed: image 1.0-1, `reg:linear`, `silent`; libsvm when no ContentType."""
    s3_client.create_bucket(Bucket=BUCKET)
    features, labels = _regression(200, 4)
    s3_client.put_object(Bucket=BUCKET, Key="train/abalone.libsvm", Body=_libsvm(features, labels))
    hyperparameters = {
        "objective": "reg:linear",
        "num_round": "50",
        "max_depth": "5",
        "eta": "0.2",
        "gamma": "4",
        "min_child_weight": "6",
        "subsample": "0.7",
        "silent": "0",
    }
    request = _request(
        f"{REGISTRY}/sagemaker-xgboost:1.0-1-cpu-py3", hyperparameters, [_channel("train", None)]
    )
    described = jobs.run_training(_job(tmp_path, s3_client, request))
    files = _artifact(s3_client, described["ModelArtifacts"]["S3ModelArtifacts"], tmp_path)
    booster = pickle.loads(files["xgboost-model"])  # as the seed's evaluate.py loads it
    import xgboost as xgb

    predicted = booster.predict(xgb.DMatrix(features))
    assert np.sqrt(np.mean((predicted - labels) ** 2)) < 0.5
    assert [m["MetricName"] for m in described["FinalMetricDataList"]] == ["train:rmse"]


def test_xgboost_without_num_round_fails_naming_it(regression_data, s3_client, tmp_path):
    request = _request(
        f"{REGISTRY}/sagemaker-xgboost:1.7-1",
        {"objective": "reg:squarederror"},
        [_channel("train")],
    )
    with pytest.raises(
        jobs.JobFailed, match="^AlgorithmError: hyperparameter num_round is required$"
    ):
        jobs.run_training(_job(tmp_path, s3_client, request))


def test_linear_learner_regressor_reports_test_and_validation_metrics(
    regression_data, s3_client, tmp_path
):
    import joblib

    hyperparameters = {
        "predictor_type": "regressor",
        "feature_dim": "4",
        "mini_batch_size": "100",
        "epochs": "10",
    }
    channels = [_channel("train"), _channel("validation"), _channel("test")]
    described = jobs.run_training(
        _job(
            tmp_path,
            s3_client,
            _request(
                "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1",
                hyperparameters,
                channels,
            ),
        )
    )
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    for channel in ("validation", "test"):
        for name in ("objective_loss", "mse", "rmse", "absolute_loss"):
            assert f"{channel}:{name}" in metrics
    assert "train:objective_loss" in metrics
    files = _artifact(s3_client, described["ModelArtifacts"]["S3ModelArtifacts"], tmp_path)
    assert set(files) == {"linear-learner-model.joblib", "linear-learner-model.json"}
    model = joblib.load(io.BytesIO(files["linear-learner-model.joblib"]))
    _, (features, labels) = regression_data
    mse = float(np.mean((model.predict(features) - labels) ** 2))
    assert metrics["validation:mse"] == pytest.approx(mse)
    assert mse < 0.05


def test_linear_learner_binary_classifier_names_its_metrics(s3_client, tmp_path):
    s3_client.create_bucket(Bucket=BUCKET)
    features, scores = _regression(300, 5)
    labels = (scores > np.median(scores)).astype(int)
    s3_client.put_object(Bucket=BUCKET, Key="train/part.csv", Body=_csv(features, labels))
    s3_client.put_object(Bucket=BUCKET, Key="validation/part.csv", Body=_csv(features, labels))
    request = _request(
        "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1",
        {"predictor_type": "binary_classifier"},
        [_channel("train"), _channel("validation")],
    )
    described = jobs.run_training(_job(tmp_path, s3_client, request))
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert metrics["validation:binary_classification_accuracy"] > 0.9
    assert {
        "validation:objective_loss",
        "validation:roc_auc_score",
        "validation:binary_f_beta",
        "validation:precision",
        "validation:recall",
    } <= set(metrics)


def test_linear_learner_without_predictor_type_fails_naming_it(
    regression_data, s3_client, tmp_path
):
    request = _request(
        "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1",
        {"feature_dim": "4"},
        [_channel("train")],
    )
    with pytest.raises(jobs.JobFailed, match="hyperparameter predictor_type: None is not one of"):
        jobs.run_training(_job(tmp_path, s3_client, request))


def test_other_builtin_algorithm_images_fail_at_once_naming_the_image(tmp_path, s3_client):
    image = "382416733822.dkr.ecr.eu-west-1.amazonaws.com/kmeans:1"
    request = _request(image, {"k": "3"}, [_channel("train")])
    with pytest.raises(
        jobs.JobFailed, match=f"training image {image} is the built-in algorithm 'kmeans'"
    ):
        jobs.run_training(_job(tmp_path, s3_client, request))
    assert not (tmp_path / "train-1").exists()  # nothing downloaded or started


def test_sdk_v3_model_trainer_with_the_xgboost_image_runs_in_a_pipeline(sandbox, tmp_path):
    """A pipeline as the SDK v3 docs write one: ModelTrainer with `image_uris.retrieve`'s
    XGBoost image, no script, hyperparameters as numbers (the API gets strings)."""
    import xgboost as xgb
    from sagemaker.core import image_uris
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import TrainingStep
    from sagemaker.train import ModelTrainer

    from sandbox.constants import DEFAULT_BUCKET

    train, validation = _regression(300, 6), _regression(100, 7)
    with pointed_at(sandbox):
        s3 = sandbox.client("s3")
        s3.put_object(Bucket=DEFAULT_BUCKET, Key="xgb-pipeline/train/t.csv", Body=_csv(*train))
        s3.put_object(
            Bucket=DEFAULT_BUCKET, Key="xgb-pipeline/validation/v.csv", Body=_csv(*validation)
        )
        session = pipeline_session()
        trainer = ModelTrainer(
            training_image=image_uris.retrieve("xgboost", region="eu-west-1", version="1.7-1"),
            compute=Compute(instance_type="ml.m5.xlarge", instance_count=1),
            hyperparameters={
                "objective": "reg:squarederror",
                "num_round": 25,
                "max_depth": 4,
                "eta": 0.3,
            },
            input_data_config=[
                InputData(
                    channel_name=name,
                    data_source=f"s3://{DEFAULT_BUCKET}/xgb-pipeline/{name}/",
                    content_type="text/csv",
                )
                for name in ("train", "validation")
            ],
            output_data_config=OutputDataConfig(
                s3_output_path=f"s3://{DEFAULT_BUCKET}/xgb-pipeline/models"
            ),
            sagemaker_session=session,
            role=ROLE,
        )
        pipeline = Pipeline(
            name="xgb-builtin",
            steps=[TrainingStep(name="Train", step_args=trainer.train())],
            sagemaker_session=session,
        )
        described, steps = run(pipeline, sandbox)
    assert described["PipelineExecutionStatus"] == "Succeeded", steps["Train"].get("FailureReason")
    job_arn = steps["Train"]["Metadata"]["TrainingJob"]["Arn"]
    job_name = job_arn.rsplit("/", 1)[-1]
    objects = s3.list_objects_v2(Bucket=DEFAULT_BUCKET, Prefix="xgb-pipeline/models/")["Contents"]
    [key] = [o["Key"] for o in objects if o["Key"].endswith("/output/model.tar.gz")]
    assert key.lower() == f"xgb-pipeline/models/{job_name}/output/model.tar.gz"
    with tarfile.open(
        fileobj=io.BytesIO(s3.get_object(Bucket=DEFAULT_BUCKET, Key=key)["Body"].read())
    ) as tar:
        (tmp_path / "xgboost-model").write_bytes(tar.extractfile("xgboost-model").read())
    booster = xgb.Booster()
    booster.load_model(str(tmp_path / "xgboost-model"))
    predicted = booster.predict(xgb.DMatrix(validation[0]))
    assert np.sqrt(np.mean((predicted - validation[1]) ** 2)) < 0.3
