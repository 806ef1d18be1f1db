"""Cache keys and ExpireAfter, as SageMaker Pipelines defines them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sandbox.runner.cache import CacheEntry, StepCache, cache_key, parse_expire_after


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P30D", timedelta(days=30)),
        ("PT1H", timedelta(hours=1)),
        ("30d", timedelta(days=30)),
        ("T16m", timedelta(minutes=16)),
        ("30dT5h", timedelta(days=30, hours=5)),
        ("P1W", timedelta(days=7)),
    ],
)
def test_expire_after_durations(text, expected):
    assert parse_expire_after(text) == expected


@pytest.mark.parametrize("text", ["", "P", "thirty days", "PT"])
def test_bad_durations_are_rejected(text):
    with pytest.raises(ValueError, match="invalid ExpireAfter"):
        parse_expire_after(text)


def _request(code_uri: str, output_uri: str, instance: str = "ml.m5.large") -> dict:
    return {
        "AppSpecification": {"ImageUri": "sklearn"},
        "ProcessingInputs": [{"InputName": "code", "S3Input": {"S3Uri": code_uri}}],
        "ProcessingOutputConfig": {"Outputs": [{"S3Output": {"S3Uri": output_uri}}]},
        "ProcessingResources": {"ClusterConfig": {"InstanceType": instance}},
    }


def test_key_compares_inputs_by_content_and_ignores_outputs():
    same_content = {
        "s3://b/code/ts-1": "digest-A",
        "s3://b/code/ts-2": "digest-A",
        "s3://b/code/new": "digest-B",
    }
    digest = same_content.__getitem__
    first = cache_key("Processing", _request("s3://b/code/ts-1", "s3://b/exec-1"), digest)
    # Same code under another (timestamped) prefix, another execution's output: a hit.
    assert cache_key("Processing", _request("s3://b/code/ts-2", "s3://b/exec-2"), digest) == first
    # Changed code: a miss.
    assert cache_key("Processing", _request("s3://b/code/new", "s3://b/exec-1"), digest) != first


def test_lookup_honours_expiry_and_scope():
    cache = StepCache()
    entry = CacheEntry({"a": 1}, {}, "arn:exec", datetime.now(UTC) - timedelta(hours=2))
    cache.store("pipeline", "Train", "k", entry)
    assert cache.lookup("pipeline", "Train", "k", timedelta(days=1)) is entry
    assert cache.lookup("pipeline", "Train", "k", timedelta(hours=1)) is None
    assert cache.lookup("other-pipeline", "Train", "k", timedelta(days=1)) is None
