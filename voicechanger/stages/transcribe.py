"""transcribe: one chunk -> word-timed Whisper segments and the phrases cut from them."""

from __future__ import annotations

import numpy as np

from ..config import Settings
from ..engines import asr
from ..text.phrases import Phrase, split_phrases
from . import contracts
from .base import Context, Output, Stage
from .contracts import Coverage, TranscribeMeta

READS = (
    "whisper.model",
    "whisper.language",
    "whisper.beam_size",
    "whisper.batch_size",
    "whisper.compute_type",
    "whisper.max_seconds_per_audio_second",
)


def options(ctx: Context) -> asr.AsrOptions:
    w = ctx.settings.whisper
    return asr.AsrOptions(w.model, w.language, w.beam_size, w.batch_size, w.compute_type, w.max_seconds_per_audio_second)


def _shift(item: dict, offset: float) -> dict:
    return {**item, "start": round(item["start"] + offset, 3), "end": round(item["end"] + offset, 3)}


def run(ctx: Context) -> Output:
    decoded = ctx.one("decode")
    rate = contracts.decoded(decoded)["sample_rate"]
    first, last = ctx.params["span"]
    audio = np.array(decoded.raw_f32("audio.f32")[first:last], dtype=np.float32)
    result = asr.transcribe(audio, options(ctx), ctx.settings.device)
    offset = first / rate
    segments = [
        {**_shift(s, offset), "words": [_shift(w, offset) for w in s["words"]]} for s in result["segments"]
    ]
    phrases: list[Phrase] = [
        {
            "start": words[0]["start"],
            "end": words[-1]["end"],
            "text": "".join(w["word"] for w in words).strip(),
            "words": words,
        }
        for words in split_phrases(segments)
    ]
    meta: TranscribeMeta = {
        "index": ctx.params["index"],
        "span": [first, last],
        "language": result["language"],
        "truncated": result["truncated"],
        # where the skipped speech starts in the recording (s), when the time limit cut the chunk short
        "skipped_from": None if result["skipped_from"] is None else round(result["skipped_from"] + offset, 3),
        "segments": segments,
        "phrases": phrases,
        # loops cut back, and how much of the chunk's speech (Silero VAD) the words cover
        "loops": [_shift(loop, offset) for loop in result["loops"]],
        "coverage": Coverage(speech=result["coverage"]["speech"], covered=result["coverage"]["covered"],
                             uncovered=[[round(a + offset, 2), round(b + offset, 2)]
                                        for a, b in result["coverage"]["uncovered"]]),
    }
    return Output(meta)


def warm_up(settings: Settings) -> None:
    """Load the Whisper model (importing ctranslate2 and faster-whisper with it: ~0.8 s together)."""
    asr.load_model(settings.whisper.model, settings.device, settings.whisper.compute_type)


# 3: loops the audio does not hold are cut back, speech no word covers is decoded again, `coverage`.
# 4: a run whose second decoding hears one copy but leaves the others' speech without words is kept.
STAGE = Stage("transcribe", 4, READS, run, uses_model=True, key_params=("span",), warm_up=warm_up)
