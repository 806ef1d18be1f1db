"""The churn pipeline definition that SDK v3 renders: steps, wiring, parameters, snapshot."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import botocore.session
import pytest

from pipelines.churn.environment import load_environment

SNAPSHOT = Path(__file__).with_name("snapshots") / "churn-dev-definition.json"
EXECUTION_VARIABLES = {
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "PipelineName",
    "PipelineArn",
    "StartDateTime",
    "CurrentDateTime",
}
DESCRIBE_SHAPES = {
    "Processing": "DescribeProcessingJobResponse",
    "Training": "DescribeTrainingJobResponse",
    "RegisterModel": "DescribeModelPackageOutput",
}


def all_steps(steps: list[dict]):
    """Every step, the condition branches included, in definition order."""
    for step in steps:
        yield step
        if step["Type"] == "Condition":
            yield from all_steps(step["Arguments"]["IfSteps"])
            yield from all_steps(step["Arguments"]["ElseSteps"])


def gets(node) -> list[str]:
    """Every {"Get": ...} reference below `node`."""
    if isinstance(node, dict):
        found = [node["Get"]] if set(node) == {"Get"} else []
        return found + [ref for value in node.values() for ref in gets(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in gets(item)]
    return []


def by_name(definition: dict) -> dict[str, dict]:
    return {step["Name"]: step for step in all_steps(definition["Steps"])}


def test_steps_and_types(definition):
    assert [(s["Name"], s["Type"]) for s in all_steps(definition["Steps"])] == [
        ("Preprocess", "Processing"),
        ("Baseline", "Processing"),
        ("Train", "Training"),
        ("Evaluate", "Processing"),
        ("Champion", "Processing"),
        ("CheckEvaluation", "Condition"),
        ("CheckChampion", "Condition"),
        ("Register", "RegisterModel"),
        ("FailChampion", "Fail"),
        ("Fail", "Fail"),
    ]


def own_arguments(step: dict):
    """A step's arguments without its branches (a condition's branches are steps of their own)."""
    if step["Type"] == "Condition":
        return step["Arguments"]["Conditions"]
    return step["Arguments"]


def test_dependency_graph(definition):
    upstream = {
        name: sorted(
            {ref.split(".")[1] for ref in gets(own_arguments(step)) if ref.startswith("Steps.")}
            | set(step.get("DependsOn", []))
        )
        for name, step in by_name(definition).items()
    }
    assert upstream == {
        "Preprocess": [],
        "Baseline": ["Preprocess"],
        "Train": ["Preprocess"],
        "Evaluate": ["Preprocess", "Train"],
        "Champion": ["Evaluate"],
        "CheckEvaluation": ["Evaluate"],
        "CheckChampion": ["Champion", "Evaluate"],
        "Register": ["Baseline", "Champion", "Evaluate", "Preprocess", "Train"],
        "FailChampion": ["Champion", "Evaluate"],
        "Fail": ["Evaluate"],
    }


def _shape_has_path(shape, path: str) -> bool:
    """Walk a botocore shape along `A.B['key'].C`; list/map indexes step into members."""
    for token in re.findall(r"[A-Za-z0-9]+|\[[^\]]+\]", path):
        if token.startswith("["):
            if shape.type_name == "list":
                shape = shape.member
            elif shape.type_name == "map":
                shape = shape.value
            else:
                return False
        elif shape.type_name == "structure" and token in shape.members:
            shape = shape.members[token]
        else:
            return False
    return True


def test_every_get_points_at_something_that_exists(definition):
    steps = by_name(definition)
    parameters = {p["Name"] for p in definition["Parameters"]}
    model = botocore.session.get_session().get_service_model("sagemaker")
    for name, step in steps.items():
        for ref in gets(step["Arguments"]):
            kind, _, rest = ref.partition(".")
            if kind == "Parameters":
                assert rest in parameters, (name, ref)
            elif kind == "Execution":
                assert rest in EXECUTION_VARIABLES, (name, ref)
            else:
                assert kind == "Steps", (name, ref)
                target, _, path = rest.partition(".")
                assert target in steps and target != name, (name, ref)
                target_step = steps[target]
                if path.startswith("PropertyFiles."):
                    declared = [p["PropertyFileName"] for p in target_step["PropertyFiles"]]
                    assert path.split(".")[1] in declared, (name, ref)
                    continue
                shape = model.shape_for(DESCRIBE_SHAPES[target_step["Type"]])
                assert _shape_has_path(shape, path), (name, ref)
                for output in re.findall(r"Outputs\['([^']+)'\]", path):
                    declared = [
                        o["OutputName"]
                        for o in target_step["Arguments"]["ProcessingOutputConfig"]["Outputs"]
                    ]
                    assert output in declared, (name, ref)


def test_steps_only_read_steps_that_ran_before_them(definition):
    order = [s["Name"] for s in all_steps(definition["Steps"])]
    for name, step in by_name(definition).items():
        for ref in gets(own_arguments(step)):
            if ref.startswith("Steps."):
                assert order.index(ref.split(".")[1]) < order.index(name), (name, ref)


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_parameter_defaults_come_from_the_environment(environment, definition, prod_definition):
    rendered = definition if environment == "dev" else prod_definition
    config = load_environment(environment)
    defaults = {p["Name"]: (p["Type"], p.get("DefaultValue")) for p in rendered["Parameters"]}
    assert defaults["MinRocAuc"] == ("Float", config.min_roc_auc)
    assert defaults["ProcessingInstanceType"] == ("String", config.processing_instance_type)
    assert defaults["TrainingInstanceType"] == ("String", config.training_instance_type)
    assert defaults["ModelApprovalStatus"] == ("String", "PendingManualApproval")
    assert defaults["InputDataUri"][1].startswith("s3://test-bucket/")
    hyperparameters = by_name(rendered)["Train"]["Arguments"]["HyperParameters"]
    assert hyperparameters == {k: str(v) for k, v in config.hyperparameters.items()}


def test_script_arguments_use_the_paths_the_job_mounts(definition):
    """Every --*-dir argument of a processing script is one of the job's LocalPaths."""
    for name in ("Preprocess", "Evaluate", "Champion"):
        arguments = by_name(definition)[name]["Arguments"]
        local_paths = {i["S3Input"]["LocalPath"] for i in arguments["ProcessingInputs"]} | {
            o["S3Output"]["LocalPath"] for o in arguments["ProcessingOutputConfig"]["Outputs"]
        }
        args = arguments["AppSpecification"]["ContainerArguments"]
        dirs = [args[i + 1] for i, a in enumerate(args) if str(a).endswith("-dir")]
        assert dirs and set(dirs) <= local_paths, name


def test_condition_gates_on_roc_auc_against_the_parameter(definition):
    condition = by_name(definition)["CheckEvaluation"]["Arguments"]["Conditions"][0]
    assert condition["Type"] == "GreaterThanOrEqualTo"
    assert (
        condition["LeftValue"]["Std:JsonGet"]["Path"] == "binary_classification_metrics.auc.value"
    )
    assert condition["RightValue"] == {"Get": "Parameters.MinRocAuc"}


def test_champion_gate_follows_the_floor_and_guards_register(definition):
    """Register runs only when both gates hold: the floor, then the champion minus tolerance."""
    steps = by_name(definition)
    assert [s["Name"] for s in steps["CheckEvaluation"]["Arguments"]["IfSteps"]] == [
        "CheckChampion"
    ]
    champion_gate = steps["CheckChampion"]["Arguments"]
    assert [s["Name"] for s in champion_gate["IfSteps"]] == ["Register"]
    assert [s["Name"] for s in champion_gate["ElseSteps"]] == ["FailChampion"]
    [condition] = champion_gate["Conditions"]
    assert condition["Type"] == "GreaterThanOrEqualTo"
    assert (
        condition["LeftValue"]["Std:JsonGet"]["Path"] == "binary_classification_metrics.auc.value"
    )
    right = condition["RightValue"]["Std:JsonGet"]
    assert right["Path"] == "minimum_to_pass"
    assert right["PropertyFile"] == {"Get": "Steps.Champion.PropertyFiles.ChampionReport"}


def test_register_records_the_champion_gate_numbers(definition):
    metadata = by_name(definition)["Register"]["Arguments"]["CustomerMetadataProperties"]
    gate = metadata["ChampionGate"]["Std:JsonGet"]
    assert gate["Path"] == "summary"
    assert gate["PropertyFile"] == {"Get": "Steps.Champion.PropertyFiles.ChampionReport"}


def test_champion_step_is_never_cached_and_reads_the_group(definition):
    champion = by_name(definition)["Champion"]
    assert "CacheConfig" not in champion  # the registry changes when the data does not
    args = champion["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert args[args.index("--model-package-group-name") + 1] == "ChurnPackageGroup"
    assert gets(args[args.index("--tolerance") + 1]) == ["Parameters.ChampionTolerance"]
    assert args[args.index("--region") + 1] == "us-east-1"


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_champion_tolerance_defaults_to_the_environment(environment, definition, prod_definition):
    rendered = definition if environment == "dev" else prod_definition
    defaults = {p["Name"]: p.get("DefaultValue") for p in rendered["Parameters"]}
    assert defaults["ChampionTolerance"] == load_environment(environment).champion_tolerance


def test_fail_message_joins_metric_and_threshold(definition):
    message = by_name(definition)["Fail"]["Arguments"]["ErrorMessage"]["Std:Join"]
    assert any("Std:JsonGet" in v for v in message["Values"] if isinstance(v, dict))
    assert {"Get": "Parameters.MinRocAuc"} in message["Values"]


def test_register_attaches_metrics_status_image_and_inference_code(definition):
    arguments = by_name(definition)["Register"]["Arguments"]
    assert arguments["ModelPackageGroupName"] == "ChurnPackageGroup"
    assert arguments["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    statistics = arguments["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    assert statistics["S3Uri"]["Std:Join"]["Values"][-1] == "evaluation.json"
    container = arguments["InferenceSpecification"]["Containers"][0]
    assert "sagemaker-scikit-learn:1.9-0" in container["Image"]
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert container["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    spec = arguments["InferenceSpecification"]
    assert {"text/csv", "application/json"} <= set(spec["SupportedContentTypes"])


def test_caching_and_retries(definition):
    steps = by_name(definition)
    for name in ("Preprocess", "Train", "Evaluate"):
        assert steps[name]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
    for name in ("Preprocess", "Train", "Evaluate"):
        retried = {e for p in steps[name]["RetryPolicies"] for e in p["ExceptionType"]}
        assert {"Step.THROTTLING", "SageMaker.CAPACITY_ERROR"} <= retried, name


def test_outputs_are_written_under_the_execution_id(definition):
    outputs = by_name(definition)["Preprocess"]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    for output in outputs:
        assert gets(output["S3Output"]["S3Uri"]) == ["Execution.PipelineExecutionId"]


def normalise(definition: dict) -> str:
    """The definition with what legitimately varies between renders masked: the code
    content hashes and SDK v3's timestamped training-code prefix."""
    text = json.dumps(definition, indent=2, sort_keys=True)
    text = re.sub(r"/code/[0-9a-f]{64}/", "/code/<sha256>/", text)
    return re.sub(r"-train-\d{14}/", "-train-<timestamp>/", text)


def test_definition_matches_snapshot(definition):
    """A change to the definition must be reviewed: UPDATE_SNAPSHOTS=1 make test rewrites it."""
    rendered = normalise(definition) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(rendered)
    assert SNAPSHOT.exists(), f"no snapshot: run UPDATE_SNAPSHOTS=1 make test to create {SNAPSHOT}"
    assert rendered == SNAPSHOT.read_text(), "definition changed: review, then UPDATE_SNAPSHOTS=1"
