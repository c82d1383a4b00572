"""concat: every phrase placed at its original start, short fades, loudness normalised, encoded.

Works block by block (about a minute of audio at a time) through a raw timeline file in the scratch
folder, so memory does not grow with the recording's length; the output is the same, sample for
sample, as building the whole timeline in memory (see blockaudio).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..config import Settings
from ..signal.blockaudio import LoudnessMeter, encode_blocks, loudness_gain
from ..signal.fades import fade_edges
from ..store import Artifact
from . import contracts
from .base import Context, Output, Stage
from .contracts import ConcatMeta

BLOCK = 1 << 20  # samples per block: 65 s at 16 kHz, 4 MB as float32


@dataclass(frozen=True)
class Piece:
    """One re-voiced phrase: where it goes on the timeline and where its audio is."""

    start: int  # sample on the timeline
    source: Artifact  # a prosody artifact
    offset: int  # sample in the artifact's audio
    length: int

    def faded(self, fade: int) -> np.ndarray:
        audio = np.array(self.source.array("audio")[self.offset : self.offset + self.length], dtype=np.float32)
        return fade_edges(audio, fade)


def pieces(prosodies: list[Artifact], rate: int) -> list[Piece]:
    """Every phrase of every chunk, in chunk and phrase order."""
    found = []
    for artifact in prosodies:
        offset = 0
        for phrase in contracts.placed(artifact)["phrases"]:
            found.append(Piece(int(round(phrase["start"] * rate)), artifact, offset, phrase["length"]))
            offset += phrase["length"]
    return found


def timeline_blocks(placed: list[Piece], total: int, fade: int, block: int) -> Iterator[np.ndarray]:
    """The silent timeline of ``total`` samples with every piece added at its start, block by block.
    Within a block pieces are added in their list order, so overlapping ones sum as they would whole."""
    by_start = sorted(range(len(placed)), key=lambda i: placed[i].start)
    taken = 0
    active: dict[int, np.ndarray] = {}
    for first in range(0, total, block):
        last = min(total, first + block)
        while taken < len(by_start) and placed[by_start[taken]].start < last:
            active[by_start[taken]] = placed[by_start[taken]].faded(fade)
            taken += 1
        out = np.zeros(last - first, dtype=np.float32)
        for i in sorted(active):
            start, audio = placed[i].start, active[i]
            lo, hi = max(start, first), min(start + len(audio), last)
            if hi > lo:
                out[lo - first : hi - first] += audio[lo - start : hi - start]
        active = {i: audio for i, audio in active.items() if placed[i].start + len(audio) > last}
        yield out


def read_blocks(path: Path, gain: float | None, block: int) -> Iterator[np.ndarray]:
    """The raw float32 file's samples block by block, times ``gain`` (as float64, then back to float32)."""
    with open(path, "rb") as handle:
        while True:
            audio = np.fromfile(handle, dtype="<f4", count=block)
            if audio.size == 0:
                return
            yield audio if gain is None else (audio * gain).astype(np.float32)


def run(ctx: Context) -> Output:
    decoded = ctx.one("decode")
    prosodies = ctx.all("prosody")
    settings = ctx.settings.output
    rates = {contracts.placed(p)["sample_rate"] for p in prosodies} or {contracts.decoded(decoded)["sample_rate"]}
    (rate,) = rates
    total = int(round(contracts.decoded(decoded)["duration"] * rate))
    fade = int(settings.crossfade_ms / 1000 * rate)
    raw = ctx.scratch / "timeline.f32"
    meter, peak, silent = LoudnessMeter(rate), 0.0, True
    with open(raw, "wb") as handle:
        for audio in timeline_blocks(pieces(prosodies, rate), total, fade, BLOCK):
            audio.tofile(handle)
            meter.feed(audio)
            peak = max(peak, float(np.max(np.abs(audio))))
            silent = silent and not np.any(audio)
    gain, lufs = loudness_gain(meter, peak, silent, settings.loudness_lufs, settings.peak_dbfs)
    fmt = ctx.params["format"]
    target = ctx.scratch / f"output.{fmt}"
    encode_blocks(read_blocks(raw, gain, BLOCK), rate, target, fmt, mp3_kbps=settings.mp3_kbps)
    raw.unlink()
    meta: ConcatMeta = {
        "format": fmt,
        "file": target.name,
        "sample_rate": rate,
        "samples": total,
        "duration": total / rate,
        "lufs": round(lufs, 2) if np.isfinite(lufs) else None,
        "phrase_count": sum(len(contracts.placed(p)["phrases"]) for p in prosodies),
    }
    return Output(meta, files={target.name: target})


def warm_up(settings: Settings) -> None:
    """Import the loudness meter (pyloudnorm, scipy.signal: 1.5 s) ahead: concat runs last, after every
    chunk, so its import time would be added to the conversion's whole wall time."""
    import pyloudnorm  # noqa: F401
    import scipy.signal  # noqa: F401


STAGE = Stage(
    "concat", 3, ("output.loudness_lufs", "output.peak_dbfs", "output.crossfade_ms", "output.mp3_kbps"), run,
    key_params=("format",), warm_up=warm_up,
)
