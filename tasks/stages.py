"""One thin Prefect task per stage, named after it.

Each task makes sure one node of a recording's graph (voicechanger.graph.Node) is in the store, by
``Graph(store, settings).ensure(node)``, and returns a small JSON pointer to the artifact:
``{"stage", "key", "path", "ran", "ran_keys"}`` (``ran``: the stages this call really computed, ``ran_keys``
their nodes' keys; Graph.ensure also
rebuilds a missing input, so a pruned or corrupt upstream artifact is never trusted).

Caching: the Prefect cache key is the node's store key, so a warm rerun shows the task as Cached and
a run of the CLI, which writes the same keys, is reused. The result record (the pointer, as JSON)
lives beside the store in ``<cache>/.prefect-results``. A record can outlive its artifact (``voice
cache prune``), so the flow submits a node whose artifact is missing with ``refresh_cache=True``
(:func:`stage_task`): that run recomputes it and overwrites the record instead of trusting it.

Tags: ``cpu`` on every task, and ``gpu`` on the model stages (transcribe, synthesize) when they run
on CUDA; :func:`ensure_gpu_limit` creates the concurrency limit of 1 on tag ``gpu``.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from prefect import Task, task

from voicechanger.errors import EngineError, VoiceError
from voicechanger.graph import Graph, Node
from voicechanger.stages import STAGES
from voicechanger.store import MANIFEST, Store

RESULTS_DIR = ".prefect-results"
GPU_TAG = "gpu"
CPU_TAG = "cpu"

_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def store_for(cache_dir: str | Path) -> Store:
    """One Store per root per process (it remembers which artifacts it has already verified)."""
    root = str(Path(cache_dir).expanduser().resolve())
    with _stores_lock:
        store = _stores.get(root)
        if store is None:
            store = _stores[root] = Store(root)
        return store


def results_dir(cache_dir: str | Path) -> Path:
    """Where the Prefect result records of a store live (a pathlib.Path works without a block)."""
    return Path(cache_dir).expanduser().resolve() / RESULTS_DIR


def in_store(store: Store, node: Node) -> bool:
    """Cheap presence test (the manifest exists); Graph.ensure verifies the checksums when it reads."""
    return (store.path_of(node.name, node.key) / MANIFEST).is_file()


class Sealed:
    """Carries a parameter (a Node, the Settings) into a task untouched. Prefect visits dataclasses and
    pydantic models to find futures, and Dask rebuilds dataclasses and reads tuples as tasks (its
    graph spec), which mangles a Node; neither looks inside a plain object."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Sealed({type(self.value).__name__})"


def _unquote(value: Any) -> Any:
    return value.value if isinstance(value, Sealed) else value


def node_cache_key(context: Any, parameters: dict[str, Any]) -> str:
    """The Prefect cache key of a stage task: the node's store key (the same key the CLI writes)."""
    return _unquote(parameters["node"]).key


def _retry_unless_user_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a crash (a model or an external process that fell over), not a bad input or setting, and
    never an interrupted run."""
    try:
        state.result()
    except EngineError:
        return True
    except (VoiceError, KeyboardInterrupt):
        return False
    except BaseException:
        return True
    return False


def run_stage(node: Node, cache_dir: str, settings: Any) -> dict[str, Any]:
    node, settings = _unquote(node), _unquote(settings)
    graph = Graph(store_for(cache_dir), settings)
    artifact = graph.ensure(node)
    return {"stage": node.name, "key": node.key, "path": str(artifact.path), "ran": list(graph.ran),
            "ran_keys": sorted(graph.ran_keys)}


def _stage_task(name: str, retries: int) -> Task:
    def body(node: Node, cache_dir: str, settings: Any, title: str = "") -> dict[str, Any]:
        return run_stage(node, cache_dir, settings)

    body.__name__ = body.__qualname__ = name
    body.__doc__ = f"Make sure the {name} artifact of one node is in the store; return a pointer to it."
    return task(
        name=name,
        task_run_name="{title}",
        cache_key_fn=node_cache_key,
        persist_result=True,
        result_serializer="json",
        retries=retries,
        retry_delay_seconds=2 if retries else 0,
        retry_condition_fn=_retry_unless_user_error if retries else None,
        tags=[CPU_TAG],
    )(body)


# One task per stage of the registry, with the stage's own retries (none for a stage that fails only
# for a reason a retry does not fix: a bad input, a full disk, a missing encoder).
TASKS: dict[str, Task] = {stage.name: _stage_task(stage.name, stage.retries) for stage in STAGES}


@lru_cache(maxsize=None)
def stage_task(stage: str, results: str, gpu: bool = False, refresh: bool = False) -> Task:
    """The task of ``stage`` configured for one store: records in ``results``, tag gpu when the stage
    runs a model on CUDA, and ``refresh`` for a node whose artifact is missing (never trust a stale
    record)."""
    tags = {CPU_TAG, GPU_TAG} if gpu else {CPU_TAG}
    return TASKS[stage].with_options(result_storage=Path(results), tags=tags, refresh_cache=refresh)


def ensure_gpu_limit(limit: int = 1) -> None:
    """Create the concurrency limit on tag ``gpu`` (at most ``limit`` model tasks on the GPU at once)
    unless it exists; an existing limit, perhaps raised by an operator, is left alone."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    name = f"tag:{GPU_TAG}"  # Prefect 3 keeps tag limits as global limits named tag:<tag>
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
            return
        except ObjectNotFound:
            pass
        try:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=limit))
        except ObjectAlreadyExists:
            pass
