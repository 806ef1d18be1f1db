"""Extract a tar archive without letting any member land outside the target folder.

`tarfile`'s own `filter="data"` exists only from Python 3.11.4 (Debian 12's python3 is
3.11.2), and it strips a leading "/" where this refuses. So every member is checked here,
on any version: no absolute path, no ".." out of the target, no link pointing out of it, no
member reached through a link (so these checks, made on names, hold on disk too), nothing
but files, folders and links. The filter is still applied where the interpreter has it.
The Evaluate step script carries a copy of this check: it runs alone in its container.
"""

from __future__ import annotations

import posixpath
import tarfile
from pathlib import Path


class UnsafeArchiveError(ValueError):
    """A member of the archive would be written outside the target, or is not a plain file."""


def check_members(archive: str | Path, members: list[tarfile.TarInfo]) -> None:
    """Raise UnsafeArchiveError naming the archive and the first member that is unsafe."""
    links = {posixpath.normpath(m.name) for m in members if m.issym()}

    def unsafe(path: str) -> str | None:  # why `path` (archive-relative) is unsafe, or None
        if path.startswith("/"):
            return "is absolute"
        parts: list[str] = []
        for part in path.split("/"):
            if part in ("", "."):
                continue
            if parts and "/".join(parts) in links:
                return f"passes through the symlink {'/'.join(parts)!r}"
            if part != "..":
                parts.append(part)
            elif parts:
                parts.pop()
            else:
                return "escapes the target"
        return None

    for member in members:
        why = unsafe(member.name)
        if why is None and member.issym():
            why = unsafe(posixpath.join(posixpath.dirname(member.name), member.linkname))
            why = why and f"links to {member.linkname!r}, which {why}"
        elif why is None and member.islnk():
            why = unsafe(member.linkname)
            why = why and f"hard-links to {member.linkname!r}, which {why}"
        elif why is None and not (member.isfile() or member.isdir()):
            why = "is a device or fifo, not a file, folder or link"
        if why:
            raise UnsafeArchiveError(f"{archive}: refusing member {member.name!r}: it {why}")


def safe_extract(archive: str | Path, target: str | Path) -> None:
    """Extract `archive` into `target` after checking every member (see the module doc)."""
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        check_members(archive, members)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, members=members, filter="data")
        else:  # 3.11.0-3.11.3: also drop setuid bits and others' write, as the filter would
            for member in members:
                member.mode = (member.mode & 0o755) | (0o700 if member.isdir() else 0o600)
            tar.extractall(target, members=members)
