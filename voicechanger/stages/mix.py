"""mix: the new voice at 48 kHz with the original's audio as ``mix.mode`` says, loudness normalised, encoded.

Runs after concat for video outputs and for the ``gaps`` and ``voiceover`` modes (an audio output in
``replace`` mode is concat's file, unchanged). Reads concat's voice (16 kHz mono wav, normalised), the
phrases (prosody) and the input itself, decoded again at 48 kHz with its stereo kept: the 16 kHz mono
analysis copy is not fit to be heard. Two passes over a raw scratch file, so memory does not grow with
length: mix and meter, then the gain (to the target loudness, capped at the peak: the voice never
clips in the mix) and the encode.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import numpy as np

from ..audio import PcmStream
from ..blockaudio import LoudnessMeter, encode_blocks, loudness_gain
from ..mix import MIX_RATE, Ducking, mixed_blocks, sounding_span
from ..store import Artifact
from .base import Context, Output, Stage
from .concat import BLOCK, pieces, read_blocks


def voice_spans(prosodies: list[Artifact]) -> list[tuple[float, float]]:
    """(start, end) in seconds on the output's timeline of where the new voice is heard, sorted."""
    spans = []
    for artifact in prosodies:
        rate, audio = artifact.meta["sample_rate"], artifact.array("audio")
        for piece in pieces([artifact], rate):
            heard = sounding_span(audio[piece.offset : piece.offset + piece.length], rate)
            if heard is not None:
                spans.append(((piece.start + heard[0]) / rate, (piece.start + heard[1]) / rate))
    return sorted(spans)


def original_level(decoded: Artifact, target_lufs: float) -> float:
    """The gain that brings the original to the target loudness, so that its speech, which the voice
    replaces, and the voice (normalised by concat to the same target) sit at one level."""
    audio = decoded.raw_f32("audio.f32")
    meter = LoudnessMeter(decoded.meta["sample_rate"])
    for first in range(0, len(audio), BLOCK):
        meter.feed(audio[first : first + BLOCK])
    loudness = meter.integrated() if meter.samples >= meter.rate // 2 else float("-inf")
    return float(10 ** ((target_lufs - loudness) / 20)) if np.isfinite(loudness) else 1.0


def run(ctx: Context) -> Output:
    decoded, voice, prosodies = ctx.one("decode"), ctx.one("concat"), ctx.all("prosody")
    settings, output = ctx.settings.mix, ctx.settings.output
    keep = settings.mode != "replace"
    channels = min(2, max(1, int(decoded.meta["source"]["channels"] or 1))) if keep else 1
    spans = voice_spans(prosodies)
    level = original_level(decoded, output.loudness_lufs) if keep else 0.0
    raw = ctx.scratch / "mix.f32"
    meters = [LoudnessMeter(MIX_RATE) for _ in range(channels)]
    peak, silent, frames = 0.0, True, 0
    with ExitStack() as streams, open(raw, "wb") as handle:
        speech = streams.enter_context(PcmStream(voice.file(voice.meta["file"]), MIX_RATE, 1, ctx.scratch / "voice.log"))
        source = (streams.enter_context(PcmStream(Path(ctx.params["path"]), MIX_RATE, channels, ctx.scratch / "in.log"))
                  if keep else None)
        for block in mixed_blocks(speech, source, spans, Ducking.of(settings), level, channels):
            block.tofile(handle)
            for channel, meter in enumerate(meters):
                meter.feed(block[:, channel])
            peak = max(peak, float(np.max(np.abs(block))))
            silent = silent and not np.any(block)
            frames += len(block)
    gain, lufs = loudness_gain(meters, peak, silent, output.loudness_lufs, output.peak_dbfs)
    fmt = ctx.params["format"]
    target = ctx.scratch / f"output.{fmt}"
    encode_blocks(read_blocks(raw, gain, BLOCK * channels), MIX_RATE, target, fmt, mp3_kbps=output.mp3_kbps,
                  channels=channels)
    raw.unlink()
    meta = {
        "format": fmt,
        "file": target.name,
        "mode": settings.mode,
        "sample_rate": MIX_RATE,
        "channels": channels,
        "samples": frames,
        "duration": frames / MIX_RATE,
        "lufs": round(lufs, 2) if np.isfinite(lufs) else None,
        "phrases": voice.meta["phrases"],
        "spans": [[round(a, 3), round(b, 3)] for a, b in spans],
    }
    return Output(meta, files={target.name: target})


STAGE = Stage(
    "mix", 1,
    ("mix.mode", "mix.duck_db", "mix.attack_ms", "mix.release_ms", "mix.crossfade_ms", "output.loudness_lufs",
     "output.peak_dbfs", "output.mp3_kbps"),
    run, key_params=("format",),
)
