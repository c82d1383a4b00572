"""decode: any ffmpeg-readable input -> 16 kHz mono float32 (raw file), exact length kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..media.audio import ANALYSIS_RATE, decode_to_file
from ..signal.levels import SILENCE_DB, level_db
from .base import Context, Output, Stage
from .contracts import DecodeMeta, SourceFacts


def run(ctx: Context) -> Output:
    path = Path(ctx.params["path"])
    target = ctx.scratch / "audio.f32"
    samples, stream = decode_to_file(path, target, ANALYSIS_RATE)
    audio = np.memmap(target, dtype="<f4", mode="r")
    level = level_db(audio)
    del audio
    if level < SILENCE_DB:
        raise InputError(f"input {path}: is silent (no sound above {SILENCE_DB:g} dBFS); nothing to re-voice")
    meta = DecodeMeta(sample_rate=ANALYSIS_RATE, samples=samples, duration=samples / ANALYSIS_RATE,
                      source=SourceFacts(codec=stream.get("codec_name"),
                                         sample_rate=int(stream.get("sample_rate") or 0),
                                         channels=int(stream.get("channels") or 0),
                                         declared_duration=stream["declared_duration"]))
    return Output(meta, files={"audio.f32": target})


# 2: source.declared_duration (a truncated file is reported on every run, cached ones included).
STAGE = Stage("decode", 2, (), run, retries=0, reads_input=True)
