"""Hyperparameter tuning jobs (a pipeline's Tuning step), searched locally.

The request's ParameterRanges are sampled (Integer and Continuous on their Linear or
Logarithmic scale, Categorical uniformly; Grid: every combination of categorical values)
into at most ResourceLimits.MaxNumberOfTrainingJobs training jobs, MaxParallelTrainingJobs
at a time (and no more than the machine's cores). Each is an ordinary training job through
jobs.run_training (script mode or a built-in algorithm), named as SageMaker names them
(`<tuning job>-<NNN>-<8 hex>`), so its model lands at
`<S3OutputPath>/<training job name>/output/model.tar.gz`, where SDK v3's
`TuningStep.get_top_model_s3_uri` points. The objective is read from each job's final
metrics (MetricDefinitions for a script, the algorithm's own names for a built-in one).

Differences from SageMaker, on purpose: Bayesian and Hyperband search sample at random too
(no model of earlier results, no early stopping); RandomSeed makes the samples repeatable.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sandbox.runner import algorithms, jobs

MAX_SUMMARIES = 50  # the TrainingJobSummaries a tuning step's properties hold
# What HyperParameterTrainingJobDefinition holds that CreateTrainingJob takes as it is.
_TRAINING_FIELDS = (
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "VpcConfig",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "RetryStrategy",
    "Environment",
)


class TuningError(jobs.JobFailed):
    """A tuning request the sandbox cannot search; the message names the field."""


def _number(value, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TuningError(f"ParameterRanges {name!r}: {value!r} is not a number") from None


def _sample_integer(spec: dict, rng: random.Random) -> str:
    low = int(_number(spec["MinValue"], spec["Name"]))
    high = int(_number(spec["MaxValue"], spec["Name"]))
    if spec.get("ScalingType") == "Logarithmic":
        value = round(math.exp(rng.uniform(math.log(low), math.log(high))))
        return str(min(max(value, low), high))
    return str(rng.randint(low, high))


def _sample_continuous(spec: dict, rng: random.Random) -> str:
    low = _number(spec["MinValue"], spec["Name"])
    high = _number(spec["MaxValue"], spec["Name"])
    scaling = spec.get("ScalingType", "Auto")
    if scaling == "Logarithmic":
        return repr(math.exp(rng.uniform(math.log(low), math.log(high))))
    if scaling == "ReverseLogarithmic":
        return repr(1 - math.exp(rng.uniform(math.log(1 - high), math.log(1 - low))))
    return repr(rng.uniform(low, high))


def _check_ranges(ranges: dict) -> None:
    for spec in ranges.get("IntegerParameterRanges", []) + ranges.get(
        "ContinuousParameterRanges", []
    ):
        low = _number(spec["MinValue"], spec["Name"])
        high = _number(spec["MaxValue"], spec["Name"])
        if low > high:
            raise TuningError(f"ParameterRanges {spec['Name']!r}: MinValue above MaxValue")
        if spec.get("ScalingType") == "Logarithmic" and low <= 0:
            raise TuningError(
                f"ParameterRanges {spec['Name']!r}: Logarithmic scaling needs MinValue > 0"
            )
        if spec.get("ScalingType") == "ReverseLogarithmic" and not 0 <= low < high < 1:
            raise TuningError(
                f"ParameterRanges {spec['Name']!r}: ReverseLogarithmic needs 0 <= values < 1"
            )


def _space_size(ranges: dict) -> float:
    """How many distinct combinations there are (infinite with a continuous range)."""
    if ranges.get("ContinuousParameterRanges"):
        return math.inf
    size = 1
    for spec in ranges.get("IntegerParameterRanges", []):
        size *= (
            int(_number(spec["MaxValue"], spec["Name"]))
            - int(_number(spec["MinValue"], spec["Name"]))
            + 1
        )
    for spec in ranges.get("CategoricalParameterRanges", []):
        size *= len(spec["Values"])
    return size


def candidates(config: dict, seed: int | None = None) -> list[dict[str, str]]:
    """The hyperparameter sets to train with, as strings (TunedHyperParameters)."""
    ranges = config.get("ParameterRanges") or {}
    _check_ranges(ranges)
    strategy = config.get("Strategy", "Bayesian")
    limit = config.get("ResourceLimits", {}).get("MaxNumberOfTrainingJobs")
    if strategy == "Grid":
        if ranges.get("IntegerParameterRanges") or ranges.get("ContinuousParameterRanges"):
            raise TuningError("Strategy Grid takes CategoricalParameterRanges only")
        categorical = ranges.get("CategoricalParameterRanges", [])
        names = [spec["Name"] for spec in categorical]
        grid = [
            dict(zip(names, map(str, values), strict=True))
            for values in itertools.product(*(spec["Values"] for spec in categorical))
        ]
        return grid[: int(limit)] if limit else grid
    if strategy not in ("Random", "Bayesian", "Hyperband"):
        raise TuningError(f"Strategy {strategy!r} is not one of Random, Bayesian, Hyperband, Grid")
    wanted = int(limit or 1)
    # A finite space smaller than the budget is searched once per combination.
    wanted = int(min(wanted, _space_size(ranges)))
    rng = random.Random(seed)
    chosen: list[dict[str, str]] = []
    attempts = 0
    while len(chosen) < wanted and attempts < wanted * 100:
        attempts += 1
        sample = {
            **{
                s["Name"]: _sample_integer(s, rng) for s in ranges.get("IntegerParameterRanges", [])
            },
            **{
                s["Name"]: _sample_continuous(s, rng)
                for s in ranges.get("ContinuousParameterRanges", [])
            },
            **{
                s["Name"]: str(rng.choice(s["Values"]))
                for s in ranges.get("CategoricalParameterRanges", [])
            },
        }
        if sample not in chosen:
            chosen.append(sample)
    return chosen


def _trial_request(definition: dict, tuned: dict[str, str], objective: str) -> dict:
    request = {k: definition[k] for k in _TRAINING_FIELDS if k in definition}
    hyperparameters = {k: str(v) for k, v in definition.get("StaticHyperParameters", {}).items()}
    hyperparameters.update(tuned)
    image = definition.get("AlgorithmSpecification", {}).get("TrainingImage")
    if algorithms.identify(image) is not None and "sagemaker_program" not in hyperparameters:
        # SageMaker tells a built-in algorithm which metric it tunes for.
        hyperparameters["_tuning_objective_metric"] = objective
    request["HyperParameters"] = hyperparameters
    return request


def _trial_job(job: jobs.Job, name: str, request: dict) -> jobs.Job:
    return jobs.Job(
        name=name,
        arn=f"{job.arn.rsplit(':', 1)[0]}:training-job/{name.lower()}",
        request=request,
        folder=job.folder / name,
        log_path=job.log_path.with_name(f"{job.log_path.stem}.{name}.log"),
        s3=job.s3,
        base_environment=job.base_environment,
        listings=job.listings,
        cancellation=job.cancellation,
    )


def _summary(
    trial: jobs.Job, tuned: dict, objective: dict, properties: dict | None, error: str | None
) -> dict:
    summary = {
        "TrainingJobName": trial.name,
        "TrainingJobArn": trial.arn,
        "TunedHyperParameters": tuned,
        "TrainingJobStatus": "Completed" if properties else "Failed",
        "ObjectiveStatus": "Failed",
    }
    if error:
        summary["FailureReason"] = error
    metrics = {
        m["MetricName"]: m["Value"] for m in (properties or {}).get("FinalMetricDataList", [])
    }
    if objective["MetricName"] in metrics:
        summary["ObjectiveStatus"] = "Succeeded"
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": objective["Type"],
            "MetricName": objective["MetricName"],
            "Value": metrics[objective["MetricName"]],
        }
    elif properties:
        summary["FailureReason"] = (
            f"the objective metric {objective['MetricName']!r} was not emitted (metrics: "
            f"{', '.join(metrics) or 'none'})"
        )
    return summary


def run_tuning(job: jobs.Job, on_trial: Callable[[dict], None] | None = None) -> dict:
    """Run a CreateHyperParameterTuningJob request; returns DescribeHyperParameterTuningJob-
    shaped properties with TrainingJobSummaries (best first, as a Tuning step's properties
    hold them). `on_trial` gets each finished trial's DescribeTrainingJob-shaped properties.

    Raises JobFailed when the request cannot be searched, or when no trial succeeded.
    """
    request = job.request
    if "TrainingJobDefinition" not in request:
        raise TuningError(
            "only a TrainingJobDefinition (one algorithm) is tuned locally"
            + (", not TrainingJobDefinitions" if "TrainingJobDefinitions" in request else "")
        )
    config = request["HyperParameterTuningJobConfig"]
    objective = config["HyperParameterTuningJobObjective"]
    if objective.get("Type") not in ("Minimize", "Maximize"):
        raise TuningError(f"HyperParameterTuningJobObjective.Type {objective.get('Type')!r}")
    seed = config.get("RandomSeed")
    trials = candidates(config, int(seed) if seed is not None else None)
    if not trials:
        raise TuningError("ParameterRanges give no training job to run")
    definition = request["TrainingJobDefinition"]
    prefix = job.name[:50]
    planned = [
        (
            _trial_job(
                job,
                f"{prefix}-{i:03d}-{secrets.token_hex(4)}",
                _trial_request(definition, tuned, objective["MetricName"]),
            ),
            tuned,
        )
        for i, tuned in enumerate(trials, start=1)
    ]
    job.log_path.parent.mkdir(parents=True, exist_ok=True)
    with job.log_path.open("a") as log:
        log.write(
            f"sandbox: tuning {objective['Type']} {objective['MetricName']} over "
            f"{len(planned)} training jobs ({config.get('Strategy', 'Bayesian')} strategy "
            "searched by sampling); each job's log is next to this one\n"
        )
        ignored = [
            name
            for name, present in (
                ("WarmStartConfig", "WarmStartConfig" in request),
                (
                    "TrainingJobEarlyStoppingType Auto",
                    config.get("TrainingJobEarlyStoppingType") == "Auto",
                ),
                ("TuningJobCompletionCriteria", "TuningJobCompletionCriteria" in config),
            )
            if present
        ]
        if ignored:
            log.write(f"sandbox: not applied locally: {', '.join(ignored)}\n")

    def run(item: tuple[jobs.Job, dict]) -> dict:
        trial, tuned = item
        try:
            properties = jobs.run_training(trial)
        except jobs.JobFailed as err:
            return _summary(trial, tuned, objective, None, str(err))
        if on_trial:
            on_trial(properties)
        return _summary(trial, tuned, objective, properties, None)

    limit = config.get("ResourceLimits", {}).get("MaxParallelTrainingJobs") or 1
    workers = max(1, min(int(limit), os.cpu_count() or 1, len(planned)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox-tuning") as pool:
        summaries = list(pool.map(run, planned))

    scored = [s for s in summaries if s["ObjectiveStatus"] == "Succeeded"]
    with job.log_path.open("a") as log:
        for s in summaries:
            value = s.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
            reason = s.get("FailureReason", "")
            log.write(f"{s['TrainingJobName']}: {s['TunedHyperParameters']} -> {value} {reason}\n")
    if not scored:
        raise jobs.JobFailed(
            f"no training job of {len(summaries)} reported {objective['MetricName']}: "
            f"{summaries[0].get('FailureReason', 'no reason given')}"
        )
    reverse = objective["Type"] == "Maximize"
    ranked = sorted(
        scored,
        key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
        reverse=reverse,
    )
    completed = sum(s["TrainingJobStatus"] == "Completed" for s in summaries)
    return {
        **request,
        "HyperParameterTuningJobName": job.name,
        "HyperParameterTuningJobArn": job.arn,
        "HyperParameterTuningJobStatus": "Completed",
        "TrainingJobStatusCounters": {
            "Completed": completed,
            "InProgress": 0,
            "RetryableError": 0,
            "NonRetryableError": len(summaries) - completed,
            "Stopped": 0,
        },
        "ObjectiveStatusCounters": {
            "Succeeded": len(scored),
            "Pending": 0,
            "Failed": len(summaries) - len(scored),
        },
        "BestTrainingJob": ranked[0],
        "TrainingJobSummaries": (ranked + [s for s in summaries if s not in scored])[
            :MAX_SUMMARIES
        ],
    }
