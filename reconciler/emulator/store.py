"""Where an emulated tenant keeps its objects: in memory or in a JSON file.

State format (also the seed format)::

    {"InboundConnector": [{...}], "OutboundConnector": [{...}], "AcceptedDomain": [{...}]}

Each list holds Get-shaped objects.  A seed may hold partial objects (a ``Name`` and some properties;
``DomainName`` for an accepted domain): the tenant fills the missing properties with the documented
defaults and generated ids the first time it touches the store, and saves the completed objects.

Contracts:

- :meth:`Store.transaction` is exclusive: within one process (a lock) and, for :class:`JsonFileStore`,
  across processes (``fcntl.flock`` on ``<file>.lock``, held across read-modify-write; the file is
  re-read under the lock, so no write is lost).
- Changes made inside a transaction are kept only if the block exits normally.
- A file write is atomic: temp file in the same directory, fsync, rename, fsync of the directory.  A crash
  at any point leaves the old or the new state, never a torn file.
- :meth:`Store.snapshot` is the last committed state without copying it, with a *version* that differs
  whenever the state may differ; readers must not change it (transactions work on their own copy, so a
  snapshot never changes under its reader).  Reads cost no copy and no lock held across the read, which
  is what keeps a listing of a thousand connectors cheap.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from reconciler.emulator.catalogue import ACCEPTED_DOMAIN, KINDS
from reconciler.emulator.files import MAX_INPUT_BYTES, read_document
from reconciler.errors import InputError, Location, Problem
from reconciler.yamlio import MAX_DEPTH, nesting_depth, read_text, write_atomic

State = dict[str, list[dict[str, Any]]]


def empty_state() -> State:
    return {kind: [] for kind in KINDS}


@dataclass(frozen=True)
class Snapshot:
    """A committed state (``state``, read-only) and its ``version`` (hashable; equal versions of one store
    mean the same state)."""

    version: Hashable
    state: State


class Store(ABC):
    """One tenant's objects."""

    #: The snapshot version the tenant layer last found complete (every object with all its properties,
    #: see :mod:`reconciler.emulator.tenant`): it lives and dies with the state it describes.
    complete_version: Hashable | None = None

    @abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[State]:
        """Exclusive access to the state; changes are saved when the block exits without an exception."""

    def read(self) -> State:
        """A copy of the current state."""
        with self.transaction() as state:
            return copy.deepcopy(state)

    def snapshot(self) -> Snapshot | None:
        """The committed state without a copy (the caller must not change it), or None when there is no
        committed state yet (a file store whose file does not exist: a transaction creates it).

        This default copies the state and gives it a version of its own (correct, never cached).
        """
        return Snapshot(object(), self.read())


class MemoryStore(Store):
    """State held in memory (thread-safe)."""

    def __init__(self, initial: State | None = None) -> None:
        self._state = _normalise_shape(copy.deepcopy(initial) if initial else empty_state())
        self._version = object()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[State]:
        with self._lock:
            working = copy.deepcopy(self._state)
            yield working
            # Copy-on-write: the committed state is replaced, never changed, so snapshots stay valid.
            self._state = working
            self._version = object()

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(self._version, self._state)

    def read(self) -> State:
        """A copy of the committed state (no transaction: reading is not a change, so the version stays)."""
        return copy.deepcopy(self.snapshot().state)


class JsonFileStore(Store):
    """State in a JSON file, shared safely by threads and processes.

    If the file does not exist, the first transaction starts from ``seed`` (a seed file, see
    :func:`load_seed`) or from an empty state, and creates the file.
    """

    def __init__(self, path: str | os.PathLike[str], seed: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path)
        self.seed = Path(seed) if seed is not None else None
        self._lock = threading.Lock()
        self._last: Snapshot | None = None
        self._folder_made = False

    def snapshot(self) -> Snapshot | None:
        """The file's state, parsed again only when the file changed.

        No lock is needed: writers replace the file atomically, so opening it gives one whole version;
        the version is the file's identity (device, inode, size, times), which every replace changes.  An
        unchanged identity at the path (one ``stat``) means the state parsed before is still current.
        """
        last = self._last
        try:
            if last is not None and last.version == _identity(self.path, os.stat(self.path)):
                return last
            with open(self.path, "rb") as handle:
                version = _identity(self.path, os.fstat(handle.fileno()))
                text = handle.read().decode("utf-8")
        except FileNotFoundError:
            return None
        snapshot = Snapshot(version, parse_state(text, str(self.path)))
        self._last = snapshot
        return snapshot

    @contextlib.contextmanager
    def transaction(self) -> Iterator[State]:
        if not self._folder_made:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._folder_made = True
        with self._lock, self._open_lock_file() as lock_file:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                before = self._read_text()
                original: State | None = None
                if before is not None:
                    state = parse_state(before, str(self.path))
                    original = parse_state(
                        before, str(self.path)
                    )  # parsing twice is cheaper than a deep copy
                elif self.seed is not None:
                    state = load_seed(self.seed)
                else:
                    state = empty_state()
                yield state
                if state != original:  # a new file, or a changed state (an unchanged one is not rewritten)
                    self._write_text(dump_state(state))
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)

    def _open_lock_file(self) -> BinaryIO:
        """``<file>.lock``, created if needed; :class:`InputError` naming it when it is a symbolic link
        (never followed: it could make exoform create or lock a file elsewhere)."""
        name = self.path.with_name(self.path.name + ".lock")
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            try:
                descriptor = os.open(name, flags, 0o600)
            except FileNotFoundError:  # the folder was removed since: make it again
                self.path.parent.mkdir(parents=True, exist_ok=True)
                descriptor = os.open(name, flags, 0o600)
        except OSError:
            if name.is_symlink():
                raise InputError(
                    [Problem(Location(str(name)), "the lock file is a symbolic link; refusing to follow it")]
                ) from None
            raise
        return open(descriptor, "a+b")

    def _read_text(self) -> str | None:
        """The state file's text, None when there is none yet; :class:`InputError` when it is not a
        regular file, too large or not UTF-8 (read as every file exoform reads, :func:`read_text`)."""
        if not self.path.exists() and not self.path.is_symlink():
            return None
        text, problems = read_text(self.path, str(self.path), MAX_INPUT_BYTES)
        if text is None:
            raise InputError(problems)
        return text

    def _write_text(self, text: str) -> None:
        written = write_atomic(self.path, text, mode=0o600)
        self._last = Snapshot(_identity(self.path, written), parse_state(text, str(self.path)))  # no re-read


def _identity(path: Path, info: os.stat_result) -> tuple[Any, ...]:
    """A file version's identity: every atomic replace gives another inode or other times."""
    return (str(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def dump_state(state: State) -> str:
    """The state file's text: one line per object kind and per object, so an error in a hand-edited file
    names a useful line.  Each object is encoded by the C encoder (``indent`` would force json's pure-Python
    encoder, three times slower: a good part of the cost of a tenant's first read)."""
    encode = json.JSONEncoder(ensure_ascii=False).encode
    kinds = []
    for kind, objects in state.items():
        items = ",\n".join(f"    {encode(obj)}" for obj in objects)
        kinds.append(f"  {encode(kind)}: [\n{items}\n  ]" if objects else f"  {encode(kind)}: []")
    return "{\n" + ",\n".join(kinds) + "\n}\n" if kinds else "{}\n"


def parse_state(text: str, path: str) -> State:
    """Parse a state file's text; :class:`InputError` (file, line, column) if it is not valid."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            [Problem(Location(path, exc.lineno, exc.colno), f"invalid JSON: {exc.msg}")]
        ) from None
    except RecursionError:
        raise InputError([Problem(Location(path), f"nesting is deeper than {MAX_DEPTH} levels")]) from None
    if nesting_depth(data) > MAX_DEPTH:
        raise InputError([Problem(Location(path), f"nesting is deeper than {MAX_DEPTH} levels")])
    return _check_shape(data, path)


def _check_shape(data: Any, path: str, locate: Any = None) -> State:
    """Validate the top-level shape; ``locate(keys)`` gives (line, column) of a node when known."""

    def where(*keys: Any) -> Location:
        line, column = locate(keys) if locate else (1, 1)
        return Location(path, line, column)

    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise InputError(
            [Problem(where(), "the state must be a mapping of object kind to a list of objects")]
        )
    for kind, items in data.items():
        if kind not in KINDS:
            problems.append(
                Problem(where(kind), f"unknown object kind '{kind}' (expected one of {', '.join(KINDS)})")
            )
            continue
        if not isinstance(items, list):
            problems.append(Problem(where(kind), f"'{kind}' must be a list of objects"))
            continue
        key = "DomainName" if kind == ACCEPTED_DOMAIN else "Name"
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                problems.append(Problem(where(kind, index), f"{kind} #{index + 1} must be an object"))
            elif not isinstance(item.get(key) or item.get("Name"), str) or not (
                item.get(key) or item.get("Name")
            ):
                problems.append(Problem(where(kind, index), f"{kind} #{index + 1} has no '{key}'"))
    if problems:
        raise InputError(problems)
    return _normalise_shape(data)


def _normalise_shape(data: dict[str, Any]) -> State:
    state = empty_state()
    for kind in KINDS:
        state[kind] = [dict(item) for item in data.get(kind) or []]
    return state


def load_seed(path: str | os.PathLike[str]) -> State:
    """Read a seed (or state) file, JSON or YAML; :class:`InputError` with file, line, column if invalid."""
    document, locate = read_document(path, "seed")
    if document is None:
        return empty_state()
    return _check_shape(document, str(path), locate)


# -- stores per tenant ----------------------------------------------------------------------------------


class TenantStores(ABC):
    """Maps a tenant name (GUID or ``*.onmicrosoft.com``, case-insensitive) to its store."""

    @abstractmethod
    def get(self, tenant: str) -> Store:
        """The store of ``tenant`` (created on first use where the implementation creates stores)."""


class SharedStore(TenantStores):
    """One store answers for every tenant name (the ``local`` provider's single state file)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, tenant: str) -> Store:
        return self.store


class MemoryStores(TenantStores):
    """A fresh in-memory store per tenant, each started from ``seed`` (tests with many tenants)."""

    def __init__(self, seed: State | None = None) -> None:
        self._seed = seed
        self._stores: dict[str, MemoryStore] = {}
        self._lock = threading.Lock()

    def get(self, tenant: str) -> Store:
        key = tenant.casefold()
        with self._lock:
            if key not in self._stores:
                self._stores[key] = MemoryStore(self._seed)
            return self._stores[key]


class DirectoryStores(TenantStores):
    """One JSON file per tenant in ``directory`` (``<tenant>.json``), created on demand from ``seed``."""

    def __init__(self, directory: str | os.PathLike[str], seed: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory)
        self.seed = seed
        self._stores: dict[str, JsonFileStore] = {}
        self._lock = threading.Lock()

    def path_for(self, tenant: str) -> Path:
        key = tenant.casefold()
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{0,200}", key):
            key = "tenant-" + hashlib.sha256(key.encode()).hexdigest()[:16]
        return self.directory / f"{key}.json"

    def get(self, tenant: str) -> Store:
        path = self.path_for(tenant)
        with self._lock:
            if path.name not in self._stores:
                self._stores[path.name] = JsonFileStore(path, self.seed)
            return self._stores[path.name]


def open_store(state: str | os.PathLike[str] | None, seed: str | os.PathLike[str] | None = None) -> Store:
    """The store for ``state: FILE`` / ``seed: FILE`` of exoform.yaml.

    With a state file: that file (started from the seed if it does not exist yet).  Without one: an
    in-memory store started from the seed (or empty).
    """
    if state is not None:
        return JsonFileStore(state, seed)
    return MemoryStore(load_seed(seed) if seed is not None else None)
