"""The stage contract: a named, versioned plain function from input artifacts to one output artifact.

key(stage) = sha256(stage name, stage version, the settings fields it reads, keys of its inputs,
its parameters). Bump ``version`` whenever the stage's output for the same inputs would change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ..config import Settings
from ..store import Artifact, Store, stable_key


@dataclass
class Output:
    """What a stage returns; the runner writes it to the store under the stage's key."""

    meta: Mapping[str, Any]   # the stage's type in contracts.py
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    files: dict[str, Path | bytes] = field(default_factory=dict)


class Memo:
    """Per-phrase results inside a chunk's stage, kept in the store under their own keys.

    A chunk node reruns when any of its phrases changes (an edited script cue, a lexicon entry); the
    memo lets it compute only the phrases whose own inputs changed and take the others as they were.
    Phrases are memos inside chunk nodes rather than nodes of their own: a 10-minute recording has
    ~150 phrases, which as Prefect tasks (3 stages each) would bury the chunk-level graph in the UI
    under ~450 task runs of milliseconds and add ~10 ms of orchestration to each. A memo is stored
    only on success, like every artifact; it skips the fsync, since a torn one fails verification
    and is recomputed."""

    def __init__(self, store: Store | None) -> None:
        self.store = store
        self.computed: dict[str, int] = {}

    @staticmethod
    def key(stage: str, *parts: Any) -> str:
        return stable_key(stage, *parts)

    def get(self, stage: str, key: str) -> Artifact | None:
        return self.store.get(stage, key) if self.store is not None else None

    def put(self, stage: str, key: str, meta: Mapping[str, Any], arrays: dict[str, np.ndarray] | None = None) -> None:
        self.computed[stage] = self.computed.get(stage, 0) + 1
        if self.store is not None:
            self.store.put(stage, key, meta, arrays=arrays or {}, durable=False)


@dataclass
class Context:
    """Everything a stage may look at: its inputs (in dependency order), settings, parameters, and
    the memo of per-phrase results."""

    inputs: list[Artifact]
    settings: Settings
    params: dict[str, Any]
    scratch: Path
    memo: Memo = field(default_factory=lambda: Memo(None))

    def one(self, stage: str) -> Artifact:
        found = self.all(stage)
        if len(found) != 1:
            raise LookupError(f"expected one {stage} input, got {len(found)}")
        return found[0]

    def all(self, stage: str) -> list[Artifact]:
        return [a for a in self.inputs if a.stage == stage]


@dataclass(frozen=True)
class Stage:
    name: str
    version: int
    reads: tuple[str, ...]          # dotted settings fields that change this stage's output
    run: Callable[[Context], Output]
    uses_model: bool = False        # runs a model on the settings' device (tag gpu on cuda)
    key_params: tuple[str, ...] = ()  # parameters that belong in the key (e.g. a chunk's span)
    # Loads what run() will need (a model, a voice process) ahead of time; a runner calls it on a
    # thread that would otherwise wait. Errors are left for run() to raise.
    warm_up: Callable[[Settings], None] | None = None
    # How often an orchestrator may try a failed run again: 0 for a stage that fails only for reasons a
    # retry does not fix (a bad input, a bad script), 1 where an engine may have died under it.
    retries: int = 1
    reads_input: bool = False  # reads the recording's file, not only the store: runs where that file is
