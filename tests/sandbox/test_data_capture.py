"""What the endpoint runtime captures: SageMaker's data-capture record, per content type and
capture option. (An endpoint's capture landing in S3:
tests/orchestration/test_drift_in_sandbox.py.)"""

from __future__ import annotations

import base64
import datetime
import json

import pytest

from sandbox.data_capture import record

NOW = datetime.datetime(2026, 12, 3, 9, 5, 7, 123456, tzinfo=datetime.UTC)
HEADERS = {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}


@pytest.mark.parametrize(
    ("content_type", "encoding", "data"),
    [
        ("text/csv", "CSV", "1,2\n"),
        ("application/json", "JSON", '{"instances": []}'),
        ("application/x-npy", "BASE64", base64.b64encode(b"1,2\n").decode()),
    ],
)
def test_a_record_keeps_text_types_as_text_and_others_as_base64(content_type, encoding, data):
    body = data.encode() if encoding != "BASE64" else b"1,2\n"
    settings = {"CaptureContentTypeHeader": HEADERS}
    captured = record(settings, body, content_type, b'{"p": 1}', "application/json", NOW)
    assert captured["captureData"]["endpointInput"] == {
        "observedContentType": content_type,
        "mode": "INPUT",
        "data": data,
        "encoding": encoding,
    }
    assert captured["captureData"]["endpointOutput"]["encoding"] == "JSON"
    assert captured["eventMetadata"]["inferenceTime"] == "2026-12-03T09:05:07.123Z"
    assert captured["eventVersion"] == "0"
    json.dumps(captured)  # one JSON line


def test_capture_options_choose_input_output_or_both():
    settings = {"CaptureOptions": [{"CaptureMode": "Input"}], "CaptureContentTypeHeader": HEADERS}
    captured = record(settings, b"1,2\n", "text/csv", b"[]", "application/json", NOW)
    assert list(captured["captureData"]) == ["endpointInput"]
