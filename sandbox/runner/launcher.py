"""Start a job's command and report its peak resident memory: `launcher.py FD COMMAND...`.

Run as a script with `python -I -S` (standard library only, nothing imported from the
project). Why a process between the runner and the job: Linux's peak RSS of a process
(`ru_maxrss`) includes the memory of the process it was spawned from, recorded when it
execs. Spawned straight from the runner, every job would report at least the runner's own
size (hundreds of MiB with moto and SDK v3 loaded); spawned from this small process, it
reports its own. The peak (bytes) is written to file descriptor FD; the exit code is the
command's (128 + N when signal N ended it).
"""

import os
import sys


def main() -> int:
    report_fd, command = int(sys.argv[1]), sys.argv[2:]
    try:
        pid = os.posix_spawnp(command[0], command, os.environ)
    except OSError as err:
        print(f"cannot start {command[0]!r}: {err.strerror}", file=sys.stderr)
        return 127
    _, status, usage = os.wait4(pid, 0)
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    os.write(report_fd, str(usage.ru_maxrss * scale).encode())
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
