"""Data capture: what an endpoint with DataCaptureConfig writes to S3 for each request.

AWS: with `EnableCapture`, a sampled share (`InitialSamplingPercentage`) of requests and
responses lands under `<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/` as JSON
lines, one record per request:

    {"captureData": {"endpointInput": {"observedContentType", "mode": "INPUT", "data",
                                        "encoding": "CSV" | "JSON" | "BASE64"},
                     "endpointOutput": {... "mode": "OUTPUT" ...}},
     "eventMetadata": {"eventId", "inferenceTime"}, "eventVersion": "0"}

Content types named in `CaptureContentTypeHeader` (CsvContentTypes / JsonContentTypes) are
kept as text with encoding CSV or JSON; any other is BASE64. `CaptureOptions` picks Input,
Output or both. AWS buffers records and writes a file every few minutes; the sandbox
writes one object per captured request, from a background thread (so capture adds nothing
to the request's latency), within milliseconds: `flush()` waits for what is queued, and a
monitoring run (`python -m sandbox run-monitoring`) calls it first.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import queue
import random
import threading
import uuid

from moto.sagemaker.models import sagemaker_backends

from sandbox.constants import REGION
from sandbox.runner.s3 import split_uri

logger = logging.getLogger(__name__)
VARIANT = "AllTraffic"


def capture_config(endpoint_name: str, account: str, config_name: str | None = None) -> dict:
    """The DataCaptureConfig of the endpoint's (or fleet `config_name`'s) config, if enabled."""
    backend = sagemaker_backends[account][REGION]
    endpoint = backend.endpoints.get(endpoint_name)
    if endpoint is None:
        return {}
    config = backend.endpoint_configs.get(config_name or endpoint.endpoint_config_name)
    settings = getattr(config, "data_capture_config", None) or {}
    enabled = settings.get("EnableCapture") in (True, "true", "True")
    return settings if enabled and settings.get("DestinationS3Uri") else {}


def _encoded(payload: bytes, content_type: str, headers: dict) -> tuple[str, str]:
    kind = content_type.split(";")[0].strip()
    if kind in headers.get("CsvContentTypes", []):
        return payload.decode("utf-8", "replace"), "CSV"
    if kind in headers.get("JsonContentTypes", []):
        return payload.decode("utf-8", "replace"), "JSON"
    return base64.b64encode(payload).decode("ascii"), "BASE64"


def record(
    settings: dict,
    request: bytes,
    request_type: str,
    response: bytes,
    response_type: str,
    now: datetime.datetime,
) -> dict:
    """One capture record (see the module docstring)."""
    modes = {o.get("CaptureMode") for o in settings.get("CaptureOptions", [])} or {
        "Input",
        "Output",
    }
    headers = settings.get("CaptureContentTypeHeader", {})
    data: dict = {}
    for mode, key, payload, kind in (
        ("Input", "endpointInput", request, request_type),
        ("Output", "endpointOutput", response, response_type),
    ):
        if mode in modes:
            text, encoding = _encoded(payload, kind, headers)
            data[key] = {
                "observedContentType": kind,
                "mode": mode.upper(),
                "data": text,
                "encoding": encoding,
            }
    return {
        "captureData": data,
        "eventMetadata": {
            "eventId": str(uuid.uuid4()),
            "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        },
        "eventVersion": "0",
    }


def capture(
    s3,
    endpoint_name: str,
    settings: dict,
    request: bytes,
    request_type: str,
    response: bytes,
    response_type: str,
) -> str | None:
    """Write the request's record if it is sampled; returns the object's URI or None."""
    if random.uniform(0, 100) >= float(settings.get("InitialSamplingPercentage", 100)):
        return None
    now = datetime.datetime.now(datetime.UTC)
    line = json.dumps(record(settings, request, request_type, response, response_type, now))
    bucket, prefix = split_uri(settings["DestinationS3Uri"])
    hour = now.strftime("%Y/%m/%d/%H")
    name = f"{now.strftime('%M-%S')}-{now.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
    key = "/".join(p for p in (prefix.strip("/"), endpoint_name, VARIANT, hour, name) if p)
    extra = {}
    if settings.get("KmsKeyId"):
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": settings["KmsKeyId"]}
    s3.put_object(Bucket=bucket, Key=key, Body=(line + "\n").encode(), **extra)
    return f"s3://{bucket}/{key}"


_queue: queue.Queue = queue.Queue()
_writer: threading.Thread | None = None
_writer_lock = threading.Lock()


def _write_queued() -> None:
    while True:
        work = _queue.get()
        try:
            work()
        except Exception:  # noqa: BLE001 — capture never fails a request, nor the writer
            logger.exception("sandbox: data capture failed")
        finally:
            _queue.task_done()


def capture_later(s3, *arguments) -> None:
    """`capture(s3, *arguments)` on the writer thread (started on first use)."""
    global _writer
    with _writer_lock:
        if _writer is None or not _writer.is_alive():
            _writer = threading.Thread(
                target=_write_queued, name="sandbox-data-capture", daemon=True
            )
            _writer.start()
    _queue.put(lambda: capture(s3, *arguments))


def flush() -> None:
    """Wait until every queued capture is written."""
    _queue.join()
