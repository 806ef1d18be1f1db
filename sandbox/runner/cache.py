"""Step caching, as SageMaker Pipelines does it: a step whose cache-key attributes match an
earlier successful run of the same pipeline step within ExpireAfter is not run again; the
earlier run's outputs are reused.

The attributes are SageMaker's own (see `CACHE_KEY_ATTRIBUTES`). One difference, on
purpose: input S3 locations are compared by the *content* under them, because SDK v3's
ModelTrainer stages unchanged training code under a new timestamped prefix on every render.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# Default cache key attributes per step type, from the SageMaker Pipelines documentation.
CACHE_KEY_ATTRIBUTES = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": (
        "AlgorithmSpecification",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "Environment",
        "HyperParameters",
        "InputDataConfig",
    ),
    "Transform": ("DataProcessing", "Environment", "ModelName", "TransformInput"),
    "Tuning": (
        "HyperParameterTuningJobConfig",
        "TrainingJobDefinition",
        "TrainingJobDefinitions",
    ),
}
_DURATION = re.compile(
    r"^P?(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$",
    re.IGNORECASE,
)


def parse_expire_after(text: str) -> timedelta:
    """ISO 8601 duration as CacheConfig takes it: 'P30D', 'PT1H', '30d', 'T16m', '30dT5h'."""
    match = _DURATION.match(text.strip()) if text else None
    if not match or not any(match.groups()):
        raise ValueError(f"invalid ExpireAfter duration {text!r}")
    years, months, weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(
        days=365 * years + 30 * months + 7 * weeks + days,
        hours=hours,
        minutes=minutes,
        seconds=seconds,
    )


def cache_key(step_type: str, arguments: dict, digest_uri) -> str:
    """The key of a resolved request; `digest_uri(uri)` stands in for each input S3Uri."""

    def content_addressed(node):
        if isinstance(node, dict):
            return {
                k: (digest_uri(v) if k == "S3Uri" and isinstance(v, str) else content_addressed(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [content_addressed(item) for item in node]
        return node

    attributes = {name: arguments.get(name) for name in CACHE_KEY_ATTRIBUTES[step_type]}
    payload = json.dumps([step_type, content_addressed(attributes)], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class CacheEntry:
    properties: dict
    property_files: dict
    execution_arn: str
    finished: datetime


class StepCache:
    """Successful step runs by (pipeline, step, key); lives as long as the sandbox's S3."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], CacheEntry] = {}
        self._lock = threading.Lock()

    def lookup(
        self, pipeline: str, step: str, key: str, expire_after: timedelta
    ) -> CacheEntry | None:
        with self._lock:
            entry = self._entries.get((pipeline, step, key))
        if entry and datetime.now(UTC) - entry.finished <= expire_after:
            return entry
        return None

    def store(self, pipeline: str, step: str, key: str, entry: CacheEntry) -> None:
        with self._lock:
            self._entries[(pipeline, step, key)] = entry
