"""Start a job's command and report its peak resident memory: `launcher.py FD ROOT COMMAND...`.

Run as a script with `python -I -S` (standard library only, nothing imported from the
project but isolation.py next to this file: under -I, sys.path does not hold this folder,
so it is added here, which the command, a process of its own, does not see). Why a process
between the runner and the job: Linux's peak RSS of a process (`ru_maxrss`) includes the
memory of the process it was spawned from, recorded when it execs. Spawned straight from
the runner, every job would report at least the runner's own size (hundreds of MiB with
moto and SDK v3 loaded); spawned from this small process, it reports its own. When ROOT
(the job folder) is not empty, the command runs isolated: /opt/ml is ROOT/opt/ml for it and
its children (isolation.py). The report, written to file descriptor FD, is three lines:
the peak in bytes; what setting up the isolation cost (ms; empty when none was set up);
why isolation is off (empty when it is on or was not asked for). No json here: with re, its
import would cost more than the rest of this process. The exit code is the command's
(128 + N when signal N ended it).
"""

import os
import sys
import time


class CannotIsolate(Exception):
    """Isolation was set up halfway: the job must not run."""


def _isolate(root: str) -> tuple[str, str]:
    """The job's own /opt/ml: (milliseconds it took, why it is off), as reported."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import isolation  # here: only a job with a folder needs it (and ctypes)

    started = time.perf_counter()
    try:
        isolation.isolate(root)
    except isolation.Unavailable as err:
        return "", " ".join(str(err).split())
    except isolation.Failed as err:
        raise CannotIsolate(f"sandbox: cannot isolate the job's /opt/ml: {err}") from None
    return f"{(time.perf_counter() - started) * 1000:.3f}", ""


def _report(fd: int, peak_rss_bytes: int, isolation: tuple[str, str] = ("", "")) -> None:
    os.write(fd, "\n".join([str(peak_rss_bytes), *isolation]).encode())


def main() -> int:
    report_fd, root, command = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    try:
        isolation = _isolate(root) if root else ("", "")
    except CannotIsolate as err:
        print(err, file=sys.stderr)
        _report(report_fd, 0)
        return 1
    try:
        pid = os.posix_spawnp(command[0], command, os.environ)
    except OSError as err:
        print(f"cannot start {command[0]!r}: {err.strerror}", file=sys.stderr)
        _report(report_fd, 0, isolation)
        return 127
    _, status, usage = os.wait4(pid, 0)
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    _report(report_fd, usage.ru_maxrss * scale, isolation)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
