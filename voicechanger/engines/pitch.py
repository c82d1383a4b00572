"""Pitch analysis for the prosody transfer: the source's contour (two-pass Praat autocorrelation,
blips and octave jumps dropped, short gaps bridged, hum tracks unvoiced), a speaker's floor/ceiling
and log-F0 register over a chunk, the synthetic voice's pitch (VoicePitch), and the mapping of a
source contour into the voice's range."""

from __future__ import annotations

import numpy as np

from ..signal.cleanup import hum_track
from ..signal.levels import true_runs

_MAX_GAP_S = 0.12        # source unvoiced gaps up to this are bridged in log-F0
Bounds = tuple[float, float]
_RANGE_STEP_S = 0.03  # time step of the wide first pass over a whole chunk: its quartiles need no finer


def _sound(audio: np.ndarray, sr: int):
    from .praat import parselmouth

    return parselmouth.Sound(np.asarray(audio, dtype=np.float64), sampling_frequency=float(sr))


def pitch_contour(audio: np.ndarray, sr: int, *, step: float = 0.01, fmin: float = 60,
                  fmax: float = 500) -> tuple[np.ndarray, np.ndarray]:
    """(times, f0 in Hz with 0 for unvoiced) via Praat's autocorrelation pitch (to_pitch_ac)."""
    audio = np.asarray(audio, dtype=np.float64)
    # Praat needs at least a few periods of the floor pitch in the signal.
    if len(audio) < int(sr * 3.0 / fmin) + 2 or not np.any(audio):
        n = max(int(len(audio) / sr / step), 0)
        return (np.arange(n) + 0.5) * step, np.zeros(n)
    p = _sound(audio, sr).to_pitch_ac(time_step=step, pitch_floor=fmin, pitch_ceiling=fmax)
    f0 = np.nan_to_num(p.selected_array["frequency"].astype(np.float64), nan=0.0)
    return np.asarray(p.xs(), dtype=np.float64), f0



def _wide_pass(audio: np.ndarray, sr: int, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Pitch over the whole range a voice may have (60-600 Hz): the first pass, whose voiced frames
    set a speaker's own floor and ceiling."""
    return pitch_contour(audio, sr, step=step, fmin=60, fmax=600)


def _speaker_bounds(f0: np.ndarray) -> Bounds | None:
    """Pitch floor/ceiling from a wide pass's voiced frames: Hirst's 0.75 * Q1; 1.75 * Q3 rather than
    1.5, which halves the pitch of expressive peaks. None with too few voiced frames."""
    v = f0[f0 > 0]
    if len(v) < 10:
        return None
    q1, q3 = np.percentile(v, [25, 75])
    fmin = float(np.clip(0.75 * q1, 50, 300))
    return fmin, float(np.clip(1.75 * q3, fmin * 2.5, 900))


def robust_contour(audio: np.ndarray, sr: int, *, step: float = 0.01,
                    bounds: Bounds | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two-pass pitch: a wide first pass sets floor/ceiling (_speaker_bounds), unless ``bounds`` gives
    them already (one pass)."""
    if bounds is None:
        t, f = _wide_pass(audio, sr, step)
        bounds = _speaker_bounds(f)
        if bounds is None:
            return t, f
    return pitch_contour(audio, sr, step=step, fmin=bounds[0], fmax=bounds[1])


def _no_hum(f0: np.ndarray, step: float) -> np.ndarray:
    """A source pitch track without the runs that hold a mains harmonic steady (cleanup.hum_track)."""
    return np.where(hum_track(f0, step), 0.0, f0)


# The source's pitch is read from its analysis copy (cleanup.analysis_copy: rumble and mains hum taken
# out), and a track that holds a hum harmonic steady is unvoiced: the voice follows the speaker, not hum.

def speaker_bounds(audio: np.ndarray, sr: int) -> Bounds | None:
    """The pitch floor/ceiling of a speaker over a whole chunk (its analysis copy), from one coarse
    wide pass: every phrase of the chunk then needs one pitch pass instead of two (``source_contour``)."""
    return _speaker_bounds(_no_hum(_wide_pass(audio, sr, _RANGE_STEP_S)[1], _RANGE_STEP_S))


def chunk_register(audio: np.ndarray, sr: int, bounds: Bounds | None) -> tuple[float, float] | None:
    """The speaker's log-F0 (median, spread) over a chunk's whole audio (its analysis copy), from one
    coarse pass within ``bounds`` (``speaker_bounds``); None without enough voiced frames."""
    if bounds is None:
        return None
    f0 = pitch_contour(audio, sr, step=_RANGE_STEP_S, fmin=bounds[0], fmax=bounds[1])[1]
    return pitch_register(_bridge(_no_hum(f0, _RANGE_STEP_S), _RANGE_STEP_S))


def source_contour(audio: np.ndarray, sr: int, bounds: Bounds | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(times, F0 in Hz or 0) of a source phrase (its analysis copy) as the pitch transfer reads it;
    ``bounds`` from ``speaker_bounds`` of its chunk (else the phrase's own)."""
    if bounds is None:
        bounds = _speaker_bounds(_no_hum(_wide_pass(audio, sr, 0.01)[1], 0.01))
    t, f0 = robust_contour(audio, sr, bounds=bounds)
    return t, _no_hum(f0, 0.01)


class VoicePitch:
    """The synthetic voice's pitch over a chunk: the floor/ceiling its PSOLA analysis uses and its
    voiced log-F0 values, which the source contour is mapped into. Measured once per chunk, not per
    phrase: the voice is one speaker, and per phrase these cost two pitch passes each."""

    def __init__(self, voiced_hz: np.ndarray) -> None:
        self.contour = voiced_hz  # what it was measured from (a memo keeps it)
        voiced = voiced_hz[voiced_hz > 0]
        self.enough = len(voiced) > 10
        self.log_f0 = np.log(voiced)
        self.floor = float(np.clip(0.75 * np.percentile(voiced, 5), 50, 200)) if self.enough else 60.0
        self.ceiling = float(np.clip(2.0 * np.percentile(voiced, 95), 300, 900)) if self.enough else 600.0
        self.moved_to: tuple[float, float] | None = None  # set by ``moved``

    def moved(self, median_hz: float, spread: float) -> "VoicePitch":
        """The voice as it is to be heard, when its audio is not yet at its register (a catalogue voice
        whose pitch move is left to the prosody stage, engines/tts/changed.py): its log-F0 values moved
        to ``median_hz`` and their spread scaled by ``spread``; the floor and ceiling stay the audio's,
        which the PSOLA analysis reads. ``moved_to`` records the move: the transfer then moves a phrase
        whose source gives no contour too (on its own contour)."""
        voice = VoicePitch(self.contour)
        if voice.enough:
            voice.log_f0 = np.log(median_hz) + (self.log_f0 - np.median(self.log_f0)) * spread
        voice.moved_to = (median_hz, spread)
        return voice

    @classmethod
    def of(cls, audio: np.ndarray, sr: int, *, step: float = 0.01) -> "VoicePitch":
        return cls(robust_contour(audio, sr, step=step)[1])

    @classmethod
    def of_chunk(cls, audio: np.ndarray, sr: int, *, refine: bool = True) -> "VoicePitch":
        """Coarse (_RANGE_STEP_S) passes over the chunk. ``refine=False`` keeps the wide first pass only:
        enough for the PSOLA floor/ceiling when no pitch is transferred (mode 'duration')."""
        if not refine:
            return cls(_wide_pass(audio, sr, _RANGE_STEP_S)[1])
        return cls.of(audio, sr, step=_RANGE_STEP_S)


def bridged_log_f0(f0: np.ndarray) -> np.ndarray:
    """log-F0 of a 10 ms contour, cleaned (blips, octave jumps) and short gaps bridged; nan unvoiced."""
    return _bridge(f0, 0.01)



def _bridge(f0: np.ndarray, step: float) -> np.ndarray:
    """log-F0 with short unvoiced gaps linearly bridged; nan where unvoiced; blips (voiced runs
    under 30 ms) and octave jumps (off the local median by > 0.6 octave) removed first."""
    lf = np.where(f0 > 0, np.log(np.maximum(f0, 1e-9)), np.nan)
    v = ~np.isnan(lf)
    # drop voiced runs shorter than 3 frames (pitch tracker blips)
    for i, j in true_runs(v.copy()):
        if j - i < 3:
            lf[i:j] = np.nan
            v[i:j] = False
    # octave errors: frames more than ~0.6 octave off the local median of the voiced frames
    idx = np.flatnonzero(v)
    if len(idx) >= 5:
        vals = lf[idx]
        pad = np.pad(vals, 4, mode="edge")
        med = np.median(np.lib.stride_tricks.sliding_window_view(pad, 9), axis=1)
        bad = np.abs(vals - med) > 0.6 * np.log(2.0)
        lf[idx[bad]] = np.nan
        v[idx[bad]] = False
    idx = np.flatnonzero(v)
    max_gap = int(round(_MAX_GAP_S / step))
    for p, q in zip(idx[:-1], idx[1:]):
        if 1 < q - p <= max_gap + 1:
            lf[p + 1:q] = np.interp(np.arange(p + 1, q), [p, q], [lf[p], lf[q]])
    return lf


def pitch_register(log_f0: np.ndarray) -> tuple[float, float] | None:
    """(median, spread) of the voiced log-F0 values (nan = unvoiced); None with too few."""
    ok = log_f0[~np.isnan(log_f0)]
    return (float(np.median(ok)), float(np.std(ok))) if len(ok) >= 3 else None


# A catalogue voice keeps to its register: a phrase the speaker says higher or lower than her others
# moves the voice's level by at most about this much (log-F0; 0.05 is 5 %, under a semitone), softly
# (tanh), while the intonation inside the phrase follows in full. Without the bound a woman's low
# phrase comes out in a man's range (a 17 % lower phrase took a 190 Hz voice to 158 Hz).
LEVEL_SPAN = float(np.log(1.05))


def _map_to_voice(src_lf: np.ndarray, voice_lf: np.ndarray, register: tuple[float, float] | None = None,
                  level_span: float | None = None) -> np.ndarray:
    """The source's log-F0 moved into the voice's range: the source ``register`` (median, spread;
    default: this phrase's own) goes to the voice's median and spread (scale limited to 0.5..2),
    clipped to an octave around the voice's median; nan stays nan. With ``level_span``, the phrase's
    level against the register (its median, after scaling) is bounded softly to that span."""
    ok = ~np.isnan(src_lf)
    out = np.full(len(src_lf), np.nan)
    if ok.sum() < 3 or len(voice_lf) < 5:
        return out
    p_med = float(np.median(src_lf[ok]))
    s_med, s_sd = register or (p_med, float(np.std(src_lf[ok])))
    v_med, v_sd = float(np.median(voice_lf)), float(np.std(voice_lf))
    scale = float(np.clip(v_sd / s_sd, 0.5, 2.0)) if s_sd > 1e-3 else 1.0
    if level_span:
        level = level_span * float(np.tanh((p_med - s_med) * scale / level_span))
        mapped = v_med + level + (src_lf[ok] - p_med) * scale
    else:
        mapped = v_med + (src_lf[ok] - s_med) * scale
    out[ok] = np.clip(mapped, v_med - np.log(2.0), v_med + np.log(2.0))
    return out

