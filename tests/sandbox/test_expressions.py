"""Expression resolution against the JSON that SDK v3 itself emits for each function and
condition type."""

from __future__ import annotations

import json

import pytest
from sagemaker.core.workflow.conditions import (
    Condition,
    ConditionEquals,
    ConditionGreaterThan,
    ConditionGreaterThanOrEqualTo,
    ConditionIn,
    ConditionLessThan,
    ConditionLessThanOrEqualTo,
    ConditionNot,
    ConditionOr,
)
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import (
    ParameterBoolean,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.pipeline import interpolate

from sandbox.runner.expressions import (
    Context,
    ExpressionError,
    evaluate_condition,
    evaluate_conditions,
    resolve,
)

THRESHOLD = ParameterFloat(name="Threshold", default_value=0.8)
COUNT = ParameterInteger(name="Count", default_value=3)
NAME = ParameterString(name="Name", default_value="churn")
FLAG = ParameterBoolean(name="Flag", default_value=True)
REPORT = PropertyFile(name="Report", output_name="evaluation", path="evaluation.json")
AUC = JsonGet(
    step_name="Evaluate", property_file=REPORT, json_path="binary_classification_metrics.auc.value"
)


@pytest.fixture(name="context")
def fixture_context() -> Context:
    return Context(
        parameters={"Threshold": 0.8, "Count": 3, "Name": "churn", "Flag": True},
        execution={"PipelineExecutionId": "abc123", "PipelineName": "ChurnPipeline"},
        properties={
            "Preprocess": {
                "ProcessingOutputConfig": {
                    "Outputs": [
                        {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/train"}},
                        {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/test"}},
                    ]
                }
            },
            "Train": {
                "ModelArtifacts": {"S3ModelArtifacts": "s3://b/model.tar.gz"},
                "FinalMetricDataList": [{"MetricName": "auc", "Value": 0.9}],
            },
        },
        property_files={
            "Evaluate": {
                "Report": {
                    "binary_classification_metrics": {"auc": {"value": 0.87}},
                    "rows": [10, 20],
                }
            }
        },
    )


def expr(entity) -> dict:
    """What SDK v3 writes into the definition for a pipeline variable or a condition: the
    condition goes through `interpolate`, the serialisation `Pipeline.definition()` uses."""
    if not isinstance(entity, Condition):
        return entity.expr
    return json.loads(json.dumps(interpolate(entity.to_request(), {}, {}, "expressions")))


def test_parameters_resolve_to_their_values(context):
    assert [resolve(expr(p), context) for p in (THRESHOLD, COUNT, NAME, FLAG)] == [
        0.8,
        3,
        "churn",
        True,
    ]


def test_execution_variables(context):
    assert resolve(expr(ExecutionVariables.PIPELINE_EXECUTION_ID), context) == "abc123"
    assert resolve(expr(ExecutionVariables.PIPELINE_NAME), context) == "ChurnPipeline"


def test_step_properties_by_list_key_and_attribute(context):
    from sagemaker.core.workflow.properties import Properties

    outputs = Properties(step_name="Preprocess", shape_name="DescribeProcessingJobResponse")
    train_uri = outputs.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri
    assert resolve(expr(train_uri), context) == "s3://b/train"
    model = Properties(step_name="Train", shape_name="DescribeTrainingJobResponse")
    assert resolve(expr(model.ModelArtifacts.S3ModelArtifacts), context) == "s3://b/model.tar.gz"
    assert resolve(expr(model.FinalMetricDataList[0].Value), context) == 0.9


def test_join_nests_and_formats_values(context):
    inner = Join(on="/", values=["s3://b", ExecutionVariables.PIPELINE_EXECUTION_ID])
    outer = Join(on=" ", values=["run", inner, "threshold", THRESHOLD, "flag", FLAG])
    assert resolve(expr(outer), context) == "run s3://b/abc123 threshold 0.8 flag true"


def test_json_get_on_property_file(context):
    assert resolve(expr(AUC), context) == 0.87
    rows = JsonGet(step_name="Evaluate", property_file=REPORT, json_path="rows[1]")
    assert resolve(expr(rows), context) == 20


def test_unknown_references_name_themselves(context):
    with pytest.raises(ExpressionError, match="unknown parameter"):
        resolve({"Get": "Parameters.Nope"}, context)
    with pytest.raises(ExpressionError, match="step 'Later' .* has not run"):
        resolve({"Get": "Steps.Later.ModelArtifacts.S3ModelArtifacts"}, context)
    with pytest.raises(ExpressionError, match="no element named 'validation'"):
        resolve({"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['validation']"}, context)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (ConditionGreaterThanOrEqualTo(left=AUC, right=THRESHOLD), True),
        (ConditionGreaterThanOrEqualTo(left=AUC, right=0.87), True),
        (ConditionGreaterThan(left=AUC, right=0.87), False),
        (ConditionLessThan(left=AUC, right=THRESHOLD), False),
        (ConditionLessThanOrEqualTo(left=COUNT, right=3), True),
        (ConditionEquals(left=NAME, right="churn"), True),
        (ConditionEquals(left=FLAG, right=False), False),
        (ConditionIn(value=NAME, in_values=["fraud", "churn"]), True),
        (ConditionIn(value=COUNT, in_values=[1, 2]), False),
        (ConditionNot(expression=ConditionEquals(left=NAME, right="churn")), False),
        (
            ConditionOr(
                conditions=[
                    ConditionLessThan(left=AUC, right=0.5),
                    ConditionEquals(left=COUNT, right=3),
                ]
            ),
            True,
        ),
        (
            ConditionOr(
                conditions=[
                    ConditionLessThan(left=AUC, right=0.5),
                    ConditionNot(expression=ConditionIn(value=NAME, in_values=["churn"])),
                ]
            ),
            False,
        ),
    ],
    ids=[
        "gte-param",
        "gte-equal",
        "gt",
        "lt",
        "lte-int",
        "equals",
        "equals-bool",
        "in",
        "not-in",
        "not",
        "or-true",
        "or-nested-false",
    ],
)
def test_condition_operators(condition, expected, context):
    assert evaluate_condition(expr(condition), context) is expected


def test_numbers_read_as_text_compare_as_numbers(context):
    context.property_files["Evaluate"]["Report"]["binary_classification_metrics"]["auc"][
        "value"
    ] = "0.95"
    assert evaluate_condition(expr(ConditionGreaterThan(left=AUC, right=THRESHOLD)), context)


def test_conditions_of_a_step_are_anded(context):
    conditions = [
        expr(ConditionEquals(left=NAME, right="churn")),
        expr(ConditionEquals(left=COUNT, right=4)),
    ]
    assert evaluate_conditions(conditions, context) is False
    assert evaluate_conditions(conditions[:1], context) is True
