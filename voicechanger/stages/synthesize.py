"""synthesize: each phrase said by the chosen voice.

Where the voice has a native rate control (Silero's SSML rate), the phrase is first fitted to the
original's length with it, and PSOLA in the prosody stage only does the rest. Festival's clunits voice
ignores Duration_Stretch (measured: identical audio at 0.7, 1.0 and 1.5), so any fitting there would
be a second PSOLA pass on top of the prosody stage's: it is said once at its natural rate instead.

Only a phrase the voice cannot say (Unsayable: nothing in it it can read) is recorded as unsaid, with
its reason in ``error``; any other failure (an engine that died, hung or was interrupted) propagates,
so the stage fails and nothing is stored (version 2: version 1 stored those as unsaid phrases).
"""

from __future__ import annotations

import logging

import numpy as np

from ..config import Settings
from .base import Context, Output, Stage

log = logging.getLogger(__name__)


def _voice(settings: Settings):
    """The settings' voice on the settings' device, loaded once per process (engines.tts.get_voice)."""
    from ..engines.asr import resolve_device
    from ..engines.tts import get_voice

    return get_voice(settings.voice, device=resolve_device(settings.device))


def run(ctx: Context) -> Output:
    from ..engines.tts import Unsayable, synthesize_to_fit

    stressed = ctx.one("stress")
    voice = _voice(ctx.settings)
    pieces: list[np.ndarray] = []
    phrases = []
    offset = 0
    for phrase in stressed.meta["phrases"]:
        tokens = [t["text"] for t in phrase["tokens"]]
        entry = {"offset": offset, "length": 0, "word_spans": None, "rate": 1.0, "error": None}
        if tokens:
            target = phrase["end"] - phrase["start"]
            try:
                if ctx.settings.prosody.fit_rate and getattr(voice, "native_rate", False):
                    synthesis, rate = synthesize_to_fit(voice, tokens, target)
                else:
                    synthesis, rate = voice.synthesize(tokens), 1.0
            except Unsayable as exc:
                log.warning("phrase at %.2f s not synthesized: %s", phrase["start"], exc)
                entry["error"] = str(exc)
            else:
                audio = np.asarray(synthesis.audio, dtype=np.float32)
                pieces.append(audio)
                entry.update(length=len(audio), word_spans=synthesis.word_spans, rate=round(rate, 4))
                offset += len(audio)
        phrases.append(entry)
    audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    meta = {"index": stressed.meta["index"], "sample_rate": voice.sample_rate, "voice": voice.spec, "phrases": phrases}
    return Output(meta, arrays={"audio": audio})


def warm_up(settings: Settings) -> None:
    start = getattr(_voice(settings), "warm_up", None)
    if start is not None:
        start()


STAGE = Stage("synthesize", 2, ("voice", "prosody.fit_rate"), run, uses_model=True, warm_up=warm_up)
