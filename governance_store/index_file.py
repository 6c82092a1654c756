"""The system index of a store in one file per host: written once after the store changes, mapped
read-only by every process that answers questions.

A :class:`~governance_store.lookup.SystemIndex` is a handful of flat arrays, so a process that finds the
file for the store's current state maps it in milliseconds instead of building the index itself, and
the operating system keeps one copy of it in memory for all of them.

The file::

    b"GOVBOTIX"                  magic
    uint64  header length        little-endian
    uint32  CRC-32 of the header
    uint32  0
    header                       JSON: format, what the index is of (``meta``), the CRC-32 of everything
                                 after the header, and per array its name, dtype, shape, offset (from
                                 the first 64-byte boundary after the header) and length
    arrays                       each at a 64-byte boundary; the file ends where the last one does

Trust: a file is used only when its magic, format, header checksum, length, the arrays' checksum and
its ``meta`` (the store, the store's fingerprint, the vocabulary) all agree, and it is owned by this user
and writable by nobody else.  Anything else — a file cut short by a crash, a flipped bit, a file of
another store or state — is set aside and the index rebuilt; a bad file is never used.

Writers: the index is written to a temporary file in the same directory and renamed over the final name,
so a reader sees the old file or the new one, never half of one.  Builders of the same store take a lock
(``fcntl.flock`` on ``<store>.lock``), so processes that need the same index at once build it once: the
others wait and map what the first wrote.  A builder that dies releases its lock with its process.
Files of the store's earlier states are removed once the new one is in place (processes still mapping
them keep their pages until they move on).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import mmap
import os
import stat
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from governance_store.lookup import SECTIONS, SystemIndex, Vocabulary

log = logging.getLogger(__name__)

MAGIC = b"GOVBOTIX"
FORMAT = 1
_PREFIX = struct.Struct("<8sQII")
_ALIGN = 64
_MAX_HEADER = 1 << 20


class IndexFileError(ValueError):
    """The file is not a complete, intact index of what was asked for."""


def _aligned(offset: int) -> int:
    return (offset + _ALIGN - 1) // _ALIGN * _ALIGN


def _bytes(arr: np.ndarray) -> memoryview:
    return arr.reshape(-1).view(np.uint8).data if arr.size else memoryview(b"")


def write(path: Path, index: SystemIndex, *, meta: dict[str, Any]) -> None:
    """Write ``index`` to ``path`` atomically (a temporary file in the same directory, then a rename)."""
    sections = index.sections()
    arrays = [(name, np.ascontiguousarray(sections[name])) for name in SECTIONS]
    table: list[dict[str, Any]] = []
    offset = 0
    for name, arr in arrays:
        table.append({"name": name, "dtype": arr.dtype.str, "shape": list(arr.shape), "offset": offset,
                      "nbytes": int(arr.nbytes)})
        offset = _aligned(offset + int(arr.nbytes))
    # One checksum over everything after the header, padding included, computed as it is written below.
    crc = 0
    position = 0
    for entry, (_, arr) in zip(table, arrays, strict=True):
        crc = zlib.crc32(_bytes(arr), zlib.crc32(b"\0" * (entry["offset"] - position), crc))
        position = entry["offset"] + entry["nbytes"]
    header = {"format": FORMAT, "meta": meta, "sections": table, "crc": crc}
    body = json.dumps(header, sort_keys=True).encode()
    start = _aligned(_PREFIX.size + len(body))  # offsets count from here
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_PREFIX.pack(MAGIC, len(body), zlib.crc32(body), 0))
            fh.write(body)
            position = _PREFIX.size + len(body)
            for entry, (_, arr) in zip(table, arrays, strict=True):
                fh.write(b"\0" * (start + entry["offset"] - position))
                fh.write(_bytes(arr))
                position = start + entry["offset"] + entry["nbytes"]
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename durable (not every file system allows this)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def read(path: Path, *, vocabulary: Vocabulary, meta: dict[str, Any] | None = None) -> SystemIndex:
    """Map the index in ``path`` read-only.  Raises :class:`IndexFileError` unless the file is complete,
    intact, safe to trust and (when given) of ``meta``; ``FileNotFoundError`` when there is none."""
    with open(path, "rb") as fh:
        info = os.fstat(fh.fileno())
        if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
            raise IndexFileError(f"{path} is not owned by this user alone")
        size = info.st_size
        if size < _PREFIX.size:
            raise IndexFileError(f"{path} is cut short")
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        return _parse(path, mapped, size, vocabulary=vocabulary, meta=meta)
    except IndexFileError:
        mapped.close()
        raise
    except (ValueError, KeyError, TypeError) as exc:
        mapped.close()
        raise IndexFileError(f"{path} is not a valid index: {exc}") from None


def _parse(path: Path, mapped: mmap.mmap, size: int, *, vocabulary: Vocabulary,
           meta: dict[str, Any] | None) -> SystemIndex:
    magic, length, crc, _ = _PREFIX.unpack_from(mapped, 0)
    if magic != MAGIC:
        raise IndexFileError(f"{path} is not an index file")
    if length > _MAX_HEADER or _PREFIX.size + length > size:
        raise IndexFileError(f"{path} is cut short")
    body = mapped[_PREFIX.size : _PREFIX.size + length]
    if zlib.crc32(body) != crc:
        raise IndexFileError(f"{path}: the header is damaged")
    header = json.loads(body)
    if header.get("format") != FORMAT:
        raise IndexFileError(f"{path} has format {header.get('format')}, not {FORMAT}")
    if meta is not None and header.get("meta") != meta:
        raise IndexFileError(f"{path} is the index of another store or state")
    if (header.get("meta") or {}).get("vocabulary") != vocabulary.digest():
        raise IndexFileError(f"{path} was built with other words")
    table = header["sections"]
    if [entry["name"] for entry in table] != list(SECTIONS):
        raise IndexFileError(f"{path} does not hold the arrays of this version")
    start = _aligned(_PREFIX.size + length)
    end = max((start + entry["offset"] + entry["nbytes"] for entry in table), default=_PREFIX.size + length)
    if end != size:
        raise IndexFileError(f"{path} is {size} bytes, not {end}: cut short or padded")
    view = memoryview(mapped)
    sections: dict[str, np.ndarray] = {}
    try:
        if zlib.crc32(view[start:end]) != header["crc"]:
            raise IndexFileError(f"{path}: the arrays are damaged")
        for entry in table:
            offset, nbytes = start + int(entry["offset"]), int(entry["nbytes"])
            dtype = np.dtype(entry["dtype"])
            shape = tuple(int(x) for x in entry["shape"])
            if entry["offset"] < 0 or offset % _ALIGN or nbytes != dtype.itemsize * int(np.prod(shape)):
                raise IndexFileError(f"{path}: the array {entry['name']} is out of place")
            sections[entry["name"]] = np.frombuffer(mapped, dtype=dtype, count=int(np.prod(shape)),
                                                    offset=offset).reshape(shape)
    finally:
        view.release()
    try:
        return SystemIndex(sections, vocabulary=vocabulary)
    except (ValueError, IndexError) as exc:
        raise IndexFileError(f"{path} does not hold a consistent index: {exc}") from None


# --------------------------------------------------------------------------- one directory per host


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:20]


class IndexDirectory:
    """Where the index files of every store this host answers for are kept (``GOVBOT_INDEX_DIR``).

    :meth:`load_or_build` returns the index of a store in a given state: mapped from its file when one is
    there and sound, else built once (under the store's lock) and written for the other processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _ensure(self) -> None:
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)

    def file_for(self, store: str, meta: dict[str, Any]) -> Path:
        return self.path / f"{_digest(store)}-{_digest(FORMAT, sorted(meta.items()))}.idx"

    @contextlib.contextmanager
    def _locked(self, store: str) -> Iterator[None]:
        lock_path = self.path / f"{_digest(store)}.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                import fcntl
            except ImportError:  # pragma: no cover - not POSIX: builders may duplicate work, never corrupt
                yield
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _try_read(self, path: Path, vocabulary: Vocabulary, meta: dict[str, Any],
                  check: Callable[[SystemIndex], str | None]) -> SystemIndex | None:
        try:
            index = read(path, vocabulary=vocabulary, meta=meta)
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read the system index file %s: %s", path, exc)
            return None
        except IndexFileError as exc:
            log.warning("not using the system index file: %s; it is rebuilt", exc)
            return None
        problem = check(index)
        if problem:
            log.warning("not using the system index file %s: %s; it is rebuilt", path, problem)
            return None
        return index

    def load_or_build(self, *, store: str, meta: dict[str, Any], vocabulary: Vocabulary,
                      build: Callable[[], SystemIndex],
                      check: Callable[[SystemIndex], str | None] = lambda index: None) -> SystemIndex:
        """The index of ``store`` in the state ``meta`` describes (its fingerprint); ``check`` may still
        refuse a sound file (it returns why), which is then rebuilt and replaced."""
        meta = {**meta, "store": _digest(store), "vocabulary": vocabulary.digest()}
        path = self.file_for(store, meta)
        index = self._try_read(path, vocabulary, meta, check)
        if index is not None:
            return index
        try:
            self._ensure()
            with self._locked(store):
                index = self._try_read(path, vocabulary, meta, check)  # another process may have built it
                if index is not None:
                    return index
                built = build()
                self._clear_leftovers(store)
                write(path, built, meta=meta)
                self._remove_older(store, keep=path)
                mapped = self._try_read(path, vocabulary, meta, lambda index: None)
                return mapped if mapped is not None else built
        except OSError as exc:
            log.warning("cannot keep the system index in %s (%s); this process builds its own", self.path, exc)
            return build()

    def _clear_leftovers(self, store: str) -> None:
        """Temporary files of this store left by a builder that died (we hold the store's lock)."""
        for leftover in self.path.glob(f"{_digest(store)}-*.idx.*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()

    def _remove_older(self, store: str, *, keep: Path) -> None:
        for old in self.path.glob(f"{_digest(store)}-*.idx"):
            if old != keep:
                with contextlib.suppress(OSError):
                    old.unlink()
