"""safe_extract: a model archive that tries to write outside its folder is refused, whole.

The same cases run against the Evaluate step's own copy (tests/modelbuild/steps/test_evaluate.py),
and, with `tarfile.data_filter` removed, against the path taken on Python 3.11.0-3.11.3.
"""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import pytest

from sandbox.safe_tar import safe_extract

SECRET = b"outside, must not change"

# Each case: (member name, type, link target or None). `{out}` is the folder beside the
# target that nothing may touch; it holds a file `secret`.
MALICIOUS = {
    "absolute path": [("{out}/evil", tarfile.REGTYPE, None)],
    "dot-dot traversal": [("../out/evil", tarfile.REGTYPE, None)],
    "dot-dot inside a path": [("code/../../out/evil", tarfile.REGTYPE, None)],
    "symlink escaping": [("link", tarfile.SYMTYPE, "../out"), ("link/evil", tarfile.REGTYPE, None)],
    "absolute symlink": [("link", tarfile.SYMTYPE, "{out}"), ("link/evil", tarfile.REGTYPE, None)],
    "symlink chain": [  # each link looks inside on its own; together they reach the parent
        ("a", tarfile.SYMTYPE, "b/code/../.."),
        ("b", tarfile.SYMTYPE, "."),
        ("a/out/evil", tarfile.REGTYPE, None),
    ],
    "hardlink escaping": [("hard", tarfile.LNKTYPE, "../out/secret")],
    "absolute hardlink": [("hard", tarfile.LNKTYPE, "{out}/secret")],
    "fifo": [("pipe", tarfile.FIFOTYPE, None)],
    "character device": [("null", tarfile.CHRTYPE, None)],
}


def make_archive(path: Path, members, out: Path) -> Path:
    """A model.tar.gz holding model.joblib and code/ first (so a partial extraction would
    show), then `members`."""
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, link in [
            ("model.joblib", tarfile.REGTYPE, None),
            ("code", tarfile.DIRTYPE, None),
            *members,
        ]:
            info = tarfile.TarInfo(name.format(out=out))
            info.type = kind
            if link is not None:
                info.linkname = link.format(out=out)
            data = b"payload" if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def assert_refused(extract, tmp_path: Path, case: str) -> None:
    """`extract(archive, target)` refuses the case, naming the archive and the member, and
    writes nothing: neither outside the target nor in it."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "secret").write_bytes(SECRET)
    archive = make_archive(tmp_path / "model.tar.gz", MALICIOUS[case], out)
    target = tmp_path / "target"
    target.mkdir()
    bad = MALICIOUS[case][0][0].format(out=out)
    with pytest.raises(
        ValueError, match=re.escape(f"{archive}: refusing member {bad!r}: it ")
    ) as err:
        extract(archive, target)
    assert type(err.value).__name__ == "UnsafeArchiveError"
    assert sorted(p.name for p in out.iterdir()) == ["secret"]
    assert (out / "secret").read_bytes() == SECRET
    assert list(target.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tar.gz", "out", "target"]


def assert_normal_archive_extracts(extract, tmp_path: Path) -> None:
    """Files, folders and links that stay inside extract as before."""
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, kind, link, data in [
            ("./model.joblib", tarfile.REGTYPE, None, b"model"),
            ("code", tarfile.DIRTYPE, None, b""),
            ("code/inference.py", tarfile.REGTYPE, None, b"print('hi')\n"),
            ("code/latest", tarfile.SYMTYPE, "../model.joblib", b""),
            ("copy.joblib", tarfile.LNKTYPE, "./model.joblib", b""),
        ]:
            info = tarfile.TarInfo(name)
            info.type, info.size, info.mode = kind, len(data), 0o644
            if link:
                info.linkname = link
            tar.addfile(info, io.BytesIO(data))
    target = tmp_path / "target"
    extract(archive, target)
    assert (target / "model.joblib").read_bytes() == b"model"
    assert (target / "code" / "inference.py").read_text() == "print('hi')\n"
    assert (target / "code" / "latest").read_bytes() == b"model"
    assert (target / "copy.joblib").read_bytes() == b"model"


@pytest.mark.parametrize("case", list(MALICIOUS))
def test_malicious_archive_is_refused_and_nothing_is_written(case, interpreter, tmp_path):
    assert_refused(safe_extract, tmp_path, case)


def test_normal_archive_extracts(interpreter, tmp_path):
    assert_normal_archive_extracts(safe_extract, tmp_path)
