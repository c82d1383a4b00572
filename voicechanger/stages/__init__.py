"""The stages of one recording, one module each, and their one ordered registry (``STAGES``): the plan,
the progress display, the summaries, the Prefect tasks (with their retries) and the tests read it. A
runner or a test that needs other stages passes another registry (``dataclasses.replace(STAGES,
stress=...)``) rather than patching this one."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterator

from . import chunk, concat, decode, mix, prosody, script, speakers, stress, synthesize, transcribe, transcript
from .base import Context, Output, Stage


@dataclass(frozen=True)
class Stages:
    """Every stage, in pipeline order (the order of progress rows, summaries and the flow's priorities)."""

    decode: Stage
    chunk: Stage
    speakers: Stage
    transcribe: Stage
    script: Stage  # a scripted chunk's phrases, in place of transcribe
    stress: Stage
    synthesize: Stage
    prosody: Stage
    transcript: Stage
    concat: Stage
    mix: Stage

    def __iter__(self) -> Iterator[Stage]:
        return (getattr(self, f.name) for f in fields(self))

    def __len__(self) -> int:
        return len(fields(self))

    def names(self) -> tuple[str, ...]:
        return tuple(stage.name for stage in self)

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __getitem__(self, name: str) -> Stage:
        for stage in self:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def rank(self, name: str) -> int:
        """A stage's place in the order; anything else (a per-phrase memo in the store) comes after."""
        names = self.names()
        return names.index(name) if name in names else len(names)


STAGES = Stages(decode.STAGE, chunk.STAGE, speakers.STAGE, transcribe.STAGE, script.STAGE, stress.STAGE,
                synthesize.STAGE, prosody.STAGE, transcript.STAGE, concat.STAGE, mix.STAGE)

__all__ = ["STAGES", "Context", "Output", "Stage", "Stages"]
