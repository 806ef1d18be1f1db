"""Training with a SageMaker built-in algorithm image, run with its open-source equivalent.

A Training request whose image is a built-in algorithm's (`<account>.dkr.ecr.<region>.
amazonaws.com/sagemaker-xgboost:1.7-1`, `.../linear-learner:1`, as `image_uris.retrieve`
returns them for any region) and that carries no script runs the algorithm's stand-in in
`containers/` as a local job: the channels downloaded to the job's `opt/ml/input/data`, the
hyperparameters (strings, as the API passes them) and channel settings written to
`opt/ml/input/config` as SageMaker writes them for a container, `opt/ml/model` packed into
`model.tar.gz` under `<S3OutputPath>/<job name>/output/`. The metrics are read from the job's
log, as SageMaker reads a built-in algorithm's, under the algorithm's own names
(`validation:rmse`, `test:objective_loss`, ...).

A built-in algorithm the sandbox has no stand-in for fails the job at once, naming its image.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from sandbox.runner import jobs

CONTAINERS = Path(__file__).with_name("containers")
_IMAGE = re.compile(
    r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/([^:@]+)(?::([^@]+))?"
)
# SageMaker's built-in algorithms' ECR repositories (sagemaker-xgboost's framework mode, a
# script, is told apart by the request, not the image).
BUILTIN_REPOSITORIES = {
    "blazingtext",
    "factorization-machines",
    "forecasting-deepar",
    "image-classification",
    "ipinsights",
    "kmeans",
    "knn",
    "lda",
    "linear-learner",
    "ntm",
    "object-detection",
    "object2vec",
    "pca",
    "randomcutforest",
    "semantic-segmentation",
    "seq2seq",
    "sagemaker-xgboost",
    "xgboost",  # the 0.72 image, before sagemaker-xgboost
}


@dataclass(frozen=True)
class Algorithm:
    """A built-in algorithm the sandbox runs: its stand-in script and how its log names
    metrics."""

    name: str
    script: str
    metric_pattern: re.Pattern
    arguments: tuple[str, ...] = ()

    def metrics(self, log_text: str) -> list[dict]:
        """The last value of each metric the log reports, as FinalMetricDataList holds them."""
        final: dict[str, float] = {}
        for match in self.metric_pattern.finditer(log_text):
            value = float(match.group("value"))
            if not math.isnan(value):
                final[f"{match.group('channel')}:{match.group('metric')}"] = value
        return [{"MetricName": name, "Value": value} for name, value in final.items()]


# xgboost's evaluation log: `[3]\ttrain-rmse:1.2\tvalidation-rmse:1.4`, one line a round.
_XGBOOST_METRIC = re.compile(
    r"(?<=\t)(?P<channel>train|validation)-(?P<metric>[^\t:]+):(?P<value>[-+0-9.eE]+|nan|inf)"
)
# The Linear Learner's: `#quality_metric: host=algo-1, test mse <loss>=0.5`.
_LINEAR_LEARNER_METRIC = re.compile(
    r"#quality_metric: host=\S+, (?P<channel>train|validation|test) (?P<metric>\w+) "
    r"<\w+>=(?P<value>[-+0-9.eE]+|nan|inf)"
)


def _xgboost_model_format(tag: str) -> str:
    """Before 1.3 the container pickled the booster; from 1.3 on it uses save_model."""
    version = re.match(r"^(\d+)\.(\d+)", tag or "")
    if version is None:  # `latest`, `1` (the 0.72 image): pickled
        return "pickle"
    return "pickle" if (int(version.group(1)), int(version.group(2))) < (1, 3) else "xgboost"


def identify(image: str | None) -> Algorithm | None:
    """The algorithm a training image is, None when it is not a built-in algorithm's.

    Raises JobFailed naming the image when it is a built-in algorithm without a stand-in.
    """
    match = _IMAGE.match(image or "")
    if match is None or match.group(1) not in BUILTIN_REPOSITORIES:
        return None
    repository, tag = match.group(1), match.group(2) or ""
    if repository in ("sagemaker-xgboost", "xgboost"):
        return Algorithm(
            "xgboost", "xgboost_algorithm.py", _XGBOOST_METRIC, (_xgboost_model_format(tag),)
        )
    if repository == "linear-learner":
        return Algorithm("linear-learner", "linear_learner_algorithm.py", _LINEAR_LEARNER_METRIC)
    raise jobs.JobFailed(
        f"training image {image} is the built-in algorithm {repository!r}, which the sandbox "
        "does not run (it runs xgboost and linear-learner, and script mode)"
    )


def _write_config(job: jobs.Job) -> None:
    """What SageMaker writes to /opt/ml/input/config for a container."""
    request = job.request
    config = job.host_path("/opt/ml/input/config")
    config.mkdir(parents=True, exist_ok=True)
    hyperparameters = {k: str(v) for k, v in request.get("HyperParameters", {}).items()}
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    channels = {
        c["ChannelName"]: {
            "TrainingInputMode": c.get("InputMode", "File"),
            **{k: c[k] for k in ("ContentType", "CompressionType", "RecordWrapperType") if k in c},
        }
        for c in request.get("InputDataConfig", [])
    }
    (config / "inputdataconfig.json").write_text(json.dumps(channels))
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]})
    )


def run_builtin_training(job: jobs.Job, algorithm: Algorithm) -> dict:
    """Run a CreateTrainingJob request for a built-in algorithm; returns DescribeTrainingJob-
    shaped properties, ModelArtifacts and FinalMetricDataList included."""
    jobs.download_channels(job)
    _write_config(job)
    ml_root = job.host_path("/opt/ml")
    for folder in ("model", "output/data"):
        (ml_root / folder).mkdir(parents=True, exist_ok=True)
    job.log_path.parent.mkdir(parents=True, exist_ok=True)
    with job.log_path.open("a") as log:
        log.write(
            f"sandbox: built-in algorithm {algorithm.name} runs as containers/{algorithm.script} "
            "(open-source equivalent) on this interpreter\n"
        )
    command = [
        sys.executable,
        str(CONTAINERS / algorithm.script),
        str(ml_root),
        *algorithm.arguments,
    ]
    env = {
        **job.base_environment,
        **{k: job.rewrite(str(v)) for k, v in job.request.get("Environment", {}).items()},
    }
    job.stats = jobs.run_logged(
        command, env, job.folder, job.log_path, root=job.folder, cancellation=job.cancellation
    )
    return jobs.completed_training(job, algorithm.metrics(job.log_path.read_text()))
