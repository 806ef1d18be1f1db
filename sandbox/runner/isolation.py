"""A job's own /opt/ml: `isolate(job_folder)` makes `/opt/ml` in this process (and every
process it starts) be `<job folder>/opt/ml`, never the host's.

Why: scripts written for SageMaker's containers (AWS's own examples among them) open
`/opt/ml/processing/...` and `/opt/ml/model` by name. jobs.py rewrites those paths where it
sees them (entrypoint, arguments, environment), but not inside a script: there the job
would read and write the host's /opt/ml, and jobs running side by side each other's.

How: a private mount namespace for the job's process (with a user namespace of its own when
not root, so no privilege is needed; the user and group map to themselves, so files keep
their owner and the job sees its own ids). In it, the job folder's opt/ml is bind-mounted
on /opt/ml when the host has one; when it has none (only root can create it), a tmpfs
goes over /opt holding the host's /opt entries (each bind-mounted from the original) plus
`ml`, the job folder's. Nothing changes outside the job's process tree.

Call it in the job's process before the job runs, while the process has one thread (a
fork child, or a small launcher before it spawns the command). Standard library only: the
warm server and the launcher load this file on its own, without the project's package.
"""

import ctypes
import os
import sys

CONTAINER_ML = "/opt/ml"
# Set to "off" in a job's environment, the job runs without isolation, as where namespaces
# are unavailable (jobs.py then fails it if the host's /opt/ml changes while it runs).
SWITCH = "SANDBOX_JOB_ISOLATION"

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18


class Unavailable(Exception):
    """Namespaces cannot be had here; nothing was changed, the process is as it was."""


class Failed(Exception):
    """The namespace was entered but /opt/ml could not be set up: the job must not run."""


def _libc():
    if not sys.platform.startswith("linux"):
        raise Unavailable(f"mount namespaces are Linux-only ({sys.platform})")
    try:
        return ctypes.CDLL(None, use_errno=True)  # the interpreter links libc
    except OSError as err:
        raise Unavailable(f"cannot load libc: {err}") from None


def _call(function, *arguments) -> None:
    if function(*arguments) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _mount(libc, source, target: str, fstype, flags: int, data=None) -> None:
    def encode(value):
        return None if value is None else os.fsencode(value)

    try:
        _call(
            libc.mount,
            encode(source),
            encode(target),
            encode(fstype),
            ctypes.c_ulong(flags),
            encode(data),
        )
    except OSError as err:
        action = "bind-mount" if flags & MS_BIND else f"mount {fstype or ''}".rstrip()
        raise Failed(f"cannot {action} {source} on {target}: {err.strerror}") from None


def _write(path: str, text: str) -> None:
    with open(path, "w") as file:
        file.write(text)


def _enter_namespace(libc) -> None:
    """Unshare the mount namespace (and the user namespace unless root can do without)."""
    uid, gid = os.geteuid(), os.getegid()
    # Root needs no user namespace, unless it lacks CAP_SYS_ADMIN (as in a container).
    attempts = (
        [CLONE_NEWNS, CLONE_NEWNS | CLONE_NEWUSER] if uid == 0 else [CLONE_NEWNS | CLONE_NEWUSER]
    )
    reasons = []
    for flags in attempts:
        if libc.unshare(ctypes.c_int(flags)) == 0:
            break
        # A failed unshare changes nothing: the process is still in the host's namespaces.
        kind = "user and mount" if flags & CLONE_NEWUSER else "mount"
        reasons.append(f"unshare({kind} namespace): {os.strerror(ctypes.get_errno())}")
    else:
        raise Unavailable("; ".join(reasons))
    if flags & CLONE_NEWUSER:
        # Map our own ids to themselves (an unprivileged process may map only those, and
        # only after giving up setgroups).
        try:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
        except OSError as err:
            raise Failed(f"cannot map ids in the job's user namespace: {err}") from None


def _bind_host_opt_with(libc, source: str) -> None:
    """/opt as a tmpfs holding the host's /opt entries and `ml` (bound to `source`)."""
    opt = os.path.dirname(CONTAINER_ML)
    original = os.open(opt, os.O_RDONLY | os.O_DIRECTORY)
    try:
        entries = os.listdir(original)
        _mount(libc, "tmpfs", opt, "tmpfs", 0, "mode=755")
        for name in entries:
            below = f"/proc/self/fd/{original}/{name}"
            target = os.path.join(opt, name)
            if os.path.islink(below):
                os.symlink(os.readlink(below), target)
                continue
            if os.path.isdir(below):
                os.mkdir(target)
            else:
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o644))
            _mount(libc, below, target, None, MS_BIND | MS_REC)
        os.mkdir(CONTAINER_ML)
        _mount(libc, source, CONTAINER_ML, None, MS_BIND | MS_REC)
        # As on the host, where /opt is root's: the job cannot add entries next to ml.
        _mount(libc, None, opt, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    finally:
        os.close(original)


def isolate(job_folder: str) -> None:
    """Make /opt/ml be `<job_folder>/opt/ml` for this process and its children.

    Raises Unavailable when this machine offers no namespaces (nothing changed: the job
    would see the host's /opt/ml), Failed when it entered one but could not finish (the
    job must not run: its /opt may be half set up).
    """
    if os.environ.get(SWITCH) == "off":
        raise Unavailable(f"turned off by {SWITCH}=off")
    source = os.path.join(os.path.abspath(job_folder), CONTAINER_ML.lstrip("/"))
    try:
        os.makedirs(source, exist_ok=True)
    except OSError as err:
        raise Failed(f"cannot create {source}: {err.strerror}") from None
    opt = os.path.dirname(CONTAINER_ML)
    if not os.path.isdir(opt):
        raise Unavailable(f"{opt} does not exist on this machine")
    libc = _libc()
    _enter_namespace(libc)
    try:
        _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)  # nothing reaches the host
        if os.path.isdir(CONTAINER_ML):
            _mount(libc, source, CONTAINER_ML, None, MS_BIND | MS_REC)
        else:
            _bind_host_opt_with(libc, source)
    except OSError as err:
        raise Failed(f"cannot set up the job's {CONTAINER_ML}: {err}") from None
