"""speakers: who speaks when in the whole recording (engines/speakers.py, voice_encoder.py, speaker_clusters.py), from the decoded audio.

One node per recording, keyed by the decode artifact and ``speakers.count``: the turns are the
recording's, so every chunk reads the same speakers, and a voice or a script change reruns nothing
here. Its meta is the SpeakerMap. The encoder runs on the CPU whatever the device
(a 10-minute recording: ~1.7 s of encoder and ~1.5 s of Silero on 2 cores), so the stage asks for no GPU.
"""

from __future__ import annotations

import numpy as np

from ..config import Settings
from . import contracts
from .base import Context, Output, Stage


def _count(settings: Settings) -> int | None:
    value = settings.get("speakers.count")
    return None if value in (None, "auto") else int(value)


def run(ctx: Context) -> Output:
    from ..engines.speakers import find_speakers

    decoded = ctx.one("decode")
    audio = np.asarray(decoded.raw_f32("audio.f32"), dtype=np.float32)
    found = find_speakers(audio, int(contracts.decoded(decoded)["sample_rate"]), _count(ctx.settings))
    return Output(dict(found))


def warm_up(_settings: Settings) -> None:
    from ..engines.voice_encoder import encoder

    encoder()


# 1: Resemblyzer windows of 1.5 s in Silero's speech, clustered by normalised similarity, Viterbi turns.
# 2: speakers found from the windows of at least 1.2 s; shorter ones join the nearest.
STAGE = Stage("speakers", 2, ("speakers.count",), run, warm_up=warm_up, retries=0)
