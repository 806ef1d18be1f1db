"""State that survives a restart: a snapshot of moto's models, the sandbox's included.

Every piece of state lives in moto's backends (the sandbox keeps its pipeline executions
and step cache there too, see executions.py), so one snapshot holds all of it: buckets and
objects, the registry, stacks, endpoints, executions. It is written to `<home>/state/`
within SNAPSHOT_SECONDS of any change (a crash loses at most that much) and when the
sandbox stops, and loaded when a sandbox starts on the same home.

Why pickled models and not moto's request recorder: replaying requests would run every
pipeline execution again and mint new ARNs. Why object bodies apart: an S3 body is written
once, to a file of its own, when first snapshotted (moto never changes a key's body in
place: a PUT makes a new key), so a snapshot costs the metadata, not the data.
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import io
import logging
import os
import pickle
import sys
import threading
import time
import uuid
import weakref
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from moto.core.base_backend import BackendDict
from moto.s3.models import FakeKey

logger = logging.getLogger(__name__)

SNAPSHOT_SECONDS = 0.5
SNAPSHOT_FILE = "snapshot.pickle"
_LOCK_TYPES = {type(threading.Lock()): threading.Lock, type(threading.RLock()): threading.RLock}
_PLAIN_TYPES: set[type] = set()  # pickled as they are


def _new_lock(kind):
    return kind()


def _weak_values(items: dict) -> weakref.WeakValueDictionary:
    return weakref.WeakValueDictionary(items)


def _default_dict(kind: type, items: dict) -> collections.defaultdict:
    return collections.defaultdict(kind, items)


def _load_private_key(pem: bytes):
    return serialization.load_pem_private_key(pem, password=None)


def _restore_key(state: dict, blob: str, folder: str) -> FakeKey:
    """A FakeKey whose body is read back from its blob (moto's own __setstate__ rebuilds
    the buffer and lock)."""
    key = FakeKey.__new__(FakeKey)
    key.__setstate__({**state, "value": (Path(folder) / blob).read_bytes()})
    key._sandbox_blob = blob
    return key


def _is_lambda(factory) -> bool:
    return getattr(factory, "__name__", "") == "<lambda>"


def _index_bucket_owners() -> None:
    """moto finds another account's bucket through an index beside its backends (bucket
    name -> account), which a snapshot of the backends does not hold: rebuild it, so a
    stage account reads the tooling account's artifacts after a restart too."""
    from moto.s3.models import s3_backends

    for account, partitions in list(s3_backends.items()):
        for partition, backend in list(partitions.items()):
            for bucket in backend.buckets:
                s3_backends.bucket_accounts[bucket] = (partition, account)


class _Pickler(pickle.Pickler):
    """Locks become new locks; private keys PEM; an S3 key's body goes to a blob file,
    written once."""

    def __init__(self, file, blobs: Path, written: set[str]):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.blobs, self.written = blobs, written
        self.referenced: set[str] = set()  # the blobs this snapshot names

    def reducer_override(self, obj):
        # Called for every object pickled: most are plain, and a type found plain once is
        # not examined again (the checks below cost more than the pickling itself).
        kind = type(obj)
        if kind is collections.defaultdict and _is_lambda(obj.default_factory):
            # moto's `defaultdict(lambda: {})` (Lambda aliases): the lambda cannot be
            # pickled, the type of what it makes can (before the plain-type shortcut: other
            # defaultdicts are plain)
            return _default_dict, (type(obj.default_factory()), dict(obj))
        if kind in _PLAIN_TYPES:
            return NotImplemented
        lock = _LOCK_TYPES.get(kind)
        if lock is not None:
            return _new_lock, (lock,)
        if isinstance(obj, FakeKey):
            return _restore_key, (self._key_state(obj), self._blob(obj), str(self.blobs))
        if isinstance(obj, PrivateKeyTypes):  # KMS's asymmetric keys: kept as PEM
            pem = obj.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            return _load_private_key, (pem,)
        if isinstance(obj, weakref.WeakValueDictionary):  # Lambda's ARN index: the
            return _weak_values, (dict(obj),)  # values are held elsewhere in the snapshot
        if isinstance(obj, threading.Thread | weakref.ref):
            return type(None), ()  # running work is not state
        _PLAIN_TYPES.add(kind)
        return NotImplemented

    @staticmethod
    def _key_state(key: FakeKey) -> dict:
        return {
            k: v
            for k, v in key.__dict__.items()
            if k not in ("_value_buffer", "lock", "_sandbox_blob")
        }

    def _blob(self, key: FakeKey) -> str:
        blob = getattr(key, "_sandbox_blob", None)
        if blob is None:
            blob = key._sandbox_blob = uuid.uuid4().hex
        if blob not in self.written:
            path = self.blobs / blob
            if not path.exists():
                try:
                    body = key.value
                except ValueError:  # moto closes a deleted key's buffer (its __getstate__ too)
                    body = b""
                path.write_bytes(body)
            self.written.add(blob)
        self.referenced.add(blob)
        return blob


def _backend_dicts() -> list[tuple[str, str, BackendDict]]:
    """Every moto service in use, as (module, attribute, BackendDict)."""
    found = []
    for backends in list(BackendDict._instances):
        module_name = backends.backend.__module__
        module = sys.modules[module_name]
        name = next((n for n, v in vars(module).items() if v is backends), None)
        if name is not None:
            found.append((module_name, name, backends))
    return found


class Snapshots:
    """Writes snapshots of moto's state to `<home>/state/` and loads the last one."""

    def __init__(self, home: Path):
        self.folder = home / "state"
        self.blobs = self.folder / "objects"
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- loading ---------------------------------------------------------------------------

    def restore(self) -> bool:
        """Load the last snapshot into moto's backends; False when there is none.

        A snapshot that cannot be loaded (written by another moto version: it pickles
        moto's own classes) is set aside as `snapshot.pickle.unreadable`, with a warning,
        and the sandbox starts empty rather than not at all."""
        path = self.folder / SNAPSHOT_FILE
        if not path.exists():
            return False
        try:
            with path.open("rb") as file:
                services = pickle.load(file)
        except Exception as err:  # noqa: BLE001 — any unpickling failure means the same
            kept = path.with_name(f"{SNAPSHOT_FILE}.unreadable")
            os.replace(path, kept)
            logger.warning(
                "sandbox: state in %s could not be loaded (%s); kept as %s, starting empty",
                path,
                err,
                kept,
            )
            return False
        for module_name, name, accounts in services:
            backends = getattr(importlib.import_module(module_name), name)
            for account, regions in accounts.items():
                for region, backend in regions.items():
                    backends[account][region] = backend
        _index_bucket_owners()
        return True

    # --- saving ----------------------------------------------------------------------------

    def save(self) -> None:
        """One snapshot, written atomically (a crash mid-write keeps the previous one).

        moto's dicts may change while they are pickled (a request in another thread):
        that attempt is dropped and made again."""
        self.blobs.mkdir(parents=True, exist_ok=True)
        written = {p.name for p in self.blobs.iterdir()}
        for attempt in range(5):
            buffer = io.BytesIO()
            services = [
                (module, name, {a: dict(r) for a, r in backends.items()})
                for module, name, backends in _backend_dicts()
            ]
            try:
                pickler = _Pickler(buffer, self.blobs, written)
                pickler.dump(services)
                break
            except RuntimeError:  # "dictionary changed size during iteration"
                if attempt == 4:
                    raise
        temporary = self.folder / f".{SNAPSHOT_FILE}.{os.getpid()}"
        temporary.write_bytes(buffer.getvalue())
        os.replace(temporary, self.folder / SNAPSHOT_FILE)
        self._remove_unreferenced(written - pickler.referenced)

    def _remove_unreferenced(self, blobs: set[str]) -> None:
        """Blobs of deleted objects: not named in the snapshot any more."""
        for blob in blobs:
            with contextlib.suppress(FileNotFoundError):
                (self.blobs / blob).unlink()

    def changed(self) -> None:
        """Something changed: a snapshot follows within SNAPSHOT_SECONDS."""
        self._dirty.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="sandbox-snapshots", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what changed since the last snapshot, then stop."""
        self._stopping.set()
        self._dirty.set()
        if self._thread:
            self._thread.join()
        self._thread = None

    def _loop(self) -> None:
        while True:
            self._dirty.wait()
            if not self._stopping.is_set():
                time.sleep(SNAPSHOT_SECONDS)  # changes come in bursts: one snapshot each
            self._dirty.clear()
            try:
                self.save()
            except Exception:  # a failed snapshot must not stop the sandbox; say so
                logger.exception("sandbox: snapshot of the state failed")
            if self._stopping.is_set():
                return
