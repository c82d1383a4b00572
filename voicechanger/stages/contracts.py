"""What each stage's artifact says about itself: its metadata, one type per stage.

A stage builds its metadata as its type; a reader takes it through the stage's reader below
(``decoded(artifact)["sample_rate"]``), so a key one side renames is an error the other side's mypy
sees. The store keeps metadata as JSON: these types describe it, they do not check it at run time
(the store's checksums do that).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, TypedDict, TypeVar, cast

from ..engines.speakers import SpeakerMap
from ..store import Artifact
from ..text.phrases import Phrase, SaidPhrase, StressedPhrase

M = TypeVar("M", bound=Mapping[str, Any])


class SourceFacts(TypedDict):
    codec: str | None
    sample_rate: int
    channels: int
    declared_duration: float | None   # what the container says: far more than decoded = truncated


class DecodeMeta(TypedDict):
    sample_rate: int
    samples: int
    duration: float
    source: SourceFacts


class ChunkMeta(TypedDict):
    sample_rate: int
    spans: list[list[int]]    # [first, last) samples of each chunk


class Coverage(TypedDict):
    """How much of a chunk's speech (Silero VAD, seconds) its words cover."""

    speech: float
    covered: float
    uncovered: list[list[float]]   # [start, end] in the recording where no word covers the speech


class _HeardMeta(TypedDict):
    index: int
    span: list[int]
    language: str
    truncated: bool
    segments: list[dict[str, Any]]
    phrases: list[Phrase]


class TranscribeMeta(_HeardMeta, total=False):
    """transcribe's (and script's, which has no time limit, loops or coverage) phrases of one chunk."""

    skipped_from: float | None     # where the skipped speech starts (s) when the time limit cut the chunk
    loops: list[dict[str, Any]]
    coverage: Coverage


class TranscriptMeta(TypedDict):
    recording: str
    phrase_count: int


class StressMeta(TypedDict):
    index: int
    span: list[int]
    phrases: list[StressedPhrase]


class _SynthesizeMeta(TypedDict):
    index: int
    sample_rate: int
    voice: str
    phrases: list[SaidPhrase]
    fresh: int                # phrases said now, not from the memo: what a re-dub re-did
    # per voice (as "voice" indexes them): the (median F0 Hz, pitch range) the prosody stage moves its
    # audio to, or None when it is at its register already
    registers: list[tuple[float, float] | None]


class SynthesizeMeta(_SynthesizeMeta, total=False):
    voices: list[str]         # with speakers: the chunk's voices, which SaidPhrase["voice"] indexes


class PlacedPhrase(TypedDict):
    start: float
    end: float
    length: int
    anchors: int


class ProsodyMeta(TypedDict):
    index: int
    sample_rate: int
    phrases: list[PlacedPhrase]
    squeeze: dict[str, Any]


class ConcatMeta(TypedDict):
    format: str
    file: str
    sample_rate: int
    samples: int
    duration: float
    lufs: float | None
    phrase_count: int


class _MixFacts(TypedDict):
    channels: int
    samples: int
    lufs: float | None


class MixFacts(_MixFacts, total=False):
    """What the mix measured of the file it wrote (with the original kept: its level and the ducking)."""

    original_speech_lufs: float | None
    voice_gain_db: float | None
    voice_lowered_db: float | None
    speaker: list[list[float]]   # where the original's speaker speaks (s), which the voice gives way to


class MixMeta(MixFacts):
    format: str
    file: str
    mode: str                 # "replace" | "keep" (the original under the voice)
    sample_rate: int
    duration: float
    phrase_count: int
    spans: list[list[float]]


def reader(kind: type[M]) -> Callable[[Artifact], M]:
    """``reader(DecodeMeta)(artifact)``: the artifact's metadata, typed as its stage's."""
    def read(artifact: Artifact) -> M:
        return cast(M, artifact.meta)
    return read


decoded = reader(DecodeMeta)
chunked = reader(ChunkMeta)
heard = reader(TranscribeMeta)     # a transcribe or a script artifact
stressed = reader(StressMeta)
said = reader(SynthesizeMeta)
placed = reader(ProsodyMeta)
concatenated = reader(ConcatMeta)
speakers_found = reader(SpeakerMap)
