"""concat: every phrase placed at its original start, short fades, loudness normalised, encoded."""

from __future__ import annotations

import numpy as np

from ..audio import encode, normalize_loudness
from .base import Context, Output, Stage


def fade_edges(audio: np.ndarray, samples: int) -> np.ndarray:
    """Raised-cosine fade in and out, so phrase edges never click."""
    n = min(samples, len(audio) // 2)
    if n <= 0:
        return audio
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)
    audio = audio.copy()
    audio[:n] *= ramp
    audio[-n:] *= ramp[::-1]
    return audio


def assemble(chunks: list[tuple[dict, np.ndarray]], total: int, rate: int, fade: int) -> np.ndarray:
    """Lay every phrase of every chunk on a silent timeline of ``total`` samples at its slot start."""
    timeline = np.zeros(total, dtype=np.float32)
    for meta, audio in chunks:
        offset = 0
        for phrase in meta["phrases"]:
            piece = fade_edges(np.asarray(audio[offset : offset + phrase["length"]], dtype=np.float32), fade)
            offset += phrase["length"]
            start = int(round(phrase["start"] * rate))
            end = min(total, start + len(piece))
            if end > start:
                timeline[start:end] += piece[: end - start]
    return timeline


def run(ctx: Context) -> Output:
    decoded = ctx.one("decode")
    prosodies = ctx.all("prosody")
    settings = ctx.settings.output
    rates = {p.meta["sample_rate"] for p in prosodies} or {decoded.meta["sample_rate"]}
    (rate,) = rates
    total = int(round(decoded.meta["duration"] * rate))
    fade = int(settings.crossfade_ms / 1000 * rate)
    timeline = assemble([(p.meta, p.array("audio")) for p in prosodies], total, rate, fade)
    timeline, lufs = normalize_loudness(timeline, rate, settings.loudness_lufs, settings.peak_dbfs)
    fmt = ctx.params["format"]
    target = ctx.scratch / f"output.{fmt}"
    encode(timeline, rate, target, fmt, mp3_kbps=settings.mp3_kbps)
    meta = {
        "format": fmt,
        "file": target.name,
        "sample_rate": rate,
        "samples": total,
        "duration": total / rate,
        "lufs": round(lufs, 2) if np.isfinite(lufs) else None,
        "phrases": sum(len(p.meta["phrases"]) for p in prosodies),
    }
    return Output(meta, files={target.name: target})


STAGE = Stage(
    "concat", 1, ("output.loudness_lufs", "output.peak_dbfs", "output.crossfade_ms", "output.mp3_kbps"), run,
    key_params=("format",),
)
