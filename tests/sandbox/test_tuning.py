"""Hyperparameter tuning (the Tuning step): ranges sampled within the job budget, each trial
a training job, the best one by its reported objective, artifacts where SDK v3's
`get_top_model_s3_uri` points."""

from __future__ import annotations

import io
import json
import math
import os
import tarfile

import numpy as np
import pytest

from sandbox.runner import jobs, tuning
from sandbox.runner import s3 as s3_transfer

BUCKET = "tuning-test"
PYTORCH_REGISTRY = "763104351884.dkr.ecr.us-east-1.amazonaws.com"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
pytestmark = pytest.mark.filterwarnings("ignore:.*Unknown file format")


def _job(tmp_path, s3_client, request: dict, name: str = "tune-1") -> jobs.Job:
    environment = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    return jobs.Job(
        name=name,
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/{name}",
        request=request,
        folder=tmp_path / name,
        log_path=tmp_path / f"{name}.log",
        s3=s3_client,
        base_environment={"PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1", **environment},
    )


RANGES = {
    "IntegerParameterRanges": [
        {"Name": "max_depth", "MinValue": "1", "MaxValue": "8", "ScalingType": "Auto"}
    ],
    "ContinuousParameterRanges": [
        {"Name": "eta", "MinValue": "0.001", "MaxValue": "0.5", "ScalingType": "Logarithmic"}
    ],
    "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}],
}


def test_random_samples_stay_in_their_ranges_and_budget():
    config = {
        "Strategy": "Random",
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 40},
        "ParameterRanges": RANGES,
    }
    samples = tuning.candidates(config, seed=7)
    assert len(samples) == 40
    assert samples == tuning.candidates(config, seed=7)  # RandomSeed repeats the search
    for sample in samples:
        assert set(sample) == {"max_depth", "eta", "booster"}
        assert all(isinstance(v, str) for v in sample.values())  # as TunedHyperParameters
        assert 1 <= int(sample["max_depth"]) <= 8
        assert 0.001 <= float(sample["eta"]) <= 0.5
        assert sample["booster"] in ("gbtree", "dart")
    # Logarithmic scaling: as many samples below the range's geometric middle as above.
    below = sum(float(s["eta"]) < math.sqrt(0.001 * 0.5) for s in samples)
    assert 10 <= below <= 30


def test_a_finite_space_is_searched_once_per_combination():
    ranges = {"IntegerParameterRanges": [{"Name": "k", "MinValue": "1", "MaxValue": "3"}]}
    config = {
        "Strategy": "Bayesian",
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 10},
        "ParameterRanges": ranges,
    }
    assert sorted(s["k"] for s in tuning.candidates(config, seed=1)) == ["1", "2", "3"]


def test_grid_is_every_categorical_combination():
    ranges = {
        "CategoricalParameterRanges": [
            {"Name": "a", "Values": ["1", "2"]},
            {"Name": "b", "Values": ["x", "y", "z"]},
        ]
    }
    grid = tuning.candidates({"Strategy": "Grid", "ParameterRanges": ranges})
    assert len(grid) == 6 and {"a": "2", "b": "z"} in grid
    with pytest.raises(jobs.JobFailed, match="Grid takes CategoricalParameterRanges only"):
        tuning.candidates({"Strategy": "Grid", "ParameterRanges": RANGES})


def _csv(features, labels) -> str:
    return "".join(
        ",".join(map(repr, [float(y), *map(float, x)])) + "\n"
        for x, y in zip(features, labels, strict=True)
    )


def test_xgboost_tuning_reports_the_trial_with_the_lowest_validation_rmse(s3_client, tmp_path):
    import xgboost as xgb

    s3_client.create_bucket(Bucket=BUCKET)
    rng = np.random.default_rng(0)
    features = rng.random((300, 4))
    labels = np.sin(6 * features[:, 0]) + features[:, 1] ** 2 + 0.05 * rng.random(300)
    s3_client.put_object(Bucket=BUCKET, Key="train/t.csv", Body=_csv(features[:200], labels[:200]))
    s3_client.put_object(
        Bucket=BUCKET, Key="validation/v.csv", Body=_csv(features[200:], labels[200:])
    )

    def channel(name):
        return {
            "ChannelName": name,
            "ContentType": "text/csv",
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{name}/"}
            },
        }

    request = {
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "RandomSeed": 3,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "HyperParameterTuningJobObjective": {
                "Type": "Minimize",
                "MetricName": "validation:rmse",
            },
            "ParameterRanges": {
                "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "1", "MaxValue": "6"}],
                "ContinuousParameterRanges": [
                    {
                        "Name": "eta",
                        "MinValue": "0.01",
                        "MaxValue": "0.6",
                        "ScalingType": "Logarithmic",
                    }
                ],
            },
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
            "StaticHyperParameters": {"objective": "reg:squarederror", "num_round": "15"},
            "InputDataConfig": [channel("train"), channel("validation")],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/tuned"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 30,
            },
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
    }
    seen = []
    described = tuning.run_tuning(_job(tmp_path, s3_client, request), on_trial=seen.append)
    summaries = described["TrainingJobSummaries"]
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"]["Completed"] == 4 == len(summaries) == len(seen)
    assert {s["TrainingJobName"] for s in summaries} == {p["TrainingJobName"] for p in seen}
    assert all(p["HyperParameters"]["_tuning_objective_metric"] == "validation:rmse" for p in seen)

    # Each trial's reported objective is its model's RMSE on the validation channel, read
    # from where get_top_model_s3_uri points: <S3OutputPath>/<TrainingJobName>/output/model.tar.gz.
    validation = xgb.DMatrix(features[200:])
    measured = {}
    for summary in summaries:
        name = summary["TrainingJobName"]
        assert name.startswith("tune-1-0") and len(name) <= 63
        body = s3_client.get_object(Bucket=BUCKET, Key=f"tuned/{name}/output/model.tar.gz")[
            "Body"
        ].read()
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            tar.extractall(tmp_path / name)  # noqa: S202 — our own archive
        booster = xgb.Booster()
        booster.load_model(str(tmp_path / name / "xgboost-model"))
        rmse = float(np.sqrt(np.mean((booster.predict(validation) - labels[200:]) ** 2)))
        reported = summary["FinalHyperParameterTuningJobObjectiveMetric"]
        assert reported["MetricName"] == "validation:rmse"
        assert reported["Value"] == pytest.approx(rmse, abs=1e-4)
        assert set(summary["TunedHyperParameters"]) == {"max_depth", "eta"}
        measured[name] = rmse
    best = described["BestTrainingJob"]
    assert best["TrainingJobName"] == min(measured, key=measured.get)
    assert summaries[0] == best  # best first, as TrainingJobSummaries[0]
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries]
    assert values == sorted(values)


TRAIN = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
parser.add_argument("--fail", default="no")
args = parser.parse_args()
if args.fail == "yes":
    raise SystemExit("refusing to train")
print(f"score={-(args.x - 3) ** 2:.6f}")
"""


def _script_request(s3_client, tmp_path, static: dict, objective_type: str = "Maximize") -> dict:
    s3_client.create_bucket(Bucket=BUCKET)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text(TRAIN)
    (tmp_path / "drivers").mkdir()
    (tmp_path / "drivers" / "sourcecode.json").write_text(json.dumps({"entry_script": "train.py"}))
    s3_transfer.upload_directory(s3_client, tmp_path / "code", f"s3://{BUCKET}/s/code")
    s3_transfer.upload_directory(s3_client, tmp_path / "drivers", f"s3://{BUCKET}/s/sm_drivers")
    channels = [
        {"ChannelName": name, "DataSource": {"S3DataSource": {"S3Uri": f"s3://{BUCKET}/s/{name}"}}}
        for name in ("code", "sm_drivers")
    ]
    return {
        "HyperParameterTuningJobConfig": {
            "Strategy": "Grid",
            "ResourceLimits": {"MaxParallelTrainingJobs": 3},
            "HyperParameterTuningJobObjective": {"Type": objective_type, "MetricName": "score"},
            "ParameterRanges": {
                "CategoricalParameterRanges": [{"Name": "x", "Values": ["0", "2.5", "5"]}]
            },
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": f"{PYTORCH_REGISTRY}/pytorch-training:2.5",
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "score", "Regex": r"score=([-0-9.]+)"}],
            },
            "StaticHyperParameters": static,
            "InputDataConfig": channels,
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/script-tuned"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        },
    }


def test_script_mode_objective_comes_from_metric_definitions(s3_client, tmp_path):
    request = _script_request(s3_client, tmp_path, {"fail": "no"})
    described = tuning.run_tuning(_job(tmp_path, s3_client, request))
    best = described["BestTrainingJob"]
    assert best["TunedHyperParameters"] == {"x": "2.5"}
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(-0.25)
    assert [s["TunedHyperParameters"]["x"] for s in described["TrainingJobSummaries"]] == [
        "2.5",
        "5",
        "0",
    ]


def test_no_successful_trial_fails_the_tuning_job_with_a_trial_reason(s3_client, tmp_path):
    request = _script_request(s3_client, tmp_path, {"fail": "yes"})
    with pytest.raises(
        jobs.JobFailed, match="no training job of 3 reported score: refusing to train"
    ):
        tuning.run_tuning(_job(tmp_path, s3_client, request))


def test_tuning_step_top_model_is_the_best_trial_and_feeds_a_transform(sandbox, tmp_path):
    """TuningStep over the built-in XGBoost, its top model (get_top_model_s3_uri) made a
    model and used by a Transform step, all SDK v3 classes."""
    import xgboost as xgb
    from sagemaker.core import image_uris
    from sagemaker.core.parameter import ContinuousParameter, IntegerParameter
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
    from sagemaker.core.transformer import Transformer
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import TransformStep, TuningStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train import ModelTrainer
    from sagemaker.train.tuner import HyperparameterTuner

    from sandbox.constants import DEFAULT_BUCKET
    from tests.sandbox.sdk_pipeline import ROLE, pipeline_session, pointed_at, run

    prefix = "tuning-pipeline"
    rng = np.random.default_rng(5)
    features = rng.random((260, 3))
    labels = np.sin(5 * features[:, 0]) + features[:, 1] + 0.05 * rng.random(260)
    with pointed_at(sandbox):
        s3 = sandbox.client("s3")
        s3.put_object(
            Bucket=DEFAULT_BUCKET,
            Key=f"{prefix}/train/t.csv",
            Body=_csv(features[:200], labels[:200]),
        )
        s3.put_object(
            Bucket=DEFAULT_BUCKET,
            Key=f"{prefix}/validation/v.csv",
            Body=_csv(features[200:], labels[200:]),
        )
        batch = "".join(",".join(map(repr, map(float, x))) + "\n" for x in features[200:])
        s3.put_object(Bucket=DEFAULT_BUCKET, Key=f"{prefix}/batch/rows.csv", Body=batch)
        session = pipeline_session()
        image = image_uris.retrieve("xgboost", region="us-east-1", version="1.7-1")
        trainer = ModelTrainer(
            training_image=image,
            compute=Compute(instance_type="ml.m5.xlarge", instance_count=1),
            hyperparameters={"objective": "reg:squarederror", "num_round": 15},
            output_data_config=OutputDataConfig(
                s3_output_path=f"s3://{DEFAULT_BUCKET}/{prefix}/trials"
            ),
            sagemaker_session=session,
            role=ROLE,
        )
        tuner = HyperparameterTuner(
            model_trainer=trainer,
            objective_metric_name="validation:rmse",
            objective_type="Minimize",
            hyperparameter_ranges={
                "max_depth": IntegerParameter(1, 6),
                "eta": ContinuousParameter(0.02, 0.5, scaling_type="Logarithmic"),
            },
            max_jobs=3,
            max_parallel_jobs=2,
            strategy="Random",
            random_seed=11,
        )
        tune = TuningStep(
            name="Tune",
            step_args=tuner.tune(
                inputs=[
                    InputData(
                        channel_name=name,
                        data_source=f"s3://{DEFAULT_BUCKET}/{prefix}/{name}/",
                        content_type="text/csv",
                    )
                    for name in ("train", "validation")
                ]
            ),
        )
        builder = ModelBuilder(
            s3_model_data_url=tune.get_top_model_s3_uri(
                top_k=0, s3_bucket=DEFAULT_BUCKET, prefix=f"{prefix}/trials"
            ),
            image_uri=image,
            sagemaker_session=session,
            role_arn=ROLE,
        )
        create = ModelStep(name="BestModel", step_args=builder.build())
        transformer = Transformer(
            model_name=create.properties.ModelName,
            instance_count=1,
            instance_type="ml.m5.large",
            output_path=f"s3://{DEFAULT_BUCKET}/{prefix}/scored",
            sagemaker_session=session,
        )
        score = TransformStep(
            name="Score",
            step_args=transformer.transform(
                data=f"s3://{DEFAULT_BUCKET}/{prefix}/batch/",
                content_type="text/csv",
                split_type="Line",
            ),
        )
        pipeline = Pipeline(name="tuning", steps=[tune, create, score], sagemaker_session=session)
        described, steps = run(pipeline, sandbox)
    assert described["PipelineExecutionStatus"] == "Succeeded", {
        n: s.get("FailureReason") for n, s in steps.items()
    }
    assert "TuningJob" in steps["Tune"]["Metadata"]
    # Each trial's model, measured here: the transform used the one with the lowest RMSE.
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=DEFAULT_BUCKET, Prefix=f"{prefix}/trials/")["Contents"]
        if o["Key"].endswith("/output/model.tar.gz")
    ]
    assert len(keys) == 3
    validation = xgb.DMatrix(features[200:])
    predictions = {}
    for key in keys:
        body = s3.get_object(Bucket=DEFAULT_BUCKET, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            (tmp_path / "xgboost-model").write_bytes(tar.extractfile("xgboost-model").read())
        booster = xgb.Booster()
        booster.load_model(str(tmp_path / "xgboost-model"))
        predictions[key] = booster.predict(validation)
    rmse = {k: float(np.sqrt(np.mean((p - labels[200:]) ** 2))) for k, p in predictions.items()}
    best = min(rmse, key=rmse.get)
    assert len(set(rmse.values())) == 3  # the trials differ, so "best" means something
    scored = s3.get_object(Bucket=DEFAULT_BUCKET, Key=f"{prefix}/scored/rows.csv.out")[
        "Body"
    ].read()
    assert [float(v) for v in scored.split()] == pytest.approx(predictions[best].tolist(), rel=1e-5)

    # The tuning and transform jobs, as the jobs APIs show them.
    sagemaker = sandbox.client("sagemaker")
    tuning_name = steps["Tune"]["Metadata"]["TuningJob"]["Arn"].rsplit("/", 1)[-1]
    tuning = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_name)
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    trials = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuning_name
    )["TrainingJobSummaries"]
    assert len(trials) == 3
    assert tuning["BestTrainingJob"]["TrainingJobName"] in {t["TrainingJobName"] for t in trials}
    listed = sagemaker.list_hyper_parameter_tuning_jobs(NameContains=tuning_name)
    assert [
        j["HyperParameterTuningJobStatus"] for j in listed["HyperParameterTuningJobSummaries"]
    ] == ["Completed"]
    transform_name = steps["Score"]["Metadata"]["TransformJob"]["Arn"].rsplit("/", 1)[-1]
    transform = sagemaker.describe_transform_job(TransformJobName=transform_name)
    assert transform["TransformJobStatus"] == "Completed"
    assert transform["TransformEndTime"] >= transform["TransformStartTime"]


SCRIPT = """
import argparse, os
parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float)
parser.add_argument("--rounds", type=int)
args = parser.parse_args()  # strict: the framework's own sagemaker_* must not reach it
open(os.path.join(os.environ["SM_MODEL_DIR"], "alpha.txt"), "w").write(str(args.alpha))
print(f"val_loss={(args.alpha - 0.3) ** 2 + args.rounds / 1000:.6f}")
"""


def test_tuning_step_over_a_script_reads_its_metric_definitions(sandbox, tmp_path):
    """SDK v3's HyperparameterTuner over a script-mode ModelTrainer: the request has no
    `code` channel and names the script in `sagemaker_program` / `sagemaker_submit_directory`,
    as a framework image expects."""
    from sagemaker.core import image_uris
    from sagemaker.core.parameter import CategoricalParameter
    from sagemaker.core.training.configs import Compute, OutputDataConfig, SourceCode
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import TuningStep
    from sagemaker.train import ModelTrainer
    from sagemaker.train.tuner import HyperparameterTuner

    from sandbox.constants import DEFAULT_BUCKET
    from tests.sandbox.sdk_pipeline import ROLE, pipeline_session, pointed_at, run

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(SCRIPT)
    prefix = "script-tuning"
    with pointed_at(sandbox):
        session = pipeline_session()
        trainer = ModelTrainer(
            training_image=image_uris.retrieve(
                "sklearn", region="us-east-1", version="1.2-1", image_scope="training"
            ),
            source_code=SourceCode(source_dir=str(tmp_path / "src"), entry_script="train.py"),
            compute=Compute(instance_type="ml.m5.large", instance_count=1),
            hyperparameters={"rounds": 5},
            output_data_config=OutputDataConfig(
                s3_output_path=f"s3://{DEFAULT_BUCKET}/{prefix}/trials"
            ),
            sagemaker_session=session,
            role=ROLE,
        )
        tuner = HyperparameterTuner(
            model_trainer=trainer,
            objective_metric_name="val_loss",
            objective_type="Minimize",
            metric_definitions=[{"Name": "val_loss", "Regex": r"val_loss=([0-9.]+)"}],
            hyperparameter_ranges={"alpha": CategoricalParameter([0.1, 0.35, 0.9])},
            strategy="Grid",
            max_parallel_jobs=3,
        )
        tune = TuningStep(name="Tune", step_args=tuner.tune())
        pipeline = Pipeline(name="script-tuning", steps=[tune], sagemaker_session=session)
        described, steps = run(pipeline, sandbox)
    assert described["PipelineExecutionStatus"] == "Succeeded", steps["Tune"].get("FailureReason")
    s3 = sandbox.client("s3")
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=DEFAULT_BUCKET, Prefix=f"{prefix}/trials/")["Contents"]
        if o["Key"].endswith("/output/model.tar.gz")
    ]
    alphas = set()
    for key in keys:
        body = s3.get_object(Bucket=DEFAULT_BUCKET, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            alphas.add(tar.extractfile("alpha.txt").read().decode())
    assert alphas == {"0.1", "0.35", "0.9"}  # the grid, one trial each
