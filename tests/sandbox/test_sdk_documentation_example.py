"""A pipeline written from the documentation, not for the sandbox: AWS's abalone example
(the SageMaker Pipelines notebook and the SageMaker Projects seed) ported to SDK v3's
classes as SDK v3 shows them, run in the sandbox unchanged.

Process (scikit-learn image) -> Train (built-in XGBoost) -> Evaluate (evaluation.json, a
PropertyFile) -> MSE within the threshold? -> Register, CreateModel, batch Transform of the
test split; else Fail. Only the data is made up here: abalone-like rows, no download.
"""

from __future__ import annotations

import io
import json
import pickle
import tarfile
import textwrap

import numpy as np
import pytest

from sandbox.constants import DEFAULT_BUCKET
from tests.sandbox.sdk_pipeline import ROLE, pipeline_session, pointed_at
from tests.sandbox.test_local_pipeline import _wait

pytestmark = pytest.mark.filterwarnings("ignore:.*Unknown file format")

PREFIX = "abalone-docs"
BASE = "/opt/ml/processing"

# The example's preprocessing.py, as it is written there.
PREPROCESSING = textwrap.dedent(
    """
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    feature_columns_names = [
        "sex", "length", "diameter", "height", "whole_weight",
        "shucked_weight", "viscera_weight", "shell_weight",
    ]
    label_column = "rings"
    feature_columns_dtype = {
        "sex": str, "length": np.float64, "diameter": np.float64, "height": np.float64,
        "whole_weight": np.float64, "shucked_weight": np.float64,
        "viscera_weight": np.float64, "shell_weight": np.float64,
    }
    label_column_dtype = {"rings": np.float64}

    def merge_two_dicts(x, y):
        z = x.copy()
        z.update(y)
        return z

    if __name__ == "__main__":
        base_dir = "/opt/ml/processing"
        df = pd.read_csv(
            f"{base_dir}/input/abalone-dataset.csv",
            header=None,
            names=feature_columns_names + [label_column],
            dtype=merge_two_dicts(feature_columns_dtype, label_column_dtype),
        )
        numeric_features = list(feature_columns_names)
        numeric_features.remove("sex")
        numeric_transformer = Pipeline(
            steps=[("imputer", SimpleImputer(strategy="median")), ("scaler", StandardScaler())]
        )
        categorical_features = ["sex"]
        categorical_transformer = Pipeline(
            steps=[
                ("imputer", SimpleImputer(strategy="constant", fill_value="missing")),
                ("onehot", OneHotEncoder(handle_unknown="ignore")),
            ]
        )
        preprocess = ColumnTransformer(
            transformers=[
                ("num", numeric_transformer, numeric_features),
                ("cat", categorical_transformer, categorical_features),
            ]
        )
        y = df.pop("rings")
        X_pre = preprocess.fit_transform(df)
        y_pre = y.to_numpy().reshape(len(y), 1)
        X = np.concatenate((y_pre, X_pre), axis=1)
        np.random.shuffle(X)
        train, validation, test = np.split(X, [int(0.7 * len(X)), int(0.85 * len(X))])
        pd.DataFrame(train).to_csv(f"{base_dir}/train/train.csv", header=False, index=False)
        pd.DataFrame(validation).to_csv(
            f"{base_dir}/validation/validation.csv", header=False, index=False
        )
        pd.DataFrame(test).to_csv(f"{base_dir}/test/test.csv", header=False, index=False)
    """
)

# The example's evaluation.py: the 1.0-1 image's pickled booster, MSE on the test split.
EVALUATION = textwrap.dedent(
    """
    import json
    import pathlib
    import pickle
    import tarfile

    import numpy as np
    import pandas as pd
    import xgboost
    from sklearn.metrics import mean_squared_error

    if __name__ == "__main__":
        model_path = "/opt/ml/processing/model/model.tar.gz"
        with tarfile.open(model_path) as tar:
            tar.extractall(path=".")
        model = pickle.load(open("xgboost-model", "rb"))
        test_path = "/opt/ml/processing/test/test.csv"
        df = pd.read_csv(test_path, header=None)
        y_test = df.iloc[:, 0].to_numpy()
        df.drop(df.columns[0], axis=1, inplace=True)
        X_test = xgboost.DMatrix(df.values)
        predictions = model.predict(X_test)
        mse = mean_squared_error(y_test, predictions)
        std = np.std(y_test - predictions)
        report_dict = {"regression_metrics": {"mse": {"value": mse, "standard_deviation": std}}}
        output_dir = "/opt/ml/processing/evaluation"
        pathlib.Path(output_dir).mkdir(parents=True, exist_ok=True)
        with open(f"{output_dir}/evaluation.json", "w") as f:
            f.write(json.dumps(report_dict))
    """
)


def abalone_csv(rows: int = 600, seed: int = 7) -> str:
    """Abalone-shaped rows (sex, seven measurements, rings), no header, as UCI ships it."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["M", "F", "I"], rows)
    length = rng.uniform(0.1, 0.8, rows)
    diameter = 0.8 * length + rng.normal(0, 0.02, rows)
    height = 0.3 * length + rng.normal(0, 0.01, rows)
    whole = 2.5 * length**3 + rng.normal(0, 0.02, rows)
    shucked, viscera, shell = 0.45 * whole, 0.22 * whole, 0.3 * whole
    rings = np.round(3 + 14 * length + 2 * (sex != "I") + rng.normal(0, 1, rows))
    lines = [
        f"{s},{a:.3f},{b:.3f},{c:.3f},{d:.4f},{e:.4f},{f:.4f},{g:.4f},{int(r)}"
        for s, a, b, c, d, e, f, g, r in zip(
            sex, length, diameter, height, whole, shucked, viscera, shell, rings, strict=True
        )
    ]
    return "\n".join(lines) + "\n"


def abalone_pipeline(input_data_uri: str, code: dict[str, str], model_package_group: str):
    """The example's get_pipeline, in SDK v3's classes."""
    from sagemaker.core import image_uris
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import (
        MetricsSource,
        ModelMetrics,
        ModelQuality,
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
    )
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
    from sagemaker.core.transformer import Transformer
    from sagemaker.core.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import (
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep, TransformStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train import ModelTrainer

    session = pipeline_session()
    region = "us-east-1"
    bucket = DEFAULT_BUCKET

    def s3_input(name: str, uri, local_path: str) -> ProcessingInput:
        return ProcessingInput(
            input_name=name,
            s3_input=ProcessingS3Input(
                s3_uri=uri, local_path=local_path, s3_data_type="S3Prefix", s3_input_mode="File"
            ),
        )

    def s3_output(name: str) -> ProcessingOutput:
        """Under the execution's id (SDK v3 wants an S3 URI for every output)."""
        uri = Join(
            on="/",
            values=[f"s3://{bucket}/{PREFIX}", ExecutionVariables.PIPELINE_EXECUTION_ID, name],
        )
        return ProcessingOutput(
            output_name=name,
            s3_output=ProcessingS3Output(
                s3_uri=uri, local_path=f"{BASE}/{name}", s3_upload_mode="EndOfJob"
            ),
        )

    processing_instance_count = ParameterInteger(name="ProcessingInstanceCount", default_value=1)
    instance_type = ParameterString(name="TrainingInstanceType", default_value="ml.m5.xlarge")
    model_approval_status = ParameterString(
        name="ModelApprovalStatus", default_value="PendingManualApproval"
    )
    input_data = ParameterString(name="InputData", default_value=input_data_uri)
    mse_threshold = ParameterFloat(name="MseThreshold", default_value=6.0)

    sklearn_processor = ScriptProcessor(
        image_uri=image_uris.retrieve(
            framework="sklearn", region=region, version="1.2-1", instance_type="ml.m5.xlarge"
        ),
        command=["python3"],
        instance_type="ml.m5.xlarge",
        instance_count=processing_instance_count,
        base_job_name="sklearn-abalone-process",
        sagemaker_session=session,
        role=ROLE,
    )
    step_process = ProcessingStep(
        name="AbaloneProcess",
        step_args=sklearn_processor.run(
            inputs=[s3_input("input", input_data, f"{BASE}/input")],
            outputs=[s3_output(name) for name in ("train", "validation", "test")],
            code=code["preprocessing"],
        ),
    )
    split_uri = {
        name: step_process.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri
        for name in ("train", "validation", "test")
    }

    image_uri = image_uris.retrieve(
        framework="xgboost",
        region=region,
        version="1.0-1",
        py_version="py3",
        instance_type="ml.m5.xlarge",
    )
    model_path = f"s3://{bucket}/{PREFIX}/AbaloneTrain"
    xgb_train = ModelTrainer(
        training_image=image_uri,
        compute=Compute(instance_type=instance_type, instance_count=1),
        output_data_config=OutputDataConfig(s3_output_path=model_path),
        hyperparameters={
            "objective": "reg:linear",
            "num_round": 50,
            "max_depth": 5,
            "eta": 0.2,
            "gamma": 4,
            "min_child_weight": 6,
            "subsample": 0.7,
            "silent": 0,
        },
        base_job_name="abalone-train",
        sagemaker_session=session,
        role=ROLE,
    )
    step_train = TrainingStep(
        name="AbaloneTrain",
        step_args=xgb_train.train(
            input_data_config=[
                InputData(channel_name=name, data_source=split_uri[name], content_type="text/csv")
                for name in ("train", "validation")
            ]
        ),
    )
    model_data = step_train.properties.ModelArtifacts.S3ModelArtifacts

    script_eval = ScriptProcessor(
        image_uri=image_uri,
        command=["python3"],
        instance_type="ml.m5.xlarge",
        instance_count=1,
        base_job_name="script-abalone-eval",
        sagemaker_session=session,
        role=ROLE,
    )
    evaluation_report = PropertyFile(
        name="EvaluationReport", output_name="evaluation", path="evaluation.json"
    )
    step_eval = ProcessingStep(
        name="AbaloneEval",
        step_args=script_eval.run(
            inputs=[
                s3_input("model", model_data, f"{BASE}/model"),
                s3_input("test", split_uri["test"], f"{BASE}/test"),
            ],
            outputs=[s3_output("evaluation")],
            code=code["evaluation"],
        ),
        property_files=[evaluation_report],
    )
    evaluation_uri = step_eval.properties.ProcessingOutputConfig.Outputs[
        "evaluation"
    ].S3Output.S3Uri

    model = ModelBuilder(
        s3_model_data_url=model_data,
        image_uri=image_uri,
        sagemaker_session=session,
        role_arn=ROLE,
    )
    step_register = ModelStep(
        name="AbaloneRegisterModel",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.t2.medium", "ml.m5.xlarge"],
            transform_instances=["ml.m5.xlarge"],
            model_package_group_name=model_package_group,
            approval_status=model_approval_status,
            model_metrics=ModelMetrics(
                model_quality=ModelQuality(
                    statistics=MetricsSource(
                        s3_uri=Join(on="/", values=[evaluation_uri, "evaluation.json"]),
                        content_type="application/json",
                    )
                )
            ),
        ),
    )
    step_create_model = ModelStep(name="AbaloneCreateModel", step_args=model.build())
    transformer = Transformer(
        model_name=step_create_model.properties.ModelName,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        output_path=f"s3://{bucket}/{PREFIX}/AbaloneTransform",
        sagemaker_session=session,
    )
    step_transform = TransformStep(
        name="AbaloneTransform",
        step_args=transformer.transform(
            data=split_uri["test"],
            content_type="text/csv",
            split_type="Line",
            input_filter="$[1:]",  # the test split's first column is the label
        ),
    )
    step_fail = FailStep(
        name="AbaloneMSEFail",
        error_message=Join(on=" ", values=["Execution failed due to MSE >", mse_threshold]),
    )
    step_cond = ConditionStep(
        name="AbaloneMSECond",
        conditions=[
            ConditionLessThanOrEqualTo(
                left=JsonGet(
                    step_name=step_eval.name,
                    property_file=evaluation_report,
                    json_path="regression_metrics.mse.value",
                ),
                right=mse_threshold,
            )
        ],
        if_steps=[step_register, step_create_model, step_transform],
        else_steps=[step_fail],
    )
    return Pipeline(
        name="AbalonePipeline",
        parameters=[
            processing_instance_count,
            instance_type,
            model_approval_status,
            input_data,
            mse_threshold,
        ],
        steps=[step_process, step_train, step_eval, step_cond],
        sagemaker_session=session,
    )


def _read(s3, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


@pytest.fixture(name="executions", scope="module")
def fixture_executions(sandbox, tmp_path_factory):
    """The example run twice at once: with its defaults, and with an MSE threshold no model
    meets. Returns {"default"|"strict": (DescribePipelineExecution, steps by name)}."""
    folder = tmp_path_factory.mktemp("abalone")
    code = {}
    for name, text in (("preprocessing", PREPROCESSING), ("evaluation", EVALUATION)):
        (folder / f"{name}.py").write_text(text)
        code[name] = str(folder / f"{name}.py")
    group = "AbaloneModelPackageGroupName"
    sagemaker = sandbox.client("sagemaker")
    with pointed_at(sandbox):
        s3 = sandbox.client("s3")
        s3.put_object(
            Bucket=DEFAULT_BUCKET, Key=f"{PREFIX}/abalone-dataset.csv", Body=abalone_csv()
        )
        pipeline = abalone_pipeline(
            f"s3://{DEFAULT_BUCKET}/{PREFIX}/abalone-dataset.csv", code, group
        )
        pipeline.upsert(role_arn=ROLE)
        arns = {
            "default": pipeline.start().arn,
            "strict": pipeline.start(parameters={"MseThreshold": 0.0}).arn,
        }
    _wait(sagemaker, list(arns.values()))
    return {
        label: (
            sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn),
            {
                s["StepName"]: s
                for s in sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)[
                    "PipelineExecutionSteps"
                ]
            },
        )
        for label, arn in arns.items()
    }


def test_the_example_succeeds_registers_with_its_metrics_and_scores_the_test_split(
    executions, sandbox, tmp_path
):
    import xgboost as xgb

    described, steps = executions["default"]
    assert described["PipelineExecutionStatus"] == "Succeeded", {
        n: s.get("FailureReason") for n, s in steps.items()
    }
    assert set(steps) == {
        "AbaloneProcess",
        "AbaloneTrain",
        "AbaloneEval",
        "AbaloneMSECond",
        "AbaloneRegisterModel",
        "AbaloneCreateModel",
        "AbaloneTransform",
    }
    assert steps["AbaloneMSECond"]["Metadata"]["Condition"]["Outcome"] == "True"
    sagemaker, s3 = sandbox.client("sagemaker"), sandbox.client("s3")

    # The registered package points at the evaluation the Evaluate step wrote.
    package_arn = steps["AbaloneRegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    assert package["ModelPackageGroupName"] == "AbaloneModelPackageGroupName"
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    report = json.loads(_read(s3, statistics["S3Uri"]))
    mse = report["regression_metrics"]["mse"]["value"]

    # Measured here from the trained model and the test split: the same MSE.
    training = sagemaker.describe_training_job(
        TrainingJobName=steps["AbaloneTrain"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
    )
    artifact = _read(s3, training["ModelArtifacts"]["S3ModelArtifacts"])
    with tarfile.open(fileobj=io.BytesIO(artifact)) as tar:
        (tmp_path / "xgboost-model").write_bytes(tar.extractfile("xgboost-model").read())
    booster = pickle.loads((tmp_path / "xgboost-model").read_bytes())
    processing = sagemaker.describe_processing_job(
        ProcessingJobName=steps["AbaloneProcess"]["Metadata"]["ProcessingJob"]["Arn"].rsplit(
            "/", 1
        )[-1]
    )
    outputs = {
        o["OutputName"]: o["S3Output"]["S3Uri"]
        for o in processing["ProcessingOutputConfig"]["Outputs"]
    }
    test = np.loadtxt(io.BytesIO(_read(s3, f"{outputs['test']}/test.csv")), delimiter=",")
    predicted = booster.predict(xgb.DMatrix(test[:, 1:]))
    assert mse == pytest.approx(float(np.mean((test[:, 0] - predicted) ** 2)), rel=1e-5)
    assert mse <= 6.0
    assert test.shape == (90, 11)  # 15% of 600 rows: label, 7 measurements, sex one-hot (3)

    # The created model serves the batch transform: one prediction per test row.
    model_name = steps["AbaloneCreateModel"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[-1]
    assert (
        sagemaker.describe_model(ModelName=model_name)["PrimaryContainer"]["ModelDataUrl"]
        == (training["ModelArtifacts"]["S3ModelArtifacts"])
    )
    transform_name = steps["AbaloneTransform"]["Metadata"]["TransformJob"]["Arn"].rsplit("/", 1)[-1]
    transform = sagemaker.describe_transform_job(TransformJobName=transform_name)
    assert transform["TransformJobStatus"] == "Completed"
    scored = _read(s3, f"{transform['TransformOutput']['S3OutputPath']}/test.csv.out")
    values = [float(v) for v in scored.decode().split()]
    assert values == pytest.approx(predicted.tolist(), rel=1e-5)


def test_an_unreachable_threshold_takes_the_else_branch_and_fails_with_its_message(executions):
    described, steps = executions["strict"]
    assert described["PipelineExecutionStatus"] == "Failed"
    assert steps["AbaloneMSECond"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert steps["AbaloneMSEFail"]["StepStatus"] == "Failed"
    assert steps["AbaloneMSEFail"]["Metadata"]["Fail"]["ErrorMessage"] == (
        "Execution failed due to MSE > 0.0"
    )
    assert "Execution failed due to MSE > 0.0" in described["FailureReason"]
    assert not {"AbaloneRegisterModel", "AbaloneTransform"} & set(steps)
