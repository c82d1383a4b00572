"""Content-addressed artifact store.

Layout: ``<root>/<stage>/<key[:2]>/<key>/`` holds an artifact's files and ``manifest.json``
(its JSON metadata plus the size and sha256 of every file, sealed by a sha256 of the whole manifest).
Rules (design.md):

- write into a temporary folder beside the final one, then rename: a crash never leaves a
  half artifact, and two writers of one key race harmlessly (the loser's copy is dropped);
- verify on read (the manifest's seal, sizes and checksums); a bad artifact (a manifest that is not
  one, edited metadata, a changed file) is moved aside and reported missing, so the caller recomputes it;
- store success only: a write that fails (full disk) leaves nothing and raises StoreWriteError, and
  after a stop was requested (interrupt.py) nothing is renamed into the store;
- ``.scratch/`` holds the work folders of running stages, named after their owner process (pid, start
  time, host); one whose owner is gone (kill -9) is removed by the next process that opens scratch;
- no lock is held across long work; an append-only event log feeds ``voice cache stats``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from .errors import StoreWriteError, os_reason
from .runtime import interrupt

MANIFEST = "manifest.json"
EVENTS = "events.jsonl"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def stable_key(*parts: Any) -> str:
    """sha256 of a canonical JSON rendering of the parts."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _seal(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest without its seal, as JSON would read it back."""
    body = {k: v for k, v in manifest.items() if k != "check"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifest_problem(manifest: Any, stage: str, key: str) -> str | None:
    """Why a parsed manifest.json is not this artifact's intact manifest, or None when it is."""
    if not isinstance(manifest, dict):
        return f"manifest is a {type(manifest).__name__}, not an object"
    if manifest.get("stage") != stage or manifest.get("key") != key:
        return "manifest belongs to another artifact"
    files = manifest.get("files")
    if not isinstance(manifest.get("meta"), dict) or not isinstance(files, dict):
        return "manifest lacks meta or files"
    for name, info in files.items():
        if not (isinstance(info, dict) and type(info.get("size")) is int and isinstance(info.get("sha256"), str)):
            return f"manifest entry for {name} is malformed"
    if manifest.get("check") != _seal(manifest):
        return "manifest fails its seal (edited, or written by an older version)"
    return None


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


# Which host a scratch folder's owner runs on: stores can be shared between machines, and a pid only
# means something on its own host (and boot).
HOST_TAG = hashlib.sha1(f"{socket.gethostname()}/{_boot_id()}".encode()).hexdigest()[:8]


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), "" where unknown, None when it is gone.
    With the pid it names a process uniquely: a reused pid has another start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except FileNotFoundError:
        return None
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except OSError:
        pass
    return ""


def owner_alive(pid: int, start: str) -> bool:
    now = process_start(pid)
    return now is not None and (now == start or now == "" or start == "")


DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def write_failure(root: Path, stage: str, exc: OSError) -> StoreWriteError:
    """The one line for a write into the store (or a stage's scratch folder there) that failed."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = "the disk is full: no space left on the device"
    elif exc.errno == errno.EFBIG:
        reason = "file size limit reached (or the disk is full)"
    elif exc.errno is None and "requested and" in str(exc):  # numpy's short write: the disk filled up
        reason = f"the disk is full or a file size limit was reached ({exc})"
    else:
        reason = os_reason(exc)
    return StoreWriteError(f"cache {root}: cannot write the {stage} artifact ({reason}); "
                           "free space there or use --cache-dir on another disk")


@dataclass
class Artifact:
    """A verified artifact on disk: JSON metadata plus named files."""

    stage: str
    key: str
    path: Path
    meta: dict[str, Any]
    files: dict[str, int] = field(default_factory=dict)

    def file(self, name: str) -> Path:
        return self.path / name

    def array(self, name: str) -> np.ndarray:
        """A numpy array written by ``Store.put(arrays=...)``, memory-mapped (read-only)."""
        return np.load(self.path / f"{name}.npy", mmap_mode="r")

    def raw_f32(self, name: str) -> np.ndarray:
        """A raw little-endian float32 file, memory-mapped (used for long decoded audio)."""
        if self.files.get(name, 0) == 0:
            return np.zeros(0, dtype=np.float32)
        return np.memmap(self.path / name, dtype="<f4", mode="r")


class Store:
    """The artifact store shared by the local runner, the Prefect tasks and several processes."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()
        self._verified: dict[str, float] = {}
        self._lock = threading.Lock()
        self._swept = False

    def path_of(self, stage: str, key: str) -> Path:
        return self.root / stage / key[:2] / key

    # -- reading -----------------------------------------------------------------------------
    def get(self, stage: str, key: str, *, verify: bool = True) -> Artifact | None:
        """The artifact, or None when it is missing or fails verification (then it is removed)."""
        path = self.path_of(stage, key)
        read = self._manifest(path, stage, key)
        if read is None:
            return None
        manifest, stamp = read
        problem = manifest_problem(manifest, stage, key)
        if problem:
            self._discard(path, stage, key, problem)
            return None
        files: dict[str, int] = {name: info["size"] for name, info in manifest["files"].items()}
        if verify and self._verified.get(key) != stamp:
            problem = self._check(path, manifest["files"])
            if problem:
                self._discard(path, stage, key, problem)
                return None
            with self._lock:
                self._verified[key] = stamp
        self.log("hit", stage, key)
        try:
            os.utime(path)  # the folder's mtime records the last use, for pruning by age
        except OSError:
            pass
        return Artifact(stage, key, path, manifest["meta"], files)

    def _manifest(self, path: Path, stage: str, key: str) -> tuple[Any, float] | None:
        """The artifact's parsed manifest and its mtime; None when the artifact is missing or broken.

        A missing manifest is read again once: another thread's or process's put may have renamed the
        artifact into place between the failed read and the look at its folder, and that new artifact
        must not be taken for a broken one and discarded under its writer's feet."""
        manifest_path = path / MANIFEST
        for attempt in (1, 2):
            try:
                return json.loads(manifest_path.read_text(encoding="utf-8")), manifest_path.stat().st_mtime
            except FileNotFoundError:
                if not path.exists():
                    return None
                if attempt == 2:
                    self._discard(path, stage, key, "no manifest")
            except (OSError, ValueError) as exc:
                if path.exists():
                    self._discard(path, stage, key, f"unreadable manifest ({exc})")
                return None
        return None

    def has(self, stage: str, key: str) -> bool:
        return self.get(stage, key) is not None

    @staticmethod
    def _check(path: Path, files: dict[str, dict[str, Any]]) -> str | None:
        for name, info in files.items():
            target = path / name
            try:
                size = target.stat().st_size
            except OSError:
                return f"{name} is missing"
            if size != info["size"]:
                return f"{name} has {size} bytes, expected {info['size']}"
            if sha256_file(target) != info["sha256"]:
                return f"{name} fails its checksum"
        return None

    def _discard(self, path: Path, stage: str, key: str, why: str) -> None:
        trash = path.with_name(f".bad-{key}-{uuid.uuid4().hex[:8]}")
        try:
            path.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)
        except OSError:
            pass
        self.log("corrupt", stage, key, why=why)

    # -- writing -----------------------------------------------------------------------------
    def put(
        self,
        stage: str,
        key: str,
        meta: Mapping[str, Any],
        *,
        arrays: dict[str, np.ndarray] | None = None,
        files: dict[str, Path | bytes] | None = None,
        durable: bool = True,
    ) -> Artifact:
        """Write an artifact atomically. ``files`` values that are paths are moved in (same disk).
        ``durable=False`` skips the fsync (small per-phrase memos: a torn one fails verification)."""
        final = self.path_of(stage, key)
        tmp = final.parent / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_failure(self.root, stage, exc) from None
        try:
            # Made inside the try that removes it: a signal handled just after the mkdir (the main
            # thread's Interrupted) would otherwise leave the folder behind in the store.
            tmp.mkdir()
            listing = self._fill(tmp, stage, key, meta, arrays, files, durable)
            interrupt.check()  # a stage that finished after the stop request is not stored either
            try:
                tmp.rename(final)
            except OSError:
                # Another writer finished first (the folder exists, non-empty): its copy is as good.
                existing = self.get(stage, key)
                if existing is not None:
                    shutil.rmtree(tmp, ignore_errors=True)
                    return existing
                tmp.rename(final)  # the other copy was bad and got discarded: ours goes in
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise write_failure(self.root, stage, exc) from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.log("put", stage, key)
        return Artifact(stage, key, final, dict(meta), {n: i["size"] for n, i in listing.items()})

    @staticmethod
    def _fill(tmp: Path, stage: str, key: str, meta: Mapping[str, Any], arrays: dict[str, np.ndarray] | None,
              files: dict[str, Path | bytes] | None, durable: bool = True) -> dict[str, dict[str, Any]]:
        """Write the files and the sealed manifest into ``tmp``; the files' listing."""
        for name, array in (arrays or {}).items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        for name, content in (files or {}).items():
            if isinstance(content, bytes):
                (tmp / name).write_bytes(content)
            else:
                shutil.move(str(content), tmp / name)
        listing = {
            item.name: {"size": item.stat().st_size, "sha256": sha256_file(item)}
            for item in sorted(tmp.iterdir())
        }
        manifest = {"stage": stage, "key": key, "created": time.time(), "meta": meta, "files": listing}
        manifest = json.loads(json.dumps(manifest, ensure_ascii=False))  # sealed as a reader will see it
        manifest["check"] = _seal(manifest)
        with open(tmp / MANIFEST, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, ensure_ascii=False)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        return listing

    def scratch(self) -> Path:
        """A private folder on the store's disk for work files (moved into artifacts cheaply)."""
        base = self.root / ".scratch"
        base.mkdir(parents=True, exist_ok=True)
        if not self._swept:
            self._swept = True
            self.sweep_scratch()
        path = base / f"{os.getpid()}-{_own_start()}-{HOST_TAG}-{uuid.uuid4().hex[:12]}"
        path.mkdir()
        return path

    def sweep_scratch(self) -> int:
        """Remove the scratch folders of this host's processes that are gone; how many were removed.
        Folders of other hosts, and of the older naming (pid-uuid), are left to prune's 24-hour rule."""
        removed = 0
        base = self.root / ".scratch"
        try:
            entries = list(base.iterdir())
        except OSError:
            return 0
        for entry in entries:
            parts = entry.name.split("-")
            if len(parts) != 4 or parts[2] != HOST_TAG or not parts[0].isdigit():
                continue
            if not owner_alive(int(parts[0]), parts[1]):
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        return removed

    # -- bookkeeping -------------------------------------------------------------------------
    def log(self, event: str, stage: str, key: str, **extra: Any) -> None:
        """One JSON line per event; O_APPEND writes of one short line are atomic across processes."""
        record = {"t": round(time.time(), 3), "event": event, "stage": stage, "key": key, **extra}
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / EVENTS, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError:
            pass

    def entries(self) -> Iterator[tuple[str, Path, int, float]]:
        """(stage, folder, size in bytes, last use) of every complete artifact."""
        if not self.root.is_dir():
            return
        for stage_dir in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for bucket in stage_dir.iterdir():
                if not bucket.is_dir():
                    continue
                for item in bucket.iterdir():
                    manifest = item / MANIFEST
                    if item.name.startswith(".") or not manifest.is_file():
                        continue
                    size = sum(f.stat().st_size for f in item.iterdir())
                    yield stage_dir.name, item, size, item.stat().st_mtime

    def stats(self) -> tuple[dict[str, dict[str, float]], int]:
        """Per stage: entries, bytes, hits, puts, corrupt (from the event log); and how many lines of
        the log were malformed (a torn write, a hand edit) and left out."""
        table: dict[str, dict[str, float]] = {}

        def row_of(stage: str) -> dict[str, float]:
            return table.setdefault(stage, {"entries": 0, "bytes": 0, "hit": 0, "put": 0, "corrupt": 0})

        for stage, _path, size, _used in self.entries():
            row = row_of(stage)
            row["entries"] += 1
            row["bytes"] += size
        skipped = 0
        events = self.root / EVENTS
        if events.is_file():
            with open(events, "rb") as handle:
                for line in handle:
                    try:
                        record = json.loads(line.decode("utf-8"))
                        stage, event = record["stage"], record["event"]
                        if not isinstance(stage, str) or not isinstance(event, str):
                            raise TypeError(stage)
                    except (ValueError, KeyError, TypeError):
                        skipped += bool(line.strip())
                        continue
                    row = row_of(stage)
                    if event in ("hit", "put", "corrupt"):
                        row[event] += 1
        return table, skipped

    def prune(self, *, older_than_s: float | None = None, max_bytes: int | None = None) -> tuple[int, int]:
        """Remove artifacts unused for longer than ``older_than_s`` and then the least recently used
        ones until the store fits in ``max_bytes``. Returns (artifacts removed, bytes freed)."""
        items = sorted(self.entries(), key=lambda e: e[3])
        now = time.time()
        removed = freed = 0
        total = sum(e[2] for e in items)
        for _stage, path, size, used in items:
            too_old = older_than_s is not None and now - used > older_than_s
            too_big = max_bytes is not None and total > max_bytes
            if not (too_old or too_big):
                continue
            trash = path.with_name(f".prune-{path.name}-{uuid.uuid4().hex[:8]}")
            try:
                path.rename(trash)
            except OSError:
                continue
            shutil.rmtree(trash, ignore_errors=True)
            removed += 1
            freed += size
            total -= size
        scratch = self.root / ".scratch"
        if scratch.is_dir():
            self.sweep_scratch()
            for stale in scratch.iterdir():
                if now - stale.stat().st_mtime > 24 * 3600:
                    shutil.rmtree(stale, ignore_errors=True)
        return removed, freed


def _own_start() -> str:
    return process_start(os.getpid()) or "0"
