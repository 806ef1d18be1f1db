"""A batch transform's instance: `python batch_transform.py SPEC_JSON`.

What SageMaker's batch transform agent and the model's serving container do together, in
one process: each input file is split into records (SplitType Line or None), filtered
(InputFilter), grouped into requests (BatchStrategy MultiRecord up to MaxPayloadInMB, or
SingleRecord), each request answered by the model's handlers (`input_fn` -> `predict_fn`
-> `output_fn`, the model's own `code/<SAGEMAKER_PROGRAM>` imported as the endpoint runtime
imports it, or a built-in algorithm's), the answers joined with their input (JoinSource),
filtered (OutputFilter) and assembled (AssembleWith Line or None) into `<file>.out`.

SPEC_JSON names the folders (input, output, model) and holds the request's settings; the
runner (transform.py) downloads before and uploads after.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from types import SimpleNamespace

from sandbox.runner.containers import data_processing as dp


class TransformError(Exception):
    """The job fails; the message is its reason."""


# --- the model's handlers -------------------------------------------------------------------


def _default_input_fn(body: bytes, content_type: str):
    """As the SageMaker scikit-learn container's default: CSV or JSON to a numpy array."""
    import io

    import numpy as np

    if dp.is_csv(content_type):
        return np.genfromtxt(io.StringIO(body.decode("utf-8")), delimiter=",", ndmin=2)
    if (content_type or "").startswith("application/json"):
        return np.array(json.loads(body))
    raise TransformError(f"the model has no input_fn for ContentType {content_type!r}")


def _default_predict_fn(data, model):
    return model.predict(data)


def _default_output_fn(prediction, accept: str):
    """The scikit-learn container's default encoders: one row a line for CSV, else JSON."""
    import io

    import numpy as np

    if dp.is_csv(accept):
        out = io.StringIO()
        np.savetxt(out, np.asarray(prediction), delimiter=",", fmt="%s")
        return out.getvalue(), "text/csv"
    values = prediction.tolist() if hasattr(prediction, "tolist") else prediction
    return json.dumps(values), "application/json"


def load_handlers(spec: dict):
    """(handlers, model): a built-in algorithm's, or the model's own script's."""
    algorithm = spec.get("algorithm")
    if algorithm == "xgboost":
        from sandbox.runner.containers import xgboost_algorithm as handlers
    elif algorithm == "linear-learner":
        from sandbox.runner.containers import linear_learner_algorithm as handlers
    else:
        # Imported as the endpoint runtime imports a model's inference script.
        from sandbox.endpoint_runtime import _import

        script = Path(spec["script"])
        if not script.is_file():
            raise TransformError(f"{script.name} (SAGEMAKER_PROGRAM) is not in the model's code")
        module = _import(script)
        handlers = SimpleNamespace(
            model_fn=module.model_fn,
            input_fn=getattr(module, "input_fn", _default_input_fn),
            predict_fn=getattr(module, "predict_fn", _default_predict_fn),
            output_fn=getattr(module, "output_fn", _default_output_fn),
        )
    return handlers, handlers.model_fn(spec["model_dir"])


# --- records, requests, answers -------------------------------------------------------------


def split(data: bytes, split_type: str) -> list[bytes]:
    if split_type == "Line":
        return [line for line in data.splitlines() if line.strip()]
    if split_type in ("None", "", None):
        return [data] if data else []
    raise TransformError(f"SplitType {split_type!r} is not supported locally (Line, None are)")


def batches(records: list[bytes], strategy: str, max_payload_mb: int) -> list[list[bytes]]:
    """SingleRecord: one record a request. MultiRecord: as many as fit in MaxPayloadInMB (0:
    no limit). A record larger than the limit fails the job, as on SageMaker."""
    limit = max_payload_mb * 1024 * 1024
    for record in records:
        if limit and len(record) > limit:
            raise TransformError(
                f"a record of {len(record)} bytes exceeds MaxPayloadInMB ({max_payload_mb})"
            )
    if strategy == "SingleRecord":
        return [[r] for r in records]
    groups: list[list[bytes]] = []
    size = 0
    for record in records:
        if groups and (not limit or size + 1 + len(record) <= limit):
            groups[-1].append(record)
            size += 1 + len(record)
        else:
            groups.append([record])
            size = len(record)
    return groups


def _invoke(handlers, model, payload: bytes, content_type: str, accept: str) -> bytes:
    data = handlers.input_fn(payload, content_type)
    result = handlers.output_fn(handlers.predict_fn(data, model), accept)
    body = result[0] if isinstance(result, tuple) else result
    return body.encode() if isinstance(body, str) else body


def _per_record(body: bytes, count: int, accept: str) -> list[bytes]:
    """An answer to `count` records as one output each: its lines, or a JSON array's items."""
    if count == 1:
        return [body.rstrip(b"\n")]
    if not dp.is_csv(accept):
        try:
            values = json.loads(body)
        except json.JSONDecodeError:
            values = None
        if isinstance(values, list) and len(values) == count:
            return [json.dumps(v).encode() for v in values]
    lines = body.rstrip(b"\n").split(b"\n")
    if len(lines) != count:
        raise TransformError(
            f"the model answered {len(lines)} records for a request of {count}: with "
            "JoinSource or an OutputFilter, each record needs one line of answer"
        )
    return lines


def transform_file(source: Path, target: Path, spec: dict, handlers, model) -> int:
    """Transform one input file into `target`; returns the record count."""
    content_type = spec.get("ContentType") or ""
    accept = spec.get("Accept") or content_type
    processing = spec.get("DataProcessing") or {}
    input_filter = processing.get("InputFilter")
    output_filter = processing.get("OutputFilter")
    joined = processing.get("JoinSource", "None") == "Input"
    line_assembly = spec.get("AssembleWith") == "Line"
    input_csv = dp.is_csv(content_type)

    data = source.read_bytes()
    if spec.get("CompressionType") == "Gzip":
        data = gzip.decompress(data)
    records = split(data, spec.get("SplitType") or "None")
    originals = records
    if input_filter and input_filter != "$":
        records = [
            dp.render(dp.select(dp.parse(r, content_type), input_filter), input_csv)
            for r in records
        ]
    # Joins and output filters work record by record; plain assembly takes answers whole
    # (AssembleWith Line ends each with a newline).
    per_record = joined or bool(output_filter and output_filter != "$")
    pieces: list[bytes] = []
    position = 0
    for group in batches(
        records, spec.get("BatchStrategy") or "MultiRecord", spec["MaxPayloadInMB"]
    ):
        body = _invoke(handlers, model, b"\n".join(group), content_type, accept)
        if not per_record:
            pieces.append(body.rstrip(b"\n") if line_assembly else body)
            position += len(group)
            continue
        for output in _per_record(body, len(group), accept):
            original = originals[position]
            position += 1
            if joined:
                value, as_csv = dp.join(
                    dp.parse(original, content_type), output, input_csv, dp.is_csv(accept)
                )
            else:
                value, as_csv = dp.parse(output, accept), dp.is_csv(accept)
            pieces.append(dp.render(dp.select(value, output_filter), as_csv))
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        for piece in pieces:
            out.write(piece + b"\n" if line_assembly else piece)
    return len(originals)


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    handlers, model = load_handlers(spec)
    input_dir, output_dir = Path(spec["input_dir"]), Path(spec["output_dir"])
    for relative in spec["files"]:
        count = transform_file(
            input_dir / relative, output_dir / f"{relative}.out", spec, handlers, model
        )
        print(f"{relative}: {count} records")


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except (TransformError, dp.FilterError) as err:
        print(f"ClientError: {err}", file=sys.stderr)
        sys.exit(1)
