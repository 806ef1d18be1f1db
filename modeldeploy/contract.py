"""A model package's inference contract: what the smoke test sends and what it expects back.

The deploy half knows nothing about any model. The model-build pipeline that registers a
package also registers its contract: a JSON document in S3 whose URI is the package's
`CustomerMetadataProperties["InferenceContractUri"]` (a metadata value is at most 256
characters from a restricted alphabet, too small and too strict for the document itself).

    {
      "contract_version": 1,
      "columns": ["age", "plan", ...],           # feature order of a header-less CSV row
      "content_types": ["text/csv", "application/json"],   # one or both; each is tested
      "json_instances_key": "instances",         # JSON body {"instances": [{col: v}, ...]};
                                                 # null: the body is the list of records
      "sample": [{"age": 41, "plan": "basic", ...}, ...],  # real rows, no label
      "response": {                              # read as JSON (Accept: application/json)
        "predictions_key": "predictions",        # body[key] is a list, one item per row;
                                                 # null: the body itself is that list
        "fields": {"score": {"type": "number", "minimum": 0, "maximum": 1},
                   "label": {"enum": [0, 1]}}    # each item an object with these fields
        # or "value": {"type": "number", "minimum": 0}  -- each item a plain value
      },
      "invalid_payload": {"content_type": "text/csv", "body": "not,a,row\\n"}  # must get 4xx
    }

A rule holds any of `type` (number, integer, string, boolean), `minimum`, `maximum`, `enum`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from botocore.exceptions import ClientError

from modeldeploy.errors import DeployError

CONTRACT_PROPERTY = "InferenceContractUri"
CONTRACT_VERSION = 1
CONTENT_TYPES = ("text/csv", "application/json")
RULE_KEYS = {"type", "minimum", "maximum", "enum"}
TYPES = {
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
}


class ContractError(DeployError):
    """A package has no usable inference contract; the message names the package and why."""


@dataclass(frozen=True)
class Contract:
    uri: str
    columns: list[str]
    content_types: list[str]
    json_instances_key: str | None
    sample: list[dict]
    predictions_key: str | None
    fields: dict[str, dict] | None
    value: dict | None
    invalid_content_type: str
    invalid_body: str

    def body(self, content_type: str, rows: list[dict]) -> str:
        """`rows` as a request body of `content_type` (CSV: no header, `columns` order)."""
        if content_type == "text/csv":
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            for row in rows:
                writer.writerow(["" if row.get(c) is None else row[c] for c in self.columns])
            return out.getvalue()
        records = [{c: row.get(c) for c in self.columns} for row in rows]
        return json.dumps(
            {self.json_instances_key: records} if self.json_instances_key else records
        )

    def check_response(self, payload, expected_rows: int) -> str | None:
        """None when `payload` (a parsed JSON response) keeps the contract, else what is
        wrong with it."""
        key = self.predictions_key
        if key:
            predictions = payload.get(key) if isinstance(payload, dict) else None
            where = f"response field {key!r}"
        else:
            predictions, where = payload, "response"
        if not isinstance(predictions, list):
            return f"{where} is not a list"
        if len(predictions) != expected_rows:
            return f"{len(predictions)} predictions for {expected_rows} rows"
        for prediction in predictions:
            problem = self._check_prediction(prediction)
            if problem:
                return f"bad prediction {prediction!r}: {problem}"
        return None

    def _check_prediction(self, prediction) -> str | None:
        if self.value is not None:
            return _break(prediction, self.value, "value")
        if not isinstance(prediction, dict):
            return f"expected an object with {', '.join(self.fields)}"
        for name, rule in self.fields.items():
            if name not in prediction:
                return f"no field {name!r}"
            problem = _break(prediction[name], rule, name)
            if problem:
                return problem
        return None


def _break(value, rule: dict, name: str) -> str | None:
    """What about `value` breaks `rule`, or None."""
    if "type" in rule and not TYPES[rule["type"]](value):
        return f"{name} must be a {rule['type']}"
    if "enum" in rule and not any(
        value == e and isinstance(value, bool) == isinstance(e, bool) for e in rule["enum"]
    ):
        return f"{name} must be one of {rule['enum']}"
    numeric = TYPES["number"](value)
    if "minimum" in rule and not (numeric and value >= rule["minimum"]):
        return f"{name} must be a number >= {rule['minimum']}"
    if "maximum" in rule and not (numeric and value <= rule["maximum"]):
        return f"{name} must be a number <= {rule['maximum']}"
    return None


def _rule_problem(rule, where: str) -> str | None:
    if not isinstance(rule, dict) or not rule:
        return f"{where} must be a non-empty object"
    unknown = sorted(set(rule) - RULE_KEYS)
    if unknown:
        return f"{where} has unknown key(s) {', '.join(unknown)} (allowed: {sorted(RULE_KEYS)})"
    if "type" in rule and rule["type"] not in TYPES:
        return f"{where}.type must be one of {', '.join(TYPES)}"
    for bound in ("minimum", "maximum"):
        if bound in rule and not TYPES["number"](rule[bound]):
            return f"{where}.{bound} must be a number"
    if "enum" in rule and (not isinstance(rule["enum"], list) or not rule["enum"]):
        return f"{where}.enum must be a non-empty list"
    return None


def _problem(doc) -> str | None:
    """What is wrong with a contract document, or None."""
    if not isinstance(doc, dict):
        return "must be a JSON object"
    if doc.get("contract_version") != CONTRACT_VERSION:
        return f"contract_version must be {CONTRACT_VERSION}"
    columns = doc.get("columns")
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
        return "columns must be a non-empty list of names"
    types = doc.get("content_types")
    if not isinstance(types, list) or not types or not set(types) <= set(CONTENT_TYPES):
        return f"content_types must be a non-empty list of {', '.join(CONTENT_TYPES)}"
    if not isinstance(doc.get("json_instances_key"), str | None):
        return "json_instances_key must be a string or null"
    sample = doc.get("sample")
    if not isinstance(sample, list) or not sample or not all(isinstance(r, dict) for r in sample):
        return "sample must be a non-empty list of records (objects)"
    for index, row in enumerate(sample):
        missing = [c for c in columns if c not in row]
        if missing:
            return f"sample[{index}] has no {', '.join(missing)}"
    response = doc.get("response")
    if not isinstance(response, dict):
        return "response must be an object"
    if not isinstance(response.get("predictions_key"), str | None):
        return "response.predictions_key must be a string or null"
    if ("fields" in response) == ("value" in response):
        return "response needs exactly one of fields (object predictions) or value (plain ones)"
    if "value" in response:
        problem = _rule_problem(response["value"], "response.value")
        if problem:
            return problem
    else:
        fields = response["fields"]
        if not isinstance(fields, dict) or not fields:
            return "response.fields must be a non-empty object"
        for name, rule in fields.items():
            problem = _rule_problem(rule, f"response.fields.{name}")
            if problem:
                return problem
    invalid = doc.get("invalid_payload")
    if (
        not isinstance(invalid, dict)
        or invalid.get("content_type") not in CONTENT_TYPES
        or not isinstance(invalid.get("body"), str)
    ):
        return (
            "invalid_payload must be {content_type: one of "
            f"{', '.join(CONTENT_TYPES)}, body: a string the model must refuse with a 4xx}}"
        )
    return None


def parse_contract(doc, uri: str, package_arn: str) -> Contract:
    """A checked Contract; raises ContractError naming the package, the URI and the field."""
    problem = _problem(doc)
    if problem:
        raise ContractError(f"model package {package_arn}: inference contract {uri}: {problem}")
    response = doc["response"]
    return Contract(
        uri=uri,
        columns=doc["columns"],
        content_types=doc["content_types"],
        json_instances_key=doc.get("json_instances_key"),
        sample=doc["sample"],
        predictions_key=response.get("predictions_key"),
        fields=response.get("fields"),
        value=response.get("value"),
        invalid_content_type=doc["invalid_payload"]["content_type"],
        invalid_body=doc["invalid_payload"]["body"],
    )


def contract_uri(described_package: dict) -> str:
    """The contract's S3 URI from a DescribeModelPackage answer; raises ContractError."""
    uri = described_package.get("CustomerMetadataProperties", {}).get(CONTRACT_PROPERTY)
    if not uri:
        raise ContractError(
            f"model package {described_package['ModelPackageArn']} has no inference contract: "
            f"no CustomerMetadataProperties {CONTRACT_PROPERTY!r} (the S3 URI of its JSON "
            "contract; see modeldeploy/README.md)"
        )
    return uri


def load_contract(sagemaker, s3, package_arn: str) -> Contract:
    """The inference contract registered with `package_arn`; raises ContractError (one line)."""
    try:
        described = sagemaker.describe_model_package(ModelPackageName=package_arn)
    except ClientError as err:
        raise ContractError(f"cannot describe model package {package_arn}: {err}") from None
    uri = contract_uri(described)
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        if not uri.startswith("s3://") or not key:
            raise ValueError("not an s3://bucket/key URI")
        doc = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, ValueError) as err:
        message = " ".join(str(err).split())
        raise ContractError(
            f"model package {package_arn}: cannot read its inference contract at {uri}: {message}"
        ) from None
    return parse_contract(doc, uri, package_arn)
