"""S3 transfers for local jobs, with SageMaker's S3Prefix semantics."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

TRANSFER_THREADS = 8
CHUNK_BYTES = 1 << 20
MULTIPART_BYTES = 64 << 20  # larger files go up in parts, as boto3's upload_file does


class S3Error(ValueError):
    """An S3 location that is malformed or holds nothing."""


def split_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise S3Error(f"not an s3:// URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def list_objects(s3, uri: str) -> list[dict]:
    """Every object whose key starts with the URI's key (S3Prefix), sorted by key."""
    bucket, prefix = split_uri(uri)
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects.extend(page.get("Contents", []))
    # S3Prefix "a/b" matches "a/b/c" and "a/b" itself, not "a/bc".
    return sorted(
        (
            o
            for o in objects
            if o["Key"] == prefix
            or o["Key"].startswith(prefix.rstrip("/") + "/")
            or prefix.endswith("/")
        ),
        key=lambda o: o["Key"],
    )


def _in_parallel(function, *iterables) -> None:
    """`map`, a few calls at a time: a job's inputs are often many small objects (SDK v3's
    training drivers are two dozen files), and each call is a round trip."""
    with ThreadPoolExecutor(max_workers=TRANSFER_THREADS) as pool:
        for _ in pool.map(function, *iterables):
            pass


def _targets(bucket: str, prefix: str, objects: list[dict], destination: Path) -> list[Path]:
    """Where each object goes below `destination`: its key's path below the prefix (an
    object that *is* the prefix keeps its file name).

    Raises S3Error naming the first key that would land outside `destination` (a `..`
    segment, or a path that normalises to somewhere else), before anything is written.
    """
    root = os.path.realpath(destination)
    targets = []
    for obj in objects:
        key = obj["Key"]
        relative = key[len(prefix) :].lstrip("/") or Path(key).name
        target = os.path.normpath(os.path.join(root, relative))
        if ".." in relative.split("/") or not target.startswith(root + os.sep):
            raise S3Error(
                f"refusing to download s3://{bucket}/{key}: its path below the input prefix "
                f"({relative!r}) leads outside the destination {destination}"
            )
        targets.append(Path(target))
    return targets


def download_prefix(s3, uri: str, destination: Path, objects: list[dict] | None = None) -> int:
    """Copy every object under `uri` (`objects`, when the caller has listed them already)
    into `destination`, keeping the path below the prefix (an object that *is* the prefix
    keeps its file name). Returns the file count.

    Raises S3Error when nothing is there, as SageMaker fails a job on an empty input, and
    when a key would be written outside `destination` (then nothing is written).
    """
    bucket, prefix = split_uri(uri)
    objects = list_objects(s3, uri) if objects is None else objects
    if not objects:
        raise S3Error(f"no object found at {uri}")
    targets = _targets(bucket, prefix, objects, destination)
    destination.mkdir(parents=True, exist_ok=True)

    def download(obj: dict, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        # One GET, streamed: download_file's transfer manager (a HEAD, a thread pool per
        # call) costs more than the object itself for the small files most inputs are.
        body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"]
        with target.open("wb") as out:
            shutil.copyfileobj(body, out, CHUNK_BYTES)

    _in_parallel(download, objects, targets)
    return len(objects)


def upload_directory(s3, source: Path, uri: str) -> list[str]:
    """Upload every file under `source` to `uri`/<relative path>; returns the keys."""
    bucket, prefix = split_uri(uri)
    paths = sorted(p for p in source.rglob("*") if p.is_file())
    keys = [
        "/".join(filter(None, [prefix.rstrip("/"), p.relative_to(source).as_posix()]))
        for p in paths
    ]
    _in_parallel(lambda path, key: upload_file(s3, path, bucket, key), paths, keys)
    return keys


def upload_file(s3, path: Path, bucket: str, key: str) -> None:
    """One PUT for a file that fits in one, else the transfer manager's multipart upload."""
    if path.stat().st_size > MULTIPART_BYTES:
        s3.upload_file(str(path), bucket, key)
        return
    with path.open("rb") as body:
        s3.put_object(Bucket=bucket, Key=key, Body=body)


def content_digest(uri: str, objects: list[dict]) -> str:
    """A digest of what `list_objects` found under `uri`: relative keys and their ETags
    (content hashes)."""
    _, prefix = split_uri(uri)
    listing = [(o["Key"][len(prefix) :], o["ETag"]) for o in objects]
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()


def read_json(s3, uri: str):
    bucket, key = split_uri(uri)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
