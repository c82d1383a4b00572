"""A catalogue voice: a backend voice's audio through Praat's "Change gender", then a spectral tilt.

"Change gender" (parselmouth) moves the formants by resampling (``formant_ratio``), takes the pitch
to a new median and range by PSOLA, and can change the duration in the same pass. On Festival's
voice it kept the words heard (design.md: Whisper base WER 0.172 at ratio 1.18 / 200 Hz, 0.151 at
0.92 / 95 Hz, against 0.194 plain) and costs ~0.01 s per second of audio.

Rate: a base voice without a rate of its own (Festival's clunits) is said at its own pace and the
whole duration change (the caller's ``rate`` over the voice's) is done in the Change gender pass,
so the audio goes through PSOLA once; one with a native rate (Silero) is asked for it. Word spans
are scaled by the ratio of the lengths, as festival._stretch does.
"""

from __future__ import annotations

import numpy as np

from ...voices import VoiceDef
from . import Synthesis, Voice

# The pitch analysis Change gender runs on the base voice (msu_ru_nsh: 5-95 % of F0 at 88-188 Hz).
PITCH_FLOOR_HZ = 75.0
PITCH_CEILING_HZ = 400.0


def tilt(audio: np.ndarray, tilt_db: float) -> np.ndarray:
    """A first-order tilt: y[n] = x[n] - c·x[n-1], whose gain at the Nyquist frequency is ``tilt_db``
    above its gain at 0 Hz (c > 0 brighter, c < 0 darker), at the input's RMS."""
    if abs(tilt_db) < 1e-6 or len(audio) < 2:
        return audio
    g = 10 ** (tilt_db / 20)
    c = (g - 1) / (g + 1)
    out = audio.astype(np.float64).copy()
    out[1:] -= c * audio[:-1]
    rms_in, rms_out = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))), float(np.sqrt(np.mean(out ** 2)))
    if rms_out > 0:
        out *= rms_in / rms_out
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def change_gender(audio: np.ndarray, sample_rate: int, voice: VoiceDef, duration: float) -> np.ndarray:
    """Praat's Change gender with the voice's formant ratio, median and range, seeded."""
    from ..praat import call, parselmouth, seeded

    sound = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=sample_rate)
    with seeded():
        out = call(sound, "Change gender", PITCH_FLOOR_HZ, PITCH_CEILING_HZ, voice.formant_ratio, voice.median_f0,
                   voice.pitch_range, duration)
    return np.clip(out.values[0], -1.0, 1.0).astype(np.float32)


class ChangedVoice:
    """A backend voice made into another person by a VoiceDef's transform. It holds no process of its
    own: the base voice, loaded through get_voice, is closed with the others (close_voices)."""

    def __init__(self, definition: VoiceDef, base: Voice) -> None:
        self.definition = definition
        self.base = base
        self.spec = definition.spec
        self.sample_rate = base.sample_rate
        self.native_rate = bool(getattr(base, "native_rate", False))

    def synthesize(self, tokens: list[str], rate: float = 1.0) -> Synthesis:
        """The base voice's audio, transformed; ``rate`` multiplies the duration, as for any voice."""
        duration = rate / self.definition.rate
        if self.native_rate:
            said, duration = self.base.synthesize(tokens, rate=duration), 1.0
        else:
            said = self.base.synthesize(tokens, rate=1.0)
        audio = tilt(change_gender(said.audio, said.sample_rate, self.definition, duration), self.definition.tilt_db)
        k = len(audio) / max(1, len(said.audio))
        end = len(audio) / said.sample_rate
        spans = None if said.word_spans is None else [(min(a * k, end), min(b * k, end)) for a, b in said.word_spans]
        return Synthesis(audio, said.sample_rate, spans)

    def warm_up(self) -> None:
        start = getattr(self.base, "warm_up", None)
        if start is not None:
            start()
