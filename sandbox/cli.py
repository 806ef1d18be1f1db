"""`python -m sandbox`: manage a long-lived sandbox.

python -m sandbox up          # start one in the background (or report the running one)
eval "$(python -m sandbox env)"  # point this shell's AWS CLI / boto3 at it
python -m sandbox exec -- run-pipeline ...  # any command against it (starts one if none runs)
python -m sandbox seed-data   # generated sample data where the pipeline reads by default
python -m sandbox fire-schedule NAME [--group G]  # an EventBridge Scheduler schedule, now
python -m sandbox run-monitoring ENDPOINT_OR_SCHEDULE  # a Model Monitor schedule's job, now
python -m sandbox endpoint-deployments NAME  # an endpoint's blue/green updates, stage by stage
python -m sandbox status
python -m sandbox down        # stop the one `up` started
python -m sandbox demo [SCENARIO] [--interactive]  # the lifecycle
python -m sandbox demo --iac terraform  # the happy lifecycle, build side from terraform/
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from sandbox import commands, daemon
from sandbox.constants import PROJECT_VARIABLES, sandbox_home
from sandbox.demo import SCENARIOS


def _print_running(running: daemon.RunningSandbox, verb: str) -> None:
    print(f"sandbox {verb} at {running.endpoint_url} (pid {running.pid}, state in {running.home})")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--home", type=Path, help="state folder (default: $SANDBOX_HOME or ./.sandbox)"
    )
    verbs = parser.add_subparsers(dest="command", required=True)
    up = verbs.add_parser("up", help="start a sandbox in the background")
    up.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    verbs.add_parser("down", help="stop the sandbox that `up` started")
    verbs.add_parser("status", help="say whether a sandbox is running (exit 1 if not)")
    verbs.add_parser("env", help="print export lines for the running sandbox")
    run = verbs.add_parser(
        "exec", help="run a command against the sandbox (the running one, else one of its own)"
    )
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")
    seed = verbs.add_parser("seed-data", help="generate sample data and upload it (no overwrite)")
    seed.add_argument(
        "--uri",
        help="where to put it (default: where the pipeline reads with the buildspec's "
        "--kwargs: s3://$ARTIFACT_BUCKET/$SAGEMAKER_PROJECT_NAME_ID/data/churn.csv)",
    )
    seed.add_argument(
        "--generator",
        default="pipelines.churn.generate_data",
        help="module run as `python -m MODULE --rows N --output FILE`",
    )
    seed.add_argument("--rows", type=int, default=10_000)
    fire = verbs.add_parser(
        "fire-schedule", help="deliver an EventBridge Scheduler schedule's target now"
    )
    fire.add_argument("name", help="the schedule's name")
    fire.add_argument("--group", default="default", help="its schedule group (default: default)")
    shifts = verbs.add_parser(
        "endpoint-deployments",
        help="an endpoint's blue/green updates: each traffic shift, what each fleet served",
    )
    shifts.add_argument("name", help="the endpoint's name (e.g. churn-prod)")
    monitor = verbs.add_parser(
        "run-monitoring", help="run a Model Monitor schedule's job now on the captured data"
    )
    monitor.add_argument("name", help="the monitoring schedule, or its endpoint")
    serve = verbs.add_parser("serve", help="run a sandbox in the foreground")
    serve.add_argument("--port", type=int, default=0)
    demo = verbs.add_parser("demo", help="the whole CI/CD lifecycle, with a report")
    demo.add_argument("scenario", nargs="?", default="happy", choices=SCENARIOS)
    demo.add_argument(
        "--interactive", action="store_true", help="ask at the manual approval (needs a terminal)"
    )
    demo.add_argument("--rows", type=int, default=10_000, help="generated customers")
    demo.add_argument(
        "--iac",
        choices=("cloudformation", "terraform"),
        default="cloudformation",
        help="what provisions the build side: terraform applies terraform/environments/dev "
        "(happy scenario; skipped when terraform or its provider mirror is missing)",
    )
    demo.add_argument(
        "--codebuild-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a CodeBuild variable, as start-build's environment override does "
        "(e.g. LATENCY_BUDGET_MS=2000 on a busy machine)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    home = (args.home or sandbox_home()).resolve()

    if args.command == "demo":
        from sandbox.demo.run import run_demo

        overrides = dict(item.partition("=")[::2] for item in args.codebuild_env)
        return run_demo(
            args.scenario,
            args.interactive,
            home,
            args.rows,
            codebuild_overrides=overrides,
            iac=args.iac,
        )
    if args.command == "exec":
        return commands.exec_command(home, args.argv[1:] if args.argv[:1] == ["--"] else args.argv)
    if args.command == "seed-data":
        return commands.seed_data(home, args.uri, args.generator, args.rows)
    if args.command == "fire-schedule":
        return commands.fire_schedule(home, args.name, args.group)
    if args.command == "endpoint-deployments":
        return commands.endpoint_deployments(home, args.name)
    if args.command == "run-monitoring":
        return commands.run_monitoring(home, args.name)
    if args.command == "serve":
        return daemon.serve(home, args.port)
    if args.command == "up":
        running = daemon.find_running(home)
        if running:
            _print_running(running, "already running")
            return 0
        try:
            _print_running(daemon.start_background(home, args.port), "running")
        except RuntimeError as err:
            print(f"sandbox: {err}", file=sys.stderr)
            return 1
        return 0
    if args.command == "down":
        stopped = daemon.stop_background(home)
        print(f"sandbox stopped (pid {stopped.pid})" if stopped else "no sandbox running")
        return 0
    running = daemon.find_running(home)
    if args.command == "status":
        if running:
            _print_running(running, "running")
            return 0
        print("no sandbox running")
        return 1
    if running is None:  # env
        print("sandbox: no sandbox running; start one with `python -m sandbox up`", file=sys.stderr)
        return 1
    print("# boto3 and the AWS CLI: the sandbox's endpoint, fake credentials, its region")
    for name, value in running.environment.items():
        print(f"export {name}={shlex.quote(value)}")
    print("# what a SageMaker Project's CodeBuild sets (kept where already set)")
    for name, value in PROJECT_VARIABLES.items():
        print(f"export {name}=${{{name}:-{shlex.quote(value)}}}")
    return 0
