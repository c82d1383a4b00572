"""Prosody transfer: re-time and re-intone a synthesized phrase to match the original (Praat PSOLA).

Time map: piecewise linear between word anchors (synth time -> target time), word spans first
shrunk to the speech inside them. A pause the target has and the synth lacks is made by inserting
silence at the synth's quietest point between the two words (no word is stretched to fill a
pause); a silent synth pause the target lacks loses its middle. The rest is a piecewise-constant
Praat DurationTier on one Manipulation object; the synth stretch before the first and after the
last anchor is kept for 40 ms and mapped 1:1, so the output's speech starts where the source's does.
Without anchors the synth's speech span maps onto the source's (split at pauses when both have
the same pause structure).

Pitch ('full'): the source's log-F0 contour (two-pass Praat autocorrelation; blips and octave
jumps dropped; gaps up to 120 ms bridged) is moved into the synth voice's range (median matched,
spread scaled to the voice's) and replaces the synth's PitchTier, at synth times found through the
inverse time map; over longer unvoiced stretches Praat interpolates between the neighbouring points.
Loudness ('full'): the output's smoothed (~250 ms) dB envelope is pulled toward the source's by
attenuation only (0..-6 dB): boosting weak stretches amplified Festival's joins and hurt
intelligibility, and a faster envelope cost more WER than it gained. The figures behind these
choices, and the contour accuracy and speed measured, are in benchmarks/README.md ("Prosody").

This module is the PSOLA transfer itself; the pitch analysis is engines/pitch.py, where speech is
engines/speech_edges.py, the time map engines/timemap.py (their public names are re-exported here).
"""

from __future__ import annotations

import numpy as np

from ..signal.fades import fade_in, fade_out
from ..signal.levels import frame_db, true_runs
from .pitch import (
    LEVEL_SPAN,
    Bounds,
    VoicePitch,
    _bridge,
    _map_to_voice,
    _sound,
    bridged_log_f0,
    chunk_register,
    pitch_contour,
    pitch_register,
    robust_contour,
    source_contour,
    speaker_bounds,
)
from .speech_edges import (
    Span,
    _runs,
    audio_speech_span,
    speech_mask,
    speech_offset,
    speech_onset,
    speech_stretches,
    voiced_onset,
)
from .timemap import _FADE_S, _build_map, _clean_pairs, _match_pauses, _snap

__all__ = ["Bounds", "Span", "VoicePitch", "transfer", "pitch_contour", "audio_speech_span", "speech_onset",
           "source_contour", "robust_contour", "speech_mask", "speaker_bounds", "speech_offset", "voiced_onset",
           "bridged_log_f0", "pitch_register", "chunk_register", "speech_stretches", "true_runs"]

_MIN_RATIO = 0.05        # DurationTier floor
_ENV_WIN_S = 0.04        # loudness analysis window
_ENV_SMOOTH_S = 0.25     # loudness envelope smoothing (shorter tracks syllables and hurts intelligibility)
_GAIN_MIN_DB = -6.0
_GAIN_MAX_DB = 0.0       # attenuate only: boosts amplified Festival's joins
_BOOST_RANGE_DB = 20.0
# Time step of the pitch analysis inside "To Manipulation" (which places the PSOLA pulses; its pitch
# tier is replaced in 'full' mode). Coarser than Praat's 0.01 to save CPU, but not 0.02, where the
# pulses get sparse enough for test_word_anchors_land's click limit (benchmarks/README.md: _PSOLA_STEP_S).
_PSOLA_STEP_S = 0.015


# --------------------------------------------------------------------------- PSOLA

def _add_points(tier, pts: list[tuple[float, float]]) -> None:
    """Add (time, value) points to a Praat tier in one script run (~15x faster than one call each)."""
    from .praat import run

    if pts:
        run(tier, "\n".join(f"Add point: {t:.7f}, {v:.7g}" for t, v in pts))


def _duration_tier(a: np.ndarray, b: np.ndarray, dur: float):
    """A DurationTier that is piecewise constant between the knots (ratio = target/synth length)."""
    from .praat import call

    dt = call("Create DurationTier", "map", 0.0, dur)
    eps = 1e-4
    pts: list[tuple[float, float]] = []
    for k in range(len(a) - 1):
        r = max((b[k + 1] - b[k]) / max(a[k + 1] - a[k], 1e-9), _MIN_RATIO)
        pts.append((a[k] + (eps if k > 0 else 0.0), r))
        pts.append((a[k + 1] - (eps if k < len(a) - 2 else 0.0), r))
    _add_points(dt, pts)
    return dt



def _target_contour(synth: np.ndarray, synth_sr: int, source: np.ndarray, source_sr: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(times in the source, F0 in Hz or 0) that 'full' mode imposes: for checks and plots."""
    _, v_f = robust_contour(synth, synth_sr)
    c_t, c_f = robust_contour(source, source_sr)
    lf = np.full(len(c_f), np.nan)
    voiced = v_f[v_f > 0]
    if len(voiced) > 10:
        lf = _map_to_voice(_bridge(c_f, 0.01), np.log(voiced))
    return c_t, np.where(np.isnan(lf), 0.0, np.exp(np.nan_to_num(lf)))


def _pitch_tier(src_t: np.ndarray, mapped_lf: np.ndarray, a: np.ndarray, b: np.ndarray, dur: float):
    """PitchTier in new-synth time: the mapped source contour placed through the inverse time map.

    Where the source is unvoiced for long, Praat interpolates between the neighbouring points."""
    from .praat import call

    ok = ~np.isnan(mapped_lf) & (src_t >= b[0]) & (src_t <= b[-1])
    if ok.sum() < 3:
        return None
    pt = call("Create PitchTier", "src", 0.0, dur)
    ts = np.interp(src_t[ok], b, a)                                      # inverse time map
    pts: list[tuple[float, float]] = []
    last = -1.0
    for t, lf in zip(ts, mapped_lf[ok]):
        if t - last >= 0.0005:
            pts.append((float(t), float(np.exp(lf))))
            last = t
    _add_points(pt, pts)
    return pt


def _gain_envelope(out: np.ndarray, sr: int, source: np.ndarray, source_sr: int) -> np.ndarray:
    """Per-sample gain so that out's smoothed dB envelope follows the source's (limited, no noise boost)."""
    hop = 0.01
    t_o, d_o = frame_db(out, sr, win_s=_ENV_WIN_S, hop_s=hop)
    t_s, d_s = frame_db(source, source_sr, win_s=_ENV_WIN_S, hop_s=hop)
    if len(d_o) < 3 or len(d_s) < 3:
        return np.ones(len(out))
    sp_o, sp_s = speech_mask(d_o), speech_mask(d_s)
    k = max(int(round(_ENV_SMOOTH_S / hop)), 1)
    ker = np.hanning(k + 2)[1:-1]
    ker /= ker.sum()

    def smooth_db(d: np.ndarray) -> np.ndarray:
        return 10 * np.log10(np.convolve(10 ** (d / 10), ker, mode="same") + 1e-12)

    e_o = smooth_db(d_o)
    e_s = np.interp(t_o, t_s, smooth_db(d_s))
    sp_s_o = np.interp(t_o, t_s, sp_s.astype(float)) > 0.5
    both = sp_o & sp_s_o
    if both.sum() < 3:
        return np.ones(len(out))
    offset = float(np.median(e_o[both] - e_s[both]))
    g = e_s + offset - e_o
    g = np.clip(g, _GAIN_MIN_DB, _GAIN_MAX_DB)
    # boost only clear speech (within _BOOST_RANGE_DB of the output's peak level): never the
    # output's silence/noise, nor its weak stretches (closures, breath), which a boost makes
    # look voiced to a pitch tracker
    strong = sp_o & (e_o > float(np.percentile(e_o, 99)) - _BOOST_RANGE_DB)
    g = np.where(strong, g, np.minimum(g, 0.0))
    g = np.convolve(np.pad(g, (k, k), mode="edge"), ker, mode="same")[k:-k]
    return 10 ** (np.interp(np.arange(len(out)) / sr, t_o, g) / 20)


def _anchors(synth: np.ndarray, synth_sr: int, source: np.ndarray, source_sr: int,
             pairs: list[tuple[Span, Span]], synth_speech: tuple[np.ndarray, np.ndarray],
             source_speech: tuple[np.ndarray, np.ndarray]) -> list[tuple[Span, Span]]:
    """The time map's anchors: the word pairs cleaned and snapped to the speech inside them; without
    them, matching pauses; without those, the synth's speech span onto the source's (or all of it).
    ``synth_speech``/``source_speech``: (frame times, speech mask) of each."""
    (t_s, m_s), (t_src, m_src) = synth_speech, source_speech
    S, T = len(synth) / synth_sr, len(source) / source_sr
    src_has_speech = bool(m_src.any())
    words = _clean_pairs(pairs, S, T)
    if words:
        words = [(_snap(sa, t_s, m_s), _snap(sb, t_src, m_src)) for sa, sb in words]
        words = _clean_pairs(words, S, T)
    if not words and src_has_speech:
        words = _match_pauses(_runs(t_s, m_s), _runs(t_src, m_src))
    if not words:
        sa = audio_speech_span(synth, synth_sr)
        sb = audio_speech_span(source, source_sr) if src_has_speech else (0.0, T)
        if sa[1] - sa[0] < 0.01:
            sa = (0.0, S)
        if sb[1] - sb[0] < 0.01:
            sb = (0.0, T)
        words = [(sa, sb)]
    return words


def _place(out: np.ndarray, y: np.ndarray, start: float, sr: int) -> None:
    """Put the resynthesis ``y`` into ``out`` at ``start`` seconds (new-synth time 0 maps to the target's
    first knot), cut at the end of ``out``, faded at its edges."""
    off = int(round(start * sr))
    n = max(min(len(y), len(out) - off), 0)
    fade = int(_FADE_S * sr)
    out[off:off + n] = y[:n]
    if n > 0:
        fade_in(out, fade, off)
        fade_out(out, fade, off + n)


def _new_pitch(seg: np.ndarray, sr: int, source: np.ndarray, source_sr: int, knots: tuple[np.ndarray, np.ndarray],
               voice: VoicePitch, source_pitch: tuple[np.ndarray, np.ndarray] | None,
               register: tuple[float, float] | None, follow: bool):
    """The PitchTier the resynthesis takes, or None to keep the synth's own pitch: with ``follow``, the
    source's contour (``source_pitch``, else measured) mapped into the voice's range through the time
    map ``knots``; where that gives nothing and the voice is still to be moved to its register
    (``VoicePitch.moved``), the synth's own contour moved there (no contour to follow: mode
    'duration', a source without speech)."""
    a, b = knots
    dur = len(seg) / sr
    if not voice.enough:
        return None
    if follow:
        c_t, c_f = source_pitch if source_pitch is not None else robust_contour(source, source_sr)
        span = LEVEL_SPAN if voice.moved_to is not None else None  # the plain voice has no register to keep
        pt = _pitch_tier(c_t, _map_to_voice(_bridge(c_f, 0.01), voice.log_f0, register, span), a, b, dur)
        if pt is not None or voice.moved_to is None:
            return pt
    if voice.moved_to is None:
        return None
    own_t, own_f = pitch_contour(seg, sr, fmin=voice.floor, fmax=voice.ceiling)
    ends = np.array([0.0, dur])
    return _pitch_tier(own_t, _map_to_voice(_bridge(own_f, 0.01), voice.log_f0), ends, ends, dur)


def transfer(synth: np.ndarray, synth_sr: int, source: np.ndarray, source_sr: int,
             pairs: list[tuple[Span, Span]], *, mode: str = "full",
             pitch: bool = True, loudness: bool = True,
             source_pitch: tuple[np.ndarray, np.ndarray] | None = None,
             register: tuple[float, float] | None = None,
             voice_pitch: VoicePitch | None = None) -> np.ndarray:
    """Re-time and re-intone one synthesized phrase to match the original phrase.

    synth: the TTS output (float mono) at synth_sr. source: the original phrase's audio (float
    mono, 16 kHz typically), exactly the target span. Returns float32 at synth_sr with exactly
    round(len(source)/source_sr*synth_sr) samples, faded at the edges, peak <= 0.999.
    pairs: word anchors (synth span in synth seconds, target span in source seconds), in order,
    non-overlapping; bad ones (reversed, overlapping, out of range, too short) are dropped. Empty:
    the synth's non-silent span is mapped onto the source's (split at matching pauses).
    mode 'duration': only the time map. mode 'full': the time map + the source's pitch contour in
    the voice's own range (unless pitch=False) + the source's loudness envelope (unless
    loudness=False). A silent or empty synth gives silence; a source without speech gets the synth
    stretched over all of it, with no pitch or loudness transfer.
    source_pitch: the source's contour from ``source_contour`` when the caller already has it.
    register: the speaker's (median, spread) of log-F0 over more than this phrase (see
    ``pitch_register``): a phrase said higher or lower than the others then stays so in the new
    voice; by default the phrase's own, which flattens such differences.
    voice_pitch: the voice's pitch over the whole chunk (``VoicePitch.of_chunk``); by default this
    phrase's own.
    Raises ValueError for an unknown mode."""
    from .praat import call, seeded

    if mode not in ("full", "duration"):
        raise ValueError(f"prosody mode {mode!r}: use 'full' or 'duration'")
    synth = np.nan_to_num(np.asarray(synth, dtype=np.float64).reshape(-1))
    source = np.nan_to_num(np.asarray(source, dtype=np.float64).reshape(-1))
    n_out = int(round(len(source) / source_sr * synth_sr))
    out = np.zeros(n_out, dtype=np.float64)
    S, T = len(synth) / synth_sr, len(source) / source_sr
    if n_out == 0 or len(synth) < int(0.02 * synth_sr) or not np.any(synth):
        return out.astype(np.float32)

    t_s, db_s = frame_db(synth, synth_sr)
    m_s = speech_mask(db_s)
    t_src, db_src = frame_db(source, source_sr)
    m_src = speech_mask(db_src)
    src_has_speech = bool(m_src.any())
    words = _anchors(synth, synth_sr, source, source_sr, pairs, (t_s, m_s), (t_src, m_src))
    seg, a, b = _build_map(synth, synth_sr, words, S, T, t_s, m_s)
    if len(seg) < int(0.02 * synth_sr) or len(a) < 2:
        return out.astype(np.float32)
    dur = len(seg) / synth_sr
    snd = _sound(seg, synth_sr)
    voice = voice_pitch or VoicePitch.of(seg, synth_sr)
    manip = call(snd, "To Manipulation", _PSOLA_STEP_S, voice.floor, voice.ceiling)
    call([manip, _duration_tier(a, b, dur)], "Replace duration tier")

    follow = mode == "full" and pitch and src_has_speech
    pt = _new_pitch(seg, synth_sr, source, source_sr, (a, b), voice, source_pitch if follow else None,
                    register, follow)
    if pt is not None:
        call([manip, pt], "Replace pitch tier")

    with seeded():
        res = call(manip, "Get resynthesis (overlap-add)")
    _place(out, np.nan_to_num(np.asarray(res.values[0], dtype=np.float64)), b[0], synth_sr)
    fade = int(_FADE_S * synth_sr)
    if mode == "full" and loudness and src_has_speech:
        out *= _gain_envelope(out, synth_sr, source, source_sr)
    fade_in(out, fade)
    fade_out(out, fade)
    peak = float(np.max(np.abs(out))) if n_out else 0.0
    if peak > 0.999:
        out *= 0.999 / peak
    return out.astype(np.float32)
