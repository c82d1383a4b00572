"""How the flow schedules one batch's nodes on a Prefect task runner.

Scheduling. The flow submits a node only when everything it needs is done, at most ``2 × workers``
tasks at a time (the local runner's concurrency: ``workers`` recordings, two chunks each): a Prefect
task that waits on ``wait_for`` futures holds a worker of the thread or process pool, so submitting a
whole graph up front would either serialise it (bounded pool) or start every chunk's Whisper at once
(unbounded). ``wait_for`` is still passed, so the UI draws the graph. Like ``Graph.ensure``, it is
demand-driven: a node whose artifact is in the store is submitted (and shows as Cached) only when a
sink or a missing node needs it, and its own inputs are not touched; a warm rerun submits 3 tasks per
recording (chunk, transcript, and concat or mix).

Decode reads the input file, so it runs in the flow's process when its artifact is missing (the
decode task then finds it in the store): a Dask worker on another machine shares the store, not the
input folder. Outputs are written by the flow's process too.

Task runner: ``settings.runner`` — threads (ThreadPoolTaskRunner), processes (ProcessPoolTaskRunner)
or dask (prefect_dask.DaskTaskRunner: a LocalCluster of ``workers`` processes with 2 threads each, or
the scheduler at ``settings.dask_address``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect.futures import as_completed

from tasks.stages import Sealed, in_store, results_dir, stage_task
from voicechanger.config import Settings
from voicechanger.errors import VoiceError, error_message
from voicechanger.graph import Graph, Node
from voicechanger.plan import Plan
from voicechanger.runners.lifecycle import Result
from voicechanger.stages import STAGES
from voicechanger.store import Store


@dataclass(eq=False)
class Recording:
    """One input file on its way through the flow: its scheduling state, then its lifecycle.Result."""

    index: int
    source: Path
    target: Path
    fmt: str = ""
    root_key: str = ""
    decode: Node | None = None
    chunk: Node | None = None
    plan: Plan | None = None
    waiting_on: set[str] = field(default_factory=set)  # the node keys the current phase waits for
    ran: list[str] = field(default_factory=list)
    ran_keys: set[str] = field(default_factory=set)
    phase: str = "pending"  # pending | front | chains | done
    started: float = 0.0
    result: Result | None = None
    exception: BaseException | None = None

    def done(self) -> Result:
        assert self.result is not None, "the recording has not finished"
        return self.result


def _describe(node: Node, exc: BaseException) -> str:
    return error_message(exc) if isinstance(exc, VoiceError) else f"{node.name} failed: {error_message(exc)}"


class Scheduler:
    """Submits nodes to a Prefect task runner once their inputs are done, ``limit`` at a time,
    highest priority (earliest recording, earliest chunk, latest stage) first."""

    def __init__(self, runner: Any, store: Store, settings: Settings, *, gpu: bool, limit: int) -> None:
        self.runner = runner
        self.store = store
        self.settings = settings
        self.gpu = gpu
        self.limit = max(1, limit)
        self.results = str(results_dir(store.root))
        self.pending: dict[str, tuple[Node, list[str], bool]] = {}  # key -> (node, needed inputs, missing)
        self.meta: dict[str, tuple[tuple, str, list[Recording]]] = {}  # key -> (priority, title, owners)
        self.running: dict[Any, str] = {}
        self.futures: dict[str, Any] = {}
        self.done: dict[str, dict[str, Any]] = {}
        self.failed: dict[str, tuple[str, BaseException]] = {}
        self.nodes: dict[str, Node] = {}
        self.submitted = 0

    def want(self, node: Node, owner: Recording, priority: dict[str, tuple], titles: dict[str, str]) -> None:
        """Declare that ``owner`` needs ``node``; its inputs are needed too unless it is in the store.
        A missing node of a stage that reads the recording's file (decode) is made here and now, in the
        process sure to see that file (Dask workers may be other machines that share only the store);
        its task then only points to it."""
        if node.key in self.meta:
            if not any(o is owner for o in self.meta[node.key][2]):
                self.meta[node.key][2].append(owner)
            return
        self.nodes[node.key] = node
        missing = not in_store(self.store, node)
        if missing and node.stage.reads_input:
            graph = Graph(self.store, self.settings)
            graph.ensure(node)
            owner.ran.extend(graph.ran)
            owner.ran_keys |= graph.ran_keys
            missing = False
        inputs: list[str] = []
        if missing:
            for dep in node.deps:
                if dep.key not in inputs:
                    self.want(dep, owner, priority, titles)
                    inputs.append(dep.key)
        self.meta[node.key] = (priority.get(node.key, (owner.index, 0)) + (STAGES.rank(node.name),),
                               titles.get(node.key, node.name), [owner])
        self.pending[node.key] = (node, inputs, missing)

    def pump(self) -> None:
        """Fail the nodes whose inputs failed, then submit the ready ones up to the limit."""
        for key, (_node, inputs, _missing) in list(self.pending.items()):  # insertion order is topological
            broken = next((i for i in inputs if i in self.failed), None)
            if broken is not None:
                self.failed[key] = self.failed[broken]
                del self.pending[key]
        if len(self.running) >= self.limit:
            return
        ready = [k for k, (_n, inputs, _m) in self.pending.items() if all(i in self.done for i in inputs)]
        ready.sort(key=lambda k: self.meta[k][0])
        for key in ready[: self.limit - len(self.running)]:
            node, inputs, missing = self.pending.pop(key)
            task = stage_task(node.name, self.results, self.gpu and node.stage.uses_model, missing)
            future = self.runner.submit(
                task,
                parameters={"node": Sealed(node), "cache_dir": str(self.store.root), "settings": Sealed(self.settings),
                            "title": self.meta[key][1]},
                wait_for=[self.futures[i] for i in inputs],
            )
            self.futures[key] = future
            self.running[future] = key
            self.submitted += 1

    def step(self) -> None:
        """Wait for one running task to finish and record its pointer or its error."""
        future = next(as_completed(list(self.running)))
        key = self.running.pop(future)
        owners = self.meta[key][2]
        try:
            pointer = future.result()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # the task's own exception: a bad input, a crash after retries
            self.failed[key] = (_describe(self.nodes[key], exc), exc)
            return
        cached = getattr(future.state, "name", "") == "Cached"
        self.done[key] = pointer
        if not cached:
            for owner in owners:
                owner.ran.extend(pointer.get("ran", []))
                owner.ran_keys.update(pointer.get("ran_keys", []))


def make_runner(settings: Settings) -> tuple[Any, int]:
    """The Prefect task runner named by ``settings.runner`` and how many tasks to keep in flight."""
    limit = 2 * settings.workers
    if settings.runner == "threads":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=limit), limit
    if settings.runner == "processes":
        try:
            from prefect.task_runners import ProcessPoolTaskRunner
        except ImportError:  # Prefect before 3.4
            raise VoiceError("runner processes: this Prefect has no ProcessPoolTaskRunner; use threads or dask") from None
        return ProcessPoolTaskRunner(max_workers=limit), limit
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise VoiceError("runner dask: prefect-dask is not installed; pip install prefect-dask") from None
    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address), limit
    cluster = {"n_workers": settings.workers, "threads_per_worker": 2, "processes": True, "dashboard_address": ":0"}
    return DaskTaskRunner(cluster_kwargs=cluster), limit
