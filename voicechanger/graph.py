"""The execution model, generic: a node is one stage applied to particular inputs, its key follows from
the stage's name, version, the settings it reads and its inputs' keys, and ``Graph.ensure`` makes a
node's artifact exist in the store.

``Graph.ensure`` is demand-driven: a node whose artifact is in the store is never recomputed and its
inputs are never read, so a warm rerun touches only the final artifact. Every runner (the local one,
folders, the Prefect flow) executes nodes through it; which nodes a recording has is plan.py's business.
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .config import Settings
from .runtime import interrupt
from .runtime.memory import release_free_memory
from .runtime.threads import one_blas_thread
from .stages import Context, Stage
from .stages.base import Memo
from .store import DISK_FULL, Artifact, Store, stable_key, write_failure


@dataclass(frozen=True)
class Node:
    """One stage applied to particular inputs: the unit the runners execute and the store caches."""

    stage: Stage
    key: str
    deps: tuple["Node", ...] = ()
    params: tuple[tuple[str, Any], ...] = ()
    label: str = ""

    @property
    def name(self) -> str:
        return self.stage.name

    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)


def make_node(stage: Stage, settings: Settings, deps: tuple[Node, ...] = (), root: str | None = None,
              label: str = "", **params: Any) -> Node:
    """``stage`` applied to ``deps`` (or to the input file whose hash is ``root``), with its key."""
    key = stable_key(
        stage.name,
        stage.version,
        {field_name: settings.get(field_name) for field_name in stage.reads},
        [root] if root else [d.key for d in deps],
        {name: params[name] for name in stage.key_params},
    )
    return Node(stage, key, deps, tuple(sorted(params.items())), label or stage.name)


class Events(Protocol):
    """What a runner reports; the CLI draws progress from it, tests count what ran."""

    def planned(self, nodes: list[Node]) -> None: ...
    def started(self, node: Node) -> None: ...
    def finished(self, node: Node, seconds: float, cached: bool) -> None: ...


class NullEvents:
    def planned(self, nodes: list[Node]) -> None:
        pass

    def started(self, node: Node) -> None:
        pass

    def finished(self, node: Node, seconds: float, cached: bool) -> None:
        pass


def execute(node: Node, store: Store, settings: Settings, inputs: list[Artifact]) -> Artifact:
    """Run one stage on its (already available) inputs and store the result."""
    scratch: Path | None = None
    try:
        with interrupt.deferred():  # a signal between the folder's creation and its assignment would lose it
            scratch = store.scratch()
        try:
            output = node.stage.run(Context(inputs, settings, node.param_dict(), scratch, Memo(store)))
        except OSError as exc:
            if exc.errno in DISK_FULL:  # the stage's work files fill the store's disk
                raise write_failure(store.root, node.name, exc) from None
            raise
        return store.put(node.name, node.key, output.meta, arrays=output.arrays, files=output.files)
    finally:
        with interrupt.deferred():  # nor may one cut the removal short
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
            release_free_memory()  # what the stage freed, so that the other thread's peak does not add to it


class Graph:
    """Demand-driven execution of nodes over one store, safe to call from several threads."""

    def __init__(self, store: Store, settings: Settings, events: Events | None = None) -> None:
        one_blas_thread()  # the same results whichever runner executes the nodes (threads.py)
        self.store = store
        self.settings = settings
        self.events = events or NullEvents()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.ran: list[str] = []       # stage names computed in this graph's lifetime, in order
        self.ran_keys: set[str] = set()  # and those nodes' keys
        self.seconds: dict[str, float] = {}
        self._reported: set[str] = set()  # keys already reported finished

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _cached(self, node: Node) -> None:
        """Report a store hit, once per node: a node reached again through another dependant (decode by
        every chunk, a transcription by its chain's stress) is not progress."""
        with self._guard:
            if node.key in self._reported:
                return
            self._reported.add(node.key)
        self.events.finished(node, 0.0, True)

    def ensure(self, node: Node) -> Artifact:
        """The node's artifact: from the store when present (and valid), else computed after its inputs."""
        found = self.store.get(node.name, node.key)
        if found is not None:
            self._cached(node)
            return found
        with self._lock(node.key):
            found = self.store.get(node.name, node.key)  # another thread may have made it meanwhile
            if found is not None:
                self._cached(node)
                return found
            inputs = [self.ensure(dep) for dep in node.deps]
            interrupt.check()  # after a stop request no new work starts
            self.events.started(node)
            started = time.perf_counter()
            artifact = execute(node, self.store, self.settings, inputs)
            elapsed = time.perf_counter() - started
            with self._guard:
                self.ran.append(node.name)
                self.ran_keys.add(node.key)
                self.seconds[node.name] = self.seconds.get(node.name, 0.0) + elapsed
                self._reported.add(node.key)
            self.events.finished(node, elapsed, False)
            return artifact
