"""The local endpoint runtime: InvokeEndpoint's REST shape on the sandbox's own port.

`POST /endpoints/<name>/invocations` is resolved as SageMaker hosting does it:
endpoint -> endpoint config -> model -> model package -> ModelDataUrl in sandbox S3. The
artifact is unpacked once per ModelDataUrl and served with its own `inference.py`
(model_fn / input_fn / predict_fn / output_fn), as the scikit-learn serving container does.
Because every request resolves the endpoint afresh, a stack update that points the endpoint
at a new package switches what it serves with no restart.

Errors follow InvokeEndpoint: a body over 6 MB is refused before the model sees it
(HTTP 413, `ValidationError`); a handler error becomes `ModelError` (HTTP 424) carrying the
container's status (the exception's `status_code`, 4xx for bad payloads, else 500); a
model that cannot load marks the endpoint Failed with the reason.

Requests are served on the sandbox server's threads, each calling the loaded model's
handlers directly: no process or model load per request.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from moto.sagemaker.exceptions import ValidationError as MotoValidationError
from moto.sagemaker.models import sagemaker_backends
from threadpoolctl import threadpool_limits

from sandbox import data_capture, guardrails
from sandbox.clients import sandbox_client
from sandbox.constants import ACCOUNT_ID, REGION
from sandbox.runner.s3 import split_uri
from sandbox.safe_tar import safe_extract

logger = logging.getLogger(__name__)
INVOCATIONS = re.compile(r"^/endpoints/([^/]+)/invocations$")
_ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")
# Endpoint states that answer InvokeEndpoint (an update serves from the old fleet, or both).
SERVING = ("InService", "Updating", "RollingBack", "SystemUpdating")
# InvokeEndpoint's request limit for real-time endpoints.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024


class EndpointUnavailable(Exception):
    """The endpoint does not exist or is not InService; the message says which."""


@dataclass
class LoadedModel:
    handlers: ModuleType
    model: object


@dataclass
class _Resolved:
    model_data_url: str
    program: str


# The scikit-learn serving image's libraries: a model's inference.py and its pickled
# estimators import them when the first request loads it.
SERVING_LIBRARIES = ("numpy", "pandas", "joblib", "sklearn.pipeline", "sklearn.ensemble")


def preload_serving_libraries() -> threading.Thread:
    """Import the serving libraries in the background: loading the first model then skips
    1-2 s of imports (the sandbox waits on other processes, a render or a build, meanwhile).
    """

    def preload() -> None:
        for name in SERVING_LIBRARIES:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)

    thread = threading.Thread(target=preload, name="sandbox-serving-preload", daemon=True)
    thread.start()
    return thread


class EndpointRuntime:
    """A WSGI app for the invocations path, plus the endpoint health hook."""

    def __init__(self, endpoint_url: str, home: Path):
        self.endpoint_url = endpoint_url
        self.models_dir = home / "endpoints"
        self._loaded: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()
        self._s3 = None  # data capture's client, made on the first captured request
        # Blue/green updates bring up their new fleet here and are recorded beside it.
        guardrails.attach(self.models_dir, self.load)

    def close(self) -> None:
        """The sandbox is stopping: its blue/green updates no longer come here."""
        guardrails.detach(self.load)

    @staticmethod
    def handles(environ: dict) -> bool:
        return environ.get("REQUEST_METHOD") == "POST" and bool(
            INVOCATIONS.match(environ.get("PATH_INFO", ""))
        )

    def __call__(self, environ: dict, start_response):
        name = INVOCATIONS.match(environ["PATH_INFO"]).group(1)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_PAYLOAD_BYTES:
            _drain(environ["wsgi.input"], length)  # the connection stays usable
            return _error(
                start_response,
                "413 Request Entity Too Large",
                "ValidationError",
                f"Request payload of {length} bytes exceeds the InvokeEndpoint limit of "
                f"{MAX_PAYLOAD_BYTES} bytes (6 MB).",
            )
        body = environ["wsgi.input"].read(length)
        account = caller_account(environ)
        # During a blue/green update the guardrails pick the fleet (config) of each request.
        fleet_config, fleet = guardrails.route(name, account)
        try:
            loaded = self.load(name, account, fleet_config)
        except EndpointUnavailable as err:
            guardrails.observe(name, fleet, 500, 0.0, account)
            return _error(start_response, "400 Bad Request", "ValidationError", str(err))
        started = time.perf_counter()  # ModelLatency: the model's own time
        content_type = environ.get("CONTENT_TYPE", "application/json")
        accept = environ.get("HTTP_ACCEPT", "application/json")
        try:
            handlers = loaded.handlers
            data = handlers.input_fn(body, content_type)
            prediction = handlers.predict_fn(data, loaded.model)
            result = handlers.output_fn(prediction, accept)
        except Exception as err:  # noqa: BLE001 — any handler error is the model's answer
            status = getattr(err, "status_code", 500)
            status = status if isinstance(status, int) and 400 <= status < 600 else 500
            guardrails.observe(name, fleet, status, time.perf_counter() - started, account)
            kind = "client" if status < 500 else "server"
            message = f'Received {kind} error ({status}) from primary with message "{err}".'
            return _error(
                start_response,
                "424 Failed Dependency",
                "ModelError",
                message,
                OriginalStatusCode=status,
                OriginalMessage=str(err),
                ErrorCode=f"{kind.upper()}_ERROR_FROM_MODEL",
            )
        guardrails.observe(name, fleet, 200, time.perf_counter() - started, account)
        payload, response_type = result if isinstance(result, tuple) else (result, accept)
        payload = payload.encode() if isinstance(payload, str) else payload
        self._capture(name, account, fleet_config, (body, content_type), (payload, response_type))
        start_response(
            "200 OK",
            [
                ("Content-Type", response_type),
                ("Content-Length", str(len(payload))),
                ("x-Amzn-Invoked-Production-Variant", "AllTraffic"),
            ],
        )
        return [payload]

    def _capture(self, name: str, account: str, config: str | None, request, response) -> None:
        """Data capture, where the endpoint's config enables it (sandbox/data_capture.py),
        written in the background; a capture that fails is logged, never the caller's error."""
        settings = data_capture.capture_config(name, account, config)
        if not settings:
            return
        if self._s3 is None:
            self._s3 = sandbox_client("s3", self.endpoint_url)
        data_capture.capture_later(self._s3, name, settings, *request, *response)

    # --- resolving and loading -----------------------------------------------------------

    def _resolve(
        self, endpoint_name: str, account: str = ACCOUNT_ID, config_name: str | None = None
    ) -> _Resolved:
        """Endpoint -> config -> model -> package, read from the sandbox's SageMaker state
        (in this process: no request per hop, so the hops add no latency). The endpoint is
        the caller's account's; its package may be another account's registry's (by ARN)."""
        backend = sagemaker_backends[account][REGION]
        endpoint = backend.endpoints.get(endpoint_name)
        if endpoint is None:
            raise EndpointUnavailable(f"Endpoint {endpoint_name} not found.")
        if endpoint.endpoint_status not in SERVING:
            raise EndpointUnavailable(
                f"Endpoint {endpoint_name} is {endpoint.endpoint_status}: "
                f"{endpoint.failure_reason or 'no reason given'}"
            )
        try:
            config = backend.endpoint_configs[config_name or endpoint.endpoint_config_name]
            model = backend.describe_model(config.production_variants[0]["ModelName"])
            container = model.primary_container or model.containers[0]
            package_arn = container.get("ModelPackageName")
            if package_arn:
                package = _registry_of(package_arn, backend).describe_model_package(package_arn)
                container = package.inference_specification["Containers"][0]
        except (KeyError, IndexError, MotoValidationError) as err:
            raise EndpointUnavailable(f"Endpoint {endpoint_name} cannot serve: {err}") from None
        environment = container.get("Environment", {})
        return _Resolved(
            container["ModelDataUrl"],
            environment.get("SAGEMAKER_PROGRAM", "inference.py"),
        )

    def load(
        self, endpoint_name: str, account: str = ACCOUNT_ID, config_name: str | None = None
    ) -> LoadedModel:
        """The model the endpoint serves now (or, during a blue/green update, the model of
        fleet `config_name`), loaded on first use.

        Raises EndpointUnavailable; a model that fails to load also marks the endpoint Failed
        (not a fleet's during an update: that update's alarms see the errors).
        """
        resolved = self._resolve(endpoint_name, account, config_name)
        with self._lock:
            loaded = self._loaded.get(resolved.model_data_url)
            if loaded is None:
                try:
                    loaded = self._load_artifact(resolved)
                except Exception as err:  # noqa: BLE001 — any load failure fails the endpoint
                    reason = f"model at {resolved.model_data_url} failed to load: {err}"
                    if config_name is None:
                        _mark_failed(endpoint_name, reason, account)
                    raise EndpointUnavailable(
                        reason if config_name else f"Endpoint {endpoint_name} is Failed: {reason}"
                    ) from None
                self._loaded[resolved.model_data_url] = loaded
        return loaded

    def check(self, endpoint_name: str, account: str = ACCOUNT_ID) -> None:
        """Load the endpoint's model now (DescribeEndpoint calls this), so that a model that
        cannot load shows as a Failed endpoint, as on AWS."""
        with contextlib.suppress(EndpointUnavailable):
            self.load(endpoint_name, account)

    def _load_artifact(self, resolved: _Resolved) -> LoadedModel:
        folder = self.models_dir / hashlib.sha256(resolved.model_data_url.encode()).hexdigest()[:16]
        folder.mkdir(parents=True, exist_ok=True)
        archive = folder / "model.tar.gz"
        bucket, key = split_uri(resolved.model_data_url)
        sandbox_client("s3", self.endpoint_url).download_file(bucket, key, str(archive))
        model_dir = folder / "model"
        safe_extract(archive, model_dir)
        script = model_dir / "code" / resolved.program
        if not script.exists():
            raise FileNotFoundError(f"code/{resolved.program} is not in model.tar.gz")
        handlers = _import(script)
        model = handlers.model_fn(str(model_dir))
        # One OpenMP thread, for the whole process and once (a per-request
        # `threadpool_limits` context cost 4 ms of every call): on a busy 2-core machine,
        # OpenMP's spinning threads made single-row predictions 20-40x slower.
        threadpool_limits(limits=1, user_api="openmp")
        return LoadedModel(handlers, model)


def _import(script: Path) -> ModuleType:
    """Import a model's inference script as a module of its own (one per artifact)."""
    name = f"sandbox_inference_{hashlib.sha256(str(script).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, script)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(script.parent))  # the script may import its neighbours
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(script.parent))
    return module


def _drain(stream, length: int, chunk: int = 1 << 20) -> None:
    """Read and drop a request body the runtime refuses."""
    while length > 0:
        read = stream.read(min(chunk, length))
        if not read:
            return
        length -= len(read)


def caller_account(environ: dict) -> str:
    """The account of the request's credentials, as moto decides it for every other call
    (the keys of an assumed role belong to the role's account): where its endpoint lives."""
    from moto.iam.models import get_account_id_from

    found = _ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
    return get_account_id_from(found.group(1)) if found else ACCOUNT_ID


def _registry_of(package_arn: str, backend):
    """The SageMaker backend holding a package: the account and region its ARN names (a
    stage account serves the tooling account's package), else the endpoint's own."""
    parts = package_arn.split(":")
    if package_arn.startswith("arn:") and len(parts) > 5:
        return sagemaker_backends[parts[4]][parts[3]]
    return backend


def _mark_failed(endpoint_name: str, reason: str, account: str = ACCOUNT_ID) -> None:
    endpoint = sagemaker_backends[account][REGION].endpoints.get(endpoint_name)
    if endpoint is not None:
        endpoint.endpoint_status = "Failed"
        endpoint.failure_reason = reason[:1024]


def _error(start_response, status: str, error_type: str, message: str, **fields):
    payload = json.dumps({"message": message, "Message": message, **fields}).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", error_type),
            ("Content-Length", str(len(payload))),
        ],
    )
    return [payload]
