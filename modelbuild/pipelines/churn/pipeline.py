"""The churn model-build pipeline, written with SageMaker Python SDK v3.

    Preprocess -> Train -> Evaluate -> Champion -> CheckEvaluation --true--> CheckChampion
               `-> Baseline                                   --false-> Fail
    CheckChampion --true--> Register
                  --false-> FailChampion

CheckEvaluation holds the model to the environment's fixed floor (`MinRocAuc`);
CheckChampion to the current champion, the newest Approved package of the group, minus
`ChampionTolerance` (the Champion step looks it up; the first model has none and passes on
the floor alone). Both numbers are in the Champion step's `champion.json`.
Baseline writes the train split's data-quality baseline (Model Monitor's statistics.json
and constraints.json), registered with the package as its DriftCheckBaselines: the
endpoint's monitoring schedule compares live traffic with it.

`get_pipeline` keeps the signature of AWS's SageMaker Projects seed code, so the official
`run-pipeline` / `get-pipeline-definition` buildspec arguments work unchanged.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import boto3
from sagemaker.core import image_uris
from sagemaker.core.processing import ScriptProcessor
from sagemaker.core.shapes import (
    DriftCheckBaselines,
    DriftCheckModelDataQuality,
    MetricsSource,
    ModelMetrics,
    ModelQuality,
    ProcessingInput,
    ProcessingOutput,
    ProcessingS3Input,
    ProcessingS3Output,
)
from sagemaker.core.training.configs import Compute, InputData, SourceCode
from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.retry import (
    SageMakerJobExceptionTypeEnum,
    SageMakerJobStepRetryPolicy,
    StepExceptionTypeEnum,
    StepRetryPolicy,
)
from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep, TrainingStep
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train import ModelTrainer

from pipelines import parameters
from pipelines.churn.environment import load_environment
from pipelines.churn.schema import TARGET_COLUMN

logger = logging.getLogger(__name__)

STEPS_DIR = Path(__file__).with_name("steps")
SKLEARN_VERSION = "1.9-0"  # the container's scikit-learn; pyproject pins the same minor
PROCESSING_BASE = "/opt/ml/processing"
METRIC_PATH = "binary_classification_metrics.auc.value"
# steps/champion.py's report: the champion's metric minus the tolerance (0 without one).
CHAMPION_MINIMUM_PATH = "minimum_to_pass"
CHAMPION_METRIC_PATH = "champion.value"
CHAMPION_SUMMARY_PATH = "summary"


def get_sagemaker_client(region: str):
    return boto3.Session(region_name=region).client("sagemaker")


def get_pipeline_session(region: str, default_bucket: str | None) -> PipelineSession:
    """A PipelineSession: SDK calls are recorded into step arguments, not sent as jobs."""
    boto_session = boto3.Session(region_name=region)
    return PipelineSession(
        boto_session=boto_session,
        sagemaker_client=boto_session.client("sagemaker"),
        default_bucket=default_bucket,
    )


# image_uris.retrieve reads the SDK's image config files and builds an endpoint resolver on
# every call (about 0.1 s); the answer for the same arguments does not change.
@functools.cache
def sklearn_image(region: str, scope: str, instance_type: str) -> str:
    """The SageMaker scikit-learn framework image (processing and training use the training
    image; the model package the inference one)."""
    return image_uris.retrieve(
        framework="sklearn",
        region=region,
        version=SKLEARN_VERSION,
        py_version="py3",
        image_scope=scope,
        instance_type=instance_type,
    )


def _retry_policies() -> list:
    """Retry throttling and capacity errors, which are transient; never the script's own."""
    return [
        StepRetryPolicy(
            exception_types=[StepExceptionTypeEnum.THROTTLING, StepExceptionTypeEnum.SERVICE_FAULT],
            interval_seconds=10,
            backoff_rate=2.0,
            max_attempts=5,
        ),
        SageMakerJobStepRetryPolicy(
            exception_types=[
                SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
                SageMakerJobExceptionTypeEnum.RESOURCE_LIMIT,
            ],
            interval_seconds=60,
            backoff_rate=2.0,
            max_attempts=3,
        ),
    ]


def _s3_output(name: str, uri, local_path: str) -> ProcessingOutput:
    return ProcessingOutput(
        output_name=name,
        s3_output=ProcessingS3Output(s3_uri=uri, local_path=local_path, s3_upload_mode="EndOfJob"),
    )


def _s3_input(name: str, uri, local_path: str) -> ProcessingInput:
    return ProcessingInput(
        input_name=name,
        s3_input=ProcessingS3Input(
            s3_uri=uri, local_path=local_path, s3_data_type="S3Prefix", s3_input_mode="File"
        ),
    )


# What each parameter means, checked by `run-pipeline` before anything is upserted or started
# (SageMaker checks a parameter's type and, if it has EnumValues, its value; not its meaning).
PARAMETER_RULES: dict[str, parameters.Rule] = {
    "InputDataUri": parameters.s3_uri(),
    "ProcessingInstanceType": parameters.processing_instance_type(),
    "TrainingInstanceType": parameters.training_instance_type(),
    "ModelApprovalStatus": parameters.approval_status(),
    "MinRocAuc": parameters.between(0, 1),
    "ChampionTolerance": parameters.between(0, 1),
}


def validate_parameters(values: dict) -> None:
    """Check the effective parameter values (defaults and overrides) by their meaning.

    Raises parameters.ParameterError naming the first bad one.
    """
    parameters.validate(PARAMETER_RULES, values)


def get_pipeline(
    region: str,
    role: str | None = None,
    default_bucket: str | None = None,
    model_package_group_name: str = "ChurnPackageGroup",
    pipeline_name: str = "ChurnPipeline",
    base_job_prefix: str = "Churn",
    sagemaker_project_name: str | None = None,
    sagemaker_project_arn: str | None = None,
    environment: str = "dev",
    **kwargs,
) -> Pipeline:
    """Build the churn pipeline for `environment` (a file in `config/`).

    Returns an SDK v3 Pipeline. Raises ConfigError for an unknown or malformed environment.
    `sagemaker_project_name`/`sagemaker_project_arn` are accepted for the SageMaker Projects
    contract; the project tags themselves travel with the upsert call.
    """
    config = load_environment(environment)
    if kwargs:
        logger.info("ignoring unused pipeline arguments: %s", ", ".join(sorted(kwargs)))
    session = get_pipeline_session(region, default_bucket)
    bucket = default_bucket or session.default_bucket()
    if role is None:
        from sagemaker.core.helper.session_helper import get_execution_role

        role = get_execution_role(session)

    input_data_uri = ParameterString(
        name="InputDataUri", default_value=f"s3://{bucket}/{base_job_prefix}/data/churn.csv"
    )
    processing_instance_type = ParameterString(
        name="ProcessingInstanceType", default_value=config.processing_instance_type
    )
    training_instance_type = ParameterString(
        name="TrainingInstanceType", default_value=config.training_instance_type
    )
    model_approval_status = ParameterString(
        name="ModelApprovalStatus",
        default_value=config.model_approval_status,
        # Rendered as EnumValues, which SageMaker enforces when an execution starts.
        enum_values=list(parameters.sagemaker_enum("ModelApprovalStatus")),
    )
    min_roc_auc = ParameterFloat(name="MinRocAuc", default_value=config.min_roc_auc)
    champion_tolerance = ParameterFloat(
        name="ChampionTolerance", default_value=config.champion_tolerance
    )

    cache = CacheConfig(enable_caching=True, expire_after="P30D")
    # Each execution writes under its own prefix, so concurrent runs never collide.
    run_prefix = Join(
        on="/", values=[f"s3://{bucket}", base_job_prefix, ExecutionVariables.PIPELINE_EXECUTION_ID]
    )

    def run_uri(*parts: str) -> Join:
        return Join(on="/", values=[run_prefix, *parts])

    processing_image = sklearn_image(region, "training", config.processing_instance_type)

    def processor(job: str) -> ScriptProcessor:
        return ScriptProcessor(
            image_uri=processing_image,
            command=["python3"],
            instance_type=processing_instance_type,
            instance_count=1,
            base_job_name=f"{base_job_prefix}-{job}",
            sagemaker_session=session,
            role=role,
        )

    # 1. Preprocess: validate the schema, stratified train/validation/test split.
    split_names = ("train", "validation", "test")
    step_preprocess = ProcessingStep(
        name="Preprocess",
        step_args=processor("preprocess").run(
            code=str(STEPS_DIR / "preprocess.py"),
            inputs=[_s3_input("raw", input_data_uri, f"{PROCESSING_BASE}/raw")],
            outputs=[
                _s3_output(name, run_uri("preprocess", name), f"{PROCESSING_BASE}/{name}")
                for name in split_names
            ],
            arguments=[
                "--input-dir",
                f"{PROCESSING_BASE}/raw",
                "--train-dir",
                f"{PROCESSING_BASE}/train",
                "--validation-dir",
                f"{PROCESSING_BASE}/validation",
                "--test-dir",
                f"{PROCESSING_BASE}/test",
            ],
        ),
        cache_config=cache,
        retry_policies=_retry_policies(),
    )
    split_uri = {
        name: step_preprocess.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri
        for name in split_names
    }

    # 1b. Baseline: the train split's data-quality baseline, in Model Monitor's formats.
    step_baseline = ProcessingStep(
        name="Baseline",
        step_args=processor("baseline").run(
            code=str(STEPS_DIR / "baseline.py"),
            inputs=[_s3_input("train", split_uri["train"], f"{PROCESSING_BASE}/train")],
            outputs=[_s3_output("baseline", run_uri("baseline"), f"{PROCESSING_BASE}/baseline")],
            arguments=[
                "--input-dir",
                f"{PROCESSING_BASE}/train",
                "--output-dir",
                f"{PROCESSING_BASE}/baseline",
                "--exclude-columns",
                TARGET_COLUMN,
            ],
        ),
        cache_config=cache,
        retry_policies=_retry_policies(),
    )
    baseline_uri = step_baseline.properties.ProcessingOutputConfig.Outputs[
        "baseline"
    ].S3Output.S3Uri

    # 2. Train: script mode on the scikit-learn image.
    training_image = sklearn_image(region, "training", config.training_instance_type)
    trainer = ModelTrainer(
        training_image=training_image,
        source_code=SourceCode(source_dir=str(STEPS_DIR / "training"), entry_script="train.py"),
        compute=Compute(instance_type=training_instance_type, instance_count=1),
        hyperparameters=config.hyperparameters,
        input_data_config=[
            InputData(
                channel_name="train", data_source=split_uri["train"], content_type="text/csv"
            ),
            InputData(
                channel_name="validation",
                data_source=split_uri["validation"],
                content_type="text/csv",
            ),
        ],
        base_job_name=f"{base_job_prefix}-train",
        sagemaker_session=session,
        role=role,
    )
    step_train = TrainingStep(
        name="Train",
        step_args=trainer.train(),
        cache_config=cache,
        retry_policies=_retry_policies(),
    )
    model_data = step_train.properties.ModelArtifacts.S3ModelArtifacts

    # 3. Evaluate on the held-out test split; evaluation.json is read by the condition.
    evaluation_report = PropertyFile(
        name="EvaluationReport", output_name="evaluation", path="evaluation.json"
    )
    step_evaluate = ProcessingStep(
        name="Evaluate",
        step_args=processor("evaluate").run(
            code=str(STEPS_DIR / "evaluate.py"),
            inputs=[
                _s3_input("model", model_data, f"{PROCESSING_BASE}/model"),
                _s3_input("test", split_uri["test"], f"{PROCESSING_BASE}/test"),
            ],
            outputs=[
                _s3_output("evaluation", run_uri("evaluation"), f"{PROCESSING_BASE}/evaluation")
            ],
            arguments=[
                "--model-dir",
                f"{PROCESSING_BASE}/model",
                "--test-dir",
                f"{PROCESSING_BASE}/test",
                "--output-dir",
                f"{PROCESSING_BASE}/evaluation",
            ],
        ),
        property_files=[evaluation_report],
        # Same model and test split, same report: an unchanged re-run skips it too.
        cache_config=cache,
        retry_policies=_retry_policies(),
    )
    evaluation_uri = step_evaluate.properties.ProcessingOutputConfig.Outputs[
        "evaluation"
    ].S3Output.S3Uri
    roc_auc = JsonGet(
        step_name=step_evaluate.name, property_file=evaluation_report, json_path=METRIC_PATH
    )

    # 4. Champion: the newest Approved package's metric, read from the registry. Not cached:
    # the registry changes between runs even when model and data do not.
    champion_report = PropertyFile(
        name="ChampionReport", output_name="champion", path="champion.json"
    )
    step_champion = ProcessingStep(
        name="Champion",
        step_args=processor("champion").run(
            code=str(STEPS_DIR / "champion.py"),
            inputs=[_s3_input("evaluation", evaluation_uri, f"{PROCESSING_BASE}/evaluation")],
            outputs=[_s3_output("champion", run_uri("champion"), f"{PROCESSING_BASE}/champion")],
            arguments=[
                "--model-package-group-name",
                model_package_group_name,
                "--tolerance",
                champion_tolerance.to_string(),
                "--region",
                region,
                "--evaluation-dir",
                f"{PROCESSING_BASE}/evaluation",
                "--output-dir",
                f"{PROCESSING_BASE}/champion",
            ],
        ),
        property_files=[champion_report],
        retry_policies=_retry_policies(),
    )
    champion_minimum = JsonGet(
        step_name=step_champion.name,
        property_file=champion_report,
        json_path=CHAMPION_MINIMUM_PATH,
    )
    champion_auc = JsonGet(
        step_name=step_champion.name, property_file=champion_report, json_path=CHAMPION_METRIC_PATH
    )

    # 6. Register: the model package, with the evaluation attached as model quality metrics.
    inference_image = sklearn_image(region, "inference", "ml.m5.large")
    model_builder = ModelBuilder(
        s3_model_data_url=model_data,
        image_uri=inference_image,
        # train.py ships inference.py inside model.tar.gz, so no repack step is needed.
        env_vars={
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        },
        sagemaker_session=session,
        role_arn=role,
        log_level=logging.WARNING,  # its default, DEBUG, floods the CLI output
    )
    step_register = ModelStep(
        name="Register",
        step_args=model_builder.register(
            model_package_group_name=model_package_group_name,
            content_types=["text/csv", "application/json"],
            response_types=["application/json", "text/csv"],
            inference_instances=["ml.t2.medium", "ml.m5.large", "ml.m5.xlarge"],
            transform_instances=["ml.m5.large"],
            approval_status=model_approval_status,
            # TestDataUri: the package's held-out test split (lineage). InferenceContractUri:
            # what the deploy half's smoke test sends and expects (modeldeploy/contract.py),
            # written by Evaluate. Values are S3 URIs: JSON is not allowed in metadata values.
            customer_metadata_properties={
                "TestDataUri": split_uri["test"],
                "InferenceContractUri": Join(
                    on="/", values=[evaluation_uri, "inference-contract.json"]
                ),
                # Both numbers of the champion gate, e.g. "candidate auc=0.91 champion v3
                # auc=0.90 tolerance=0.01 minimum=0.89" (run-pipeline prints it).
                "ChampionGate": JsonGet(
                    step_name=step_champion.name,
                    property_file=champion_report,
                    json_path=CHAMPION_SUMMARY_PATH,
                ),
            },
            # What the endpoint's monitoring schedule compares captured traffic with.
            drift_check_baselines=DriftCheckBaselines(
                model_data_quality=DriftCheckModelDataQuality(
                    statistics=MetricsSource(
                        s3_uri=Join(on="/", values=[baseline_uri, "statistics.json"]),
                        content_type="application/json",
                    ),
                    constraints=MetricsSource(
                        s3_uri=Join(on="/", values=[baseline_uri, "constraints.json"]),
                        content_type="application/json",
                    ),
                )
            ),
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

    # 7. Fail, naming the metric and the threshold that stopped it.
    step_fail = FailStep(
        name="Fail",
        error_message=Join(
            on=" ",
            values=["Model ROC AUC", roc_auc, "is below the threshold MinRocAuc =", min_roc_auc],
        ),
    )

    step_fail_champion = FailStep(
        name="FailChampion",
        error_message=Join(
            on=" ",
            values=[
                "Model ROC AUC",
                roc_auc,
                "is more than ChampionTolerance =",
                champion_tolerance,
                "below the champion's",
                champion_auc,
            ],
        ),
    )

    # 5. The gates: the environment's floor, then the champion.
    step_check_champion = ConditionStep(
        name="CheckChampion",
        conditions=[ConditionGreaterThanOrEqualTo(left=roc_auc, right=champion_minimum)],
        if_steps=[step_register],
        else_steps=[step_fail_champion],
    )
    step_check = ConditionStep(
        name="CheckEvaluation",
        conditions=[ConditionGreaterThanOrEqualTo(left=roc_auc, right=min_roc_auc)],
        if_steps=[step_check_champion],
        else_steps=[step_fail],
    )

    return Pipeline(
        name=pipeline_name,
        parameters=[
            input_data_uri,
            processing_instance_type,
            training_instance_type,
            model_approval_status,
            min_roc_auc,
            champion_tolerance,
        ],
        steps=[
            step_preprocess,
            step_baseline,
            step_train,
            step_evaluate,
            step_champion,
            step_check,
        ],
        sagemaker_session=session,
    )
