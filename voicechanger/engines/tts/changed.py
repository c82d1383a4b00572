"""A catalogue voice: a backend voice's audio with its formants moved by resampling, its pitch and
duration moved by one pitch-synchronous overlap-add (TD-PSOLA) of our own, then a spectral tilt.

Why not Praat's "Change gender" (which does the same steps): on the studio set its PSOLA left the
women's voices rougher than the plain voice by more than DNSMOS allows, and this overlap-add, whose
windows follow the new period and which leaves unvoiced stretches at their own spacing, scored
better there at the same settings (figures: benchmarks/README.md, "Voices"). Pitch marks still come
from Praat (cross-correlation pulses), so the analysis is the one the rest of the project uses.

Rate: a base voice without a rate of its own (Festival's clunits) is said at its own pace and the
whole duration change (the caller's ``rate`` over the voice's) is done in the same overlap-add, so
the audio goes through PSOLA once; one with a native rate (Silero) is asked for it. Word spans are
scaled by the ratio of the lengths, as festival._stretch does.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ...voices.catalogue import VoiceDef
from . import Synthesis, Voice

# The pitch analysis on the base voice (msu_ru_nsh: 5-95 % of F0 at 88-188 Hz).
PITCH_FLOOR_HZ = 75.0
PITCH_CEILING_HZ = 400.0
# Marks further apart than the floor's period are unvoiced; there the audio is cut every UNVOICED_S.
UNVOICED_S = 0.01
# Fewer voiced marks than this in a phrase: no median to move, the pitch is scaled by the voice's
# median over the base voice's typical one.
MIN_VOICED = 20
BASE_MEDIAN_HZ = 132.0


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


def shift_formants(audio: np.ndarray, ratio: float) -> np.ndarray:
    """The spectrum (formants and pitch) times ``ratio`` and the duration over it, by resampling."""
    from scipy.signal import resample_poly

    if abs(ratio - 1.0) < 1e-6:
        return audio.astype(np.float64)
    step = Fraction(ratio).limit_denominator(100)
    return resample_poly(audio.astype(np.float64), step.denominator, step.numerator)


def pitch_marks(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Praat's glottal pulses (s), empty where nothing is voiced."""
    from ..praat import call, parselmouth

    sound = parselmouth.Sound(audio, sampling_frequency=sample_rate)
    pulses = call(sound, "To PointProcess (periodic, cc)", PITCH_FLOOR_HZ, PITCH_CEILING_HZ)
    if call(pulses, "Get number of points") == 0:
        return np.zeros(0)
    return np.asarray(call(pulses, "To Matrix").values[0], dtype=np.float64)


def analysis_marks(pulses: np.ndarray, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """(mark times, period at each mark; nan where unvoiced): the pulses, and marks every UNVOICED_S
    across the gaps between them, so noise and silence are carried over too."""
    max_gap = 1.0 / PITCH_FLOOR_HZ
    edges = np.concatenate([[0.0], pulses, [duration]])
    times: list[np.ndarray] = []
    for a, b, pulse in zip(edges[:-1], edges[1:], [False, *[True] * len(pulses)]):
        if pulse:
            times.append(np.array([a]))
        if b - a > max_gap:
            n = int((b - a) / UNVOICED_S)
            times.append(a + (b - a) * np.arange(1, n) / n)
    marks = np.concatenate(times) if times else np.zeros(0)
    voiced = np.isin(marks, pulses)
    gaps = np.diff(marks, append=duration)
    periods = np.where(voiced & np.append(voiced[1:], False) & (gaps <= max_gap), gaps, np.nan)
    return marks, periods


def new_periods(periods: np.ndarray, voice: VoiceDef) -> np.ndarray:
    """Each voiced period moved so that the median F0 is the voice's and the log-F0 spread is scaled
    by its pitch range (as Change gender does); nan stays nan."""
    voiced = np.sort(periods[~np.isnan(periods)])
    median = BASE_MEDIAN_HZ
    if len(voiced) >= MIN_VOICED:  # over time, not over marks: a high stretch has more marks per second
        median = float(1 / voiced[np.searchsorted(np.cumsum(voiced), voiced.sum() / 2)])
    f0 = voice.median_f0 * np.exp(voice.pitch_range * np.log((1 / periods) / median))
    return 1 / f0


def overlap_add(audio: np.ndarray, sample_rate: int, marks: np.ndarray, periods: np.ndarray,
                targets: np.ndarray, duration: float) -> np.ndarray:
    """TD-PSOLA: Hann-windowed grains around the analysis marks, laid at the new periods; a grain is
    as wide as two of its new periods (constant overlap at any pitch factor), an unvoiced one as two of
    its own spacing. ``duration`` stretches the time axis."""
    n_out = int(round(len(audio) * duration))
    out = np.zeros(n_out + 2 * sample_rate // 10)
    spacing = np.diff(marks, append=len(audio) / sample_rate)
    hop = np.where(np.isnan(targets), np.maximum(spacing, 1.0 / sample_rate), targets)
    t, end = 0.0, n_out / sample_rate
    while t < end:
        i = min(int(np.searchsorted(marks, t / duration)), len(marks) - 1)
        if i > 0 and t / duration - marks[i - 1] < marks[i] - t / duration:
            i -= 1
        half = max(int(round(hop[i] * sample_rate)), 2)
        centre = int(round(marks[i] * sample_rate))
        a, b = max(centre - half, 0), min(centre + half, len(audio))
        window = 0.5 - 0.5 * np.cos(np.pi * np.arange(a - centre + half, b - centre + half) / half)
        start = int(round(t * sample_rate)) - (centre - a)
        grain = audio[a:b] * window
        if start < 0:
            grain, start = grain[-start:], 0
        out[start:start + len(grain)] += grain
        t += hop[i]
    return out[:n_out]


def change_voice(audio: np.ndarray, sample_rate: int, voice: VoiceDef, duration: float,
                 pitch: bool = True) -> np.ndarray:
    """The voice's formant ratio, register and ``duration`` factor applied to the base voice's audio.
    ``pitch=False``: the formants only (by resampling, which also moves the pitch and the duration by
    the ratio); the register and the duration are left to the prosody stage's PSOLA, so the audio goes
    through one pitch move, not two."""
    shifted = shift_formants(audio, voice.formant_ratio)
    if len(shifted) < 2 or not pitch:
        return np.clip(shifted, -1.0, 1.0).astype(np.float32)
    length = len(shifted) / sample_rate
    marks, periods = analysis_marks(pitch_marks(shifted, sample_rate), length)
    if len(marks) == 0:
        return shifted.astype(np.float32)
    out = overlap_add(shifted, sample_rate, marks, periods, new_periods(periods, voice),
                      duration * voice.formant_ratio)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


class ChangedVoice:
    """A backend voice made into another person by a VoiceDef's transform. It holds no process of its
    own: the base voice, loaded through get_voice, is closed with the others (close_voices).

    ``pitch=False`` (``formants_only()``, what the synthesize stage says phrases with): the formants
    and the tilt only; ``register`` then tells the prosody stage the median F0 and the pitch range to
    map the speaker's contour into, and its PSOLA is the only pitch move. Its spec differs, so its
    audio never shares a memo with the whole transform's (a sample, ``voice voices --sample``)."""

    def __init__(self, definition: VoiceDef, base: Voice, pitch: bool = True) -> None:
        self.definition = definition
        self.base = base
        self.pitch = pitch
        self.spec = definition.spec if pitch else f"{definition.spec}|pitch in prosody"
        self.sample_rate = base.sample_rate
        self.native_rate = bool(getattr(base, "native_rate", False))
        self._formants_only: ChangedVoice | None = None

    @property
    def register(self) -> tuple[float, float] | None:
        """(median F0 in Hz, pitch range) the prosody stage moves this voice's audio to; None when the
        audio is at its register already."""
        return None if self.pitch else (self.definition.median_f0, self.definition.pitch_range)

    def formants_only(self) -> "ChangedVoice":
        """This voice without its pitch move (one object per voice, so it dedupes by identity)."""
        if self.pitch and self._formants_only is None:
            self._formants_only = ChangedVoice(self.definition, self.base, pitch=False)
        return self._formants_only or self

    def synthesize(self, tokens: list[str], rate: float = 1.0) -> Synthesis:
        """The base voice's audio, transformed; ``rate`` multiplies the duration, as for any voice."""
        duration = rate / self.definition.rate
        if self.native_rate:
            said, duration = self.base.synthesize(tokens, rate=duration), 1.0
        else:
            said = self.base.synthesize(tokens, rate=1.0)
        audio = tilt(change_voice(said.audio, said.sample_rate, self.definition, duration, self.pitch),
                     self.definition.tilt_db)
        k = len(audio) / max(1, len(said.audio))
        end = len(audio) / said.sample_rate
        spans = None if said.word_spans is None else [(min(a * k, end), min(b * k, end)) for a, b in said.word_spans]
        return Synthesis(audio, said.sample_rate, spans)

    def warm_up(self) -> None:
        start = getattr(self.base, "warm_up", None)
        if start is not None:
            start()
