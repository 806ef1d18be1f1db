"""ValidateData Lambda against a real (moto) S3: data that meets the contract passes; data
that breaks it raises DataValidationError naming the column and rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.lambdas.validate_data import DataValidationError, InputError, handler
from pipelines.churn.generate_data import write_churn_csv

BUCKET = "data-bucket"


@pytest.fixture(name="bucket")
def fixture_bucket(s3_client):
    s3_client.create_bucket(Bucket=BUCKET)
    return s3_client


@pytest.fixture(name="good_csv", scope="module")
def fixture_good_csv(tmp_path_factory) -> Path:
    return write_churn_csv(tmp_path_factory.mktemp("validate") / "churn.csv", rows=2_000, seed=9)


def event(uri: str) -> dict:
    return {"input_data_uri": uri, "contract": "churn-v1"}


def test_data_meeting_the_contract_returns_the_report(bucket, good_csv):
    bucket.upload_file(str(good_csv), BUCKET, "Churn/data/churn.csv")
    report = handler(event(f"s3://{BUCKET}/Churn/data/churn.csv"), None)
    assert report["valid"] is True and report["rows"] == 2_000
    assert report["contract"] == "churn-v1" and report["violations"] == []


def test_a_prefix_reads_every_csv_under_it(bucket, good_csv):
    for part in ("a", "b"):
        bucket.upload_file(str(good_csv), BUCKET, f"Churn/data/{part}.csv")
    bucket.put_object(Bucket=BUCKET, Key="Churn/data/README.txt", Body=b"not data")
    report = handler(event(f"s3://{BUCKET}/Churn/data/"), None)
    assert report["rows"] == 4_000 and len(report["files"]) == 2


def test_broken_data_raises_naming_column_and_rule(bucket, good_csv):
    lines = good_csv.read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    at = header.index("monthly_charges")
    rows = [line.rstrip("\n").split(",") for line in lines[1:]]
    rows[4][at] = "-5"
    body = lines[0] + "".join(",".join(r) + "\n" for r in rows)
    bucket.put_object(Bucket=BUCKET, Key="bad/churn.csv", Body=body.encode())
    with pytest.raises(DataValidationError) as info:
        handler(event(f"s3://{BUCKET}/bad/churn.csv"), None)
    message = str(info.value)
    assert message.startswith(f"s3://{BUCKET}/bad/churn.csv breaks data contract churn-v1: ")
    assert "column 'monthly_charges': minimum: 1 value(s) below 0, first '-5'" in message
    assert "line 6" in message


def test_multibyte_text_split_across_chunks_decodes(bucket, good_csv, monkeypatch):
    """A category with a non-ASCII character breaks the contract by value, not by decoding."""
    text = good_csv.read_text().replace("Credit card", "Crédit card", 1)
    bucket.put_object(Bucket=BUCKET, Key="accent/churn.csv", Body=text.encode())
    from botocore.response import StreamingBody

    chunks = StreamingBody.iter_chunks
    monkeypatch.setattr(StreamingBody, "iter_chunks", lambda self, size: chunks(self, 7))
    with pytest.raises(
        DataValidationError, match="column 'payment_method': values: .*'Crédit card'"
    ):
        handler(event(f"s3://{BUCKET}/accent/churn.csv"), None)


def test_binary_data_is_an_encoding_violation(bucket):
    bucket.put_object(Bucket=BUCKET, Key="bin/churn.csv", Body=b"customer_id,age\n\xff\xfe\n")
    with pytest.raises(DataValidationError, match="data set: encoding: .*not UTF-8"):
        handler(event(f"s3://{BUCKET}/bin/churn.csv"), None)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"contract": "churn-v1"}, "event field 'input_data_uri' is missing"),
        ({"input_data_uri": "s3://b/k.csv"}, "event field 'contract' is missing"),
        (event("/local/churn.csv"), "input_data_uri must be s3://bucket/key or prefix"),
        (
            {"input_data_uri": f"s3://{BUCKET}/x.csv", "contract": "churn-v7"},
            "unknown data contract",
        ),
        (event(f"s3://{BUCKET}/nothing-here/"), f"no .csv object at s3://{BUCKET}/nothing-here/"),
        (event(f"s3://{BUCKET}/missing.csv"), "cannot read"),
    ],
)
def test_bad_event_is_an_input_error_naming_the_field(bucket, payload, message):
    with pytest.raises(InputError, match=message):
        handler(payload, None)
