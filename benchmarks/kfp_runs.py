"""The same three-step workload on Kubeflow Pipelines' docker-free local runner.

Each component runs one of *our* step scripts, unchanged, with the arguments the sandbox
gives it, in the process kfp starts for the task (`runpy` loads the script; its `main(argv)`
runs), on the same generated CSV. Artifacts are folders under kfp's local pipeline root.

`install_kfp_package=False`: kfp is installed already (the `bench` extra), and by default
each task would `pip install kfp` into the environment it runs in, the project's venv here.

No `from __future__ import annotations` here: kfp reads the components' annotations as
types, and postponed (string) annotations break that.
"""

import contextlib
import io
import logging
import os
import time
from pathlib import Path
from unittest import mock

from kfp import dsl, local
from kfp.dsl import Dataset, Input, Model, Output

from pipelines.churn.environment import load_environment
from sandbox.runner.executor import JOB_DEFAULTS

# Only checked by SubprocessRunner (the task runs on this interpreter), but naming it keeps
# kfp from warning that its default will change.
IMAGE = "python:3.11"
STEPS_DIR = Path(__file__).resolve().parents[1] / "modelbuild" / "pipelines" / "churn" / "steps"


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def preprocess(
    script: str,
    raw_dir: str,
    train: Output[Dataset],
    validation: Output[Dataset],
    test: Output[Dataset],
):
    import runpy

    argv = ["--input-dir", raw_dir, "--train-dir", train.path]
    argv += ["--validation-dir", validation.path, "--test-dir", test.path]
    if runpy.run_path(script)["main"](argv) != 0:
        raise RuntimeError("preprocess failed")


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train(
    script: str,
    hyperparameters: list,
    train: Input[Dataset],
    validation: Input[Dataset],
    model: Output[Model],
):
    import runpy

    argv = [*hyperparameters, "--train-dir", train.path, "--validation-dir", validation.path]
    if runpy.run_path(script)["main"]([*argv, "--model-dir", model.path]) != 0:
        raise RuntimeError("train failed")


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def evaluate(script: str, model: Input[Model], test: Input[Dataset], evaluation: Output[Dataset]):
    import runpy

    argv = ["--model-dir", model.path, "--test-dir", test.path, "--output-dir", evaluation.path]
    if runpy.run_path(script)["main"](argv) != 0:
        raise RuntimeError("evaluate failed")


@dsl.pipeline(name="churn-bench")
def churn(raw_dir: str, hyperparameters: list):
    split = preprocess(script=str(STEPS_DIR / "preprocess.py"), raw_dir=raw_dir)
    model = train(
        script=str(STEPS_DIR / "training" / "train.py"),
        hyperparameters=hyperparameters,
        train=split.outputs["train"],
        validation=split.outputs["validation"],
    )
    evaluate(
        script=str(STEPS_DIR / "evaluate.py"),
        model=model.outputs["model"],
        test=split.outputs["test"],
    )


def hyperparameter_arguments() -> list[str]:
    """The dev environment's hyperparameters as the sandbox passes them: `--name value`."""
    pairs = load_environment("dev").hyperparameters.items()
    return [item for name, value in pairs for item in (f"--{name}", str(value))]


class KfpWorkload:
    """kfp's SubprocessRunner (no venv) with a pipeline root of its own under `root`."""

    def __init__(self, root: Path):
        self.root = root
        local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
        # Each task's log lines: the sandbox keeps them in files, so quiet kfp's too.
        logging.getLogger("kfp").setLevel(logging.WARNING)

    def run(self, csv: Path) -> float:
        """Run the pipeline on the folder holding `csv`; returns its wall time in seconds.

        The tasks get the thread settings the sandbox gives its jobs: the comparison is
        of the runners, not of OpenMP configurations.
        """
        started = time.perf_counter()
        with (
            mock.patch.dict(os.environ, {**JOB_DEFAULTS, **os.environ}),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            churn(raw_dir=str(csv.parent), hyperparameters=hyperparameter_arguments())
        return time.perf_counter() - started
