"""A warm interpreter for Python jobs: `python warm_server.py LISTEN_FD`.

Why: a job script in a fresh interpreter spends seconds importing pandas and scikit-learn
before its first line of work (2-4 s a step on a 2-core laptop, more than the work itself
on sample data). This process imports the image's libraries once; each job is a fork of
it, so it starts with them loaded. A job is still a process of its own, with its own
arguments, environment, working directory, stdout and stderr, as `python script.py` would
have; the client (`warm.py`) decides which jobs may run here.

Protocol, one connection a job on the inherited listening Unix socket: the client sends one
byte with two file descriptors attached (the job's stdout and stderr), then the request as
JSON (`argv`, `env`, `cwd`, `root`), then shuts down its side. The forked job, the leader of a
process group of its own, first sends its pid and a newline, then answers on the same
connection, as it ends, with JSON `{"exit_code", "peak_rss_bytes", "isolation_off",
"isolation_ms"}`; a job killed by a signal closes it without an answer. A `root` (the job
folder, or null) runs the job isolated: /opt/ml is `root`/opt/ml (isolation.py, set up in
the forked child, since each job has its own). The server exits when its stdin (a
pipe from the client's process) closes, so it never outlives the sandbox.

Standard library only, besides the preloads: nothing from the project is imported here but
isolation.py next to this file (standard library only too), loaded by its path.
"""

import atexit
import contextlib
import importlib
import importlib.util
import json
import os
import resource
import runpy
import selectors
import signal
import socket
import sys
import time
import traceback


def _load_sibling(name: str):
    """A module next to this file, under a private name: not `import name`, which would
    leave it in sys.modules where a job's own module of that name would find it."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_sandbox_warm_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


isolation = _load_sibling("isolation")

# The SageMaker scikit-learn image's libraries, as the churn steps import them.
PRELOAD = (
    "numpy",
    "pandas",
    "joblib",
    "sklearn.model_selection",
    "sklearn.ensemble",
    "sklearn.compose",
    "sklearn.impute",
    "sklearn.preprocessing",
    "sklearn.pipeline",
    "sklearn.metrics",
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
)


def _exit_code(code) -> int:
    """As the interpreter turns `sys.exit(code)` into a process exit code."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _answer(connection: socket.socket, code: int, report: dict) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak *= 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    report = {"exit_code": code, "peak_rss_bytes": peak, **report}
    connection.sendall(json.dumps(report).encode())
    os._exit(code)


def _isolate(root: str | None) -> dict:
    """The job's own /opt/ml (isolation.py) when it has a folder: what the answer reports.

    Raises isolation.Failed when the job must not run."""
    if not root:
        return {}
    started = time.perf_counter()
    try:
        isolation.isolate(root)
    except isolation.Unavailable as err:
        return {"isolation_off": str(err)}
    return {"isolation_ms": (time.perf_counter() - started) * 1000}


def _run_job(connection: socket.socket, fds: list[int], request: dict) -> None:
    """In the forked child: become the job, run it, answer, and exit (never returns)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the job may wait for its own children
    # A process group of its own, which a stop ends whole; its pid goes first on the wire.
    os.setpgid(0, 0)
    connection.sendall(f"{os.getpid()}\n".encode())
    atexit._clear()  # the server's exit handlers are not the job's (as multiprocessing does)
    stdout, stderr = fds
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    os.close(stdout)
    os.close(stderr)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    try:
        report = _isolate(request.get("root"))
    except isolation.Failed as err:
        print(f"sandbox: cannot isolate the job's /opt/ml: {err}", file=sys.stderr)
        _answer(connection, 1, {})
    script, *arguments = request["argv"]
    sys.argv = [script, *arguments]
    sys.path[0] = os.path.dirname(os.path.abspath(script))  # as `python script.py` sets it
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exit_:
        code = _exit_code(exit_.code)
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()  # the job's own exit handlers, as at interpreter exit
    _answer(connection, code, report)


def _receive(connection: socket.socket) -> tuple[list[int], dict]:
    _, fds, _, _ = socket.recv_fds(connection, 1, 2)
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    return fds, json.loads(b"".join(chunks))


def serve(listener: socket.socket) -> None:
    """Accept jobs until stdin closes; each one runs in a forked child."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished jobs
    events = selectors.DefaultSelector()
    events.register(listener, selectors.EVENT_READ)
    events.register(sys.stdin, selectors.EVENT_READ)
    while True:
        for key, _ in events.select():
            if key.fileobj is sys.stdin:
                return  # the client's process has gone
            connection, _ = listener.accept()
            with connection:
                fds, request = _receive(connection)
                sys.stdout.flush()
                sys.stderr.flush()
                if os.fork() == 0:
                    listener.close()
                    try:
                        _run_job(connection, fds, request)
                    except BaseException:  # a job that could not start must not serve on
                        traceback.print_exc()
                    with contextlib.suppress(BaseException):
                        _answer(connection, 1, {})
                    os._exit(1)
                for fd in fds:
                    os.close(fd)


def main() -> int:
    listener = socket.socket(fileno=int(sys.argv[1]))
    # A library missing from this environment is not an error: a job that needs it fails
    # on its own import, as it would in a fresh interpreter.
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    # Ctrl-C in the sandbox's terminal reaches this process group too: end quietly.
    with contextlib.suppress(KeyboardInterrupt):
        serve(listener)
    return 0


if __name__ == "__main__":
    sys.exit(main())
