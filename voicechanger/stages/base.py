"""The stage contract: a named, versioned plain function from input artifacts to one output artifact.

key(stage) = sha256(stage name, stage version, the settings fields it reads, keys of its inputs,
its parameters). Bump ``version`` whenever the stage's output for the same inputs would change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..config import Settings
from ..store import Artifact


@dataclass
class Output:
    """What a stage returns; the runner writes it to the store under the stage's key."""

    meta: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    files: dict[str, Path | bytes] = field(default_factory=dict)


@dataclass
class Context:
    """Everything a stage may look at: its inputs (in dependency order), settings, parameters."""

    inputs: list[Artifact]
    settings: Settings
    params: dict[str, Any]
    scratch: Path

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
