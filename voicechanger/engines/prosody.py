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
"""

from __future__ import annotations

import numpy as np

from ..signal.cleanup import hum_track, speech_levels
from ..signal.fades import fade_in, fade_out
from ..signal.levels import frame_db, true_runs

Span = tuple[float, float]

__all__ = ["Span", "VoicePitch", "transfer", "pitch_contour", "audio_speech_span", "speech_onset", "source_contour",
           "robust_contour", "speech_mask", "speaker_bounds", "speech_offset", "voiced_onset",
           "bridged_log_f0", "pitch_register", "chunk_register", "speech_stretches", "true_runs"]

_FADE_S = 0.005          # fade at the output edges and around cuts
_MARGIN_S = 0.04         # synth kept before the first / after the last anchor, mapped 1:1
_INSERT_MIN_S = 0.06     # a target pause this much longer than the synth's gap gets inserted silence
_MIN_SEG_S = 0.002       # shortest time-map segment (either side)
_MIN_RATIO = 0.05        # DurationTier floor
_PAUSE_S = 0.15          # silence this long splits speech into stretches (pause matching)
_MAX_GAP_S = 0.12        # source unvoiced gaps up to this are bridged in log-F0
_ENV_WIN_S = 0.04        # loudness analysis window
_ENV_SMOOTH_S = 0.25     # loudness envelope smoothing (shorter tracks syllables and hurts intelligibility)
_GAIN_MIN_DB = -6.0
_GAIN_MAX_DB = 0.0       # attenuate only: boosts amplified Festival's joins
_BOOST_RANGE_DB = 20.0
_LEAD_IN_S = 0.3         # how far before a phrase's first loud sound its weak first consonants may reach
_LOUD_AHEAD_S = 0.4      # the loud frames an onset is judged against are looked for at least this far on
_WORD_EDGE_S = 0.1       # how far Whisper's word edges can be off
_LEAD_IN_GAP_S = 0.06    # the longest quiet gap inside them (a stop's closure; a breath ends earlier)


# --------------------------------------------------------------------------- analysis helpers

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


Bounds = tuple[float, float]
# Time step of the pitch analysis inside "To Manipulation" (which places the PSOLA pulses; its pitch
# tier is replaced in 'full' mode). Coarser than Praat's 0.01 to save CPU, but not 0.02, where the
# pulses get sparse enough for test_word_anchors_land's click limit (benchmarks/README.md: _PSOLA_STEP_S).
_PSOLA_STEP_S = 0.015
_RANGE_STEP_S = 0.03  # time step of the wide first pass over a whole chunk: its quartiles need no finer


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


def _noise_floor(db: np.ndarray) -> float:
    """The quietest ~50 ms that is not digital silence, so it works whether the recording has much
    silence or almost none."""
    live = db[db > -100.0]
    if len(live) >= 5:
        return float(np.min(np.convolve(live, np.ones(5) / 5, mode="valid")))
    return float(np.min(db)) if len(db) else -120.0


def _speech_threshold(db: np.ndarray) -> tuple[float, float]:
    """(threshold, low threshold) in dB: relative to the peak, raised above the noise floor."""
    peak = float(np.percentile(db, 99))
    floor = _noise_floor(db)
    thr = max(peak - 30.0, min(floor + 10.0, peak - 15.0))
    low = min(max(peak - 45.0, floor + 5.0), thr)
    return thr, low


def speech_mask(db: np.ndarray, min_run: int = 3) -> np.ndarray:
    """Frames that are speech: above the threshold in runs of >= min_run, extended over the low one."""
    if len(db) == 0:
        return np.zeros(0, bool)
    thr, low = _speech_threshold(db)
    if float(np.percentile(db, 99)) < -80:      # (near) digital silence
        return np.zeros(len(db), bool)
    mask = np.zeros(len(db), bool)
    for i, j in true_runs(db > thr):
        if j - i >= min_run:
            mask[i:j] = True
    # hysteresis: grow speech runs over frames above the low threshold (soft onsets, fricatives)
    lowm = db > low
    idx = np.flatnonzero(mask)
    if len(idx):
        for k in range(1, len(db)):
            if not mask[k] and mask[k - 1] and lowm[k]:
                mask[k] = True
        for k in range(len(db) - 2, -1, -1):
            if not mask[k] and mask[k + 1] and lowm[k]:
                mask[k] = True
    return mask


def audio_speech_span(audio: np.ndarray, sr: int) -> Span:
    """First/last non-silent time in seconds (energy based, robust to a noise floor).

    Returns (0.0, 0.0) when no speech is found."""
    t, db = frame_db(audio, sr)
    mask = speech_mask(db)
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return 0.0, 0.0
    half = 0.01
    dur = len(audio) / sr
    return max(float(t[idx[0]]) - half, 0.0), min(float(t[idx[-1]]) + half, dur)


def speech_onset(audio: np.ndarray, sr: int, at: float, not_before: float, max_gap: float = 0.12) -> float:
    """Where the speech that is going on at ``at`` really began: walk back from ``at`` over speech
    frames and gaps shorter than ``max_gap`` (a stop's closure), never before ``not_before``.

    Whisper's first word of a phrase can start 0.2-0.3 s late (measured: "подождите" at 111.82 s
    whose "по" began at 111.59 s); the voice then started late and lost that syllable."""
    lo = max(int(not_before * sr), 0)
    hi = min(int((at + 0.3) * sr), len(audio))
    if hi - lo < int(0.05 * sr):
        return at
    t, db = speech_levels(audio[lo:hi], sr)
    mask = speech_mask(db)
    t = t + lo / sr
    onset, gap = at, 0.0
    for k in range(int(np.searchsorted(t, at, side="right")) - 1, -1, -1):
        if mask[k]:
            onset, gap = float(t[k]) - 0.01, 0.0
        else:
            gap += t[1] - t[0] if len(t) > 1 else 0.01
            if gap > max_gap:
                break
    return max(min(onset, at), not_before)


def speech_offset(audio: np.ndarray, sr: int, at: float, not_after: float) -> float:
    """Where the speech going on at ``at`` really ends: walk forward from ``at`` over speech frames up
    to the first frame that is not speech, never past ``not_after``; ``at`` itself when it is silent.

    Whisper's last word of a phrase can end 0.2 s early (measured: "4," ended at 194.18 s, its
    "четыре" went on to 194.42 s); the next phrase's onset must not be looked for in that tail."""
    lo = max(int(at * sr), 0)
    hi = min(int(not_after * sr), len(audio))
    if hi - lo < int(0.03 * sr):
        return at
    t, db = speech_levels(audio[lo:hi], sr)
    mask = speech_mask(db)
    silent = np.flatnonzero(~mask)
    end = float(t[silent[0]]) if len(silent) else float(t[-1]) + 0.01
    return min(max(at, lo / sr + end - 0.005), not_after)


def voiced_onset(audio: np.ndarray, sr: int, at: float, not_after: float, *, drop_db: float = 30.0) -> float:
    """Where the speech itself starts, from ``at`` on (up to ``not_after``): the first 40 ms within
    ``drop_db`` of the loud frames (of [at, not_after], and at least _LOUD_AHEAD_S on), starting before
    ``not_after`` (give or take _WORD_EDGE_S: Whisper's word edges), clearly over the noise floor, and the weaker
    sounds just before it that belong to the word (an initial "с" 25-35 dB below the vowel, a stop's
    closure): up to _LEAD_IN_S back over quieter speech with gaps under _LEAD_IN_GAP_S. Breath, a
    click and noise are weaker or shorter, and a breath ends a moment before the speech, so a phrase
    that Whisper starts in them starts here instead; ``at`` when nothing is found."""
    lo = max(int((at - 0.5) * sr), 0)
    hi = min(int(max(not_after, at + _LOUD_AHEAD_S) * sr), len(audio))
    if min(int(not_after * sr), len(audio)) - int(at * sr) < int(0.05 * sr):
        return at
    t, db = speech_levels(audio[lo:hi], sr)
    t = t + lo / sr
    inside = t >= at
    if (inside & (t < not_after)).sum() < 4:
        return at
    # The noise level is the window's quieter frames (its pause and stops), not its quietest 50 ms:
    # under steady noise only a few dB separate the two, and speech stands 10-20 dB above it. The loud
    # frames are looked for past a short first word ("В", 0.18 s, all of it under the hiss of a voice
    # note): within it alone the noise itself passed for loud.
    loud, noise = float(np.percentile(db[inside], 95)), float(np.percentile(db, 10))
    strong = (db > max(loud - drop_db, min(noise + 6.0, loud - 6.0))) & inside
    core = next((i for i, j in true_runs(strong) if j - i >= 4 and t[i] < not_after + _WORD_EDGE_S), None)
    if core is None:
        return at
    weak = db > max(loud - drop_db - 12.0, min(noise + 4.0, loud - 6.0))
    first, gap = core, 0
    for k in range(core - 1, -1, -1):
        if t[k] < at or t[k] < t[core] - _LEAD_IN_S:
            break
        if weak[k]:
            first, gap = k, 0
        elif (gap := gap + 1) * (t[1] - t[0]) > _LEAD_IN_GAP_S:
            break
    return max(at, float(t[first]) - 0.01)


# --------------------------------------------------------------------------- the time map

def _snap(span: Span, t: np.ndarray, mask: np.ndarray, min_len: float = 0.03) -> Span:
    """Shrink a word span to the speech inside it (word timings often swallow part of a pause)."""
    a, b = span
    inside = (t >= a) & (t <= b)
    idx = np.flatnonzero(inside & mask)
    if len(idx) == 0:
        return span
    na, nb = max(a, float(t[idx[0]]) - 0.01), min(b, float(t[idx[-1]]) + 0.01)
    if nb - na < min_len:
        return span
    return na, nb


def _runs(t: np.ndarray, mask: np.ndarray, min_pause: float = _PAUSE_S) -> list[Span]:
    """Speech stretches separated by pauses of at least min_pause (frame times t, speech mask)."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return []
    out: list[Span] = []
    start = prev = float(t[idx[0]])
    for k in idx[1:]:
        tk = float(t[k])
        if tk - prev > min_pause:
            out.append((max(start - 0.01, 0.0), prev + 0.01))
            start = tk
        prev = tk
    out.append((max(start - 0.01, 0.0), prev + 0.01))
    return out


def speech_stretches(audio: np.ndarray, sr: int, min_pause: float) -> list[Span]:
    """(start, end) in seconds of the speech stretches of ``audio`` separated by pauses of at least
    ``min_pause`` (energy based, as pause matching reads them)."""
    t, db = frame_db(audio, sr)
    return _runs(t, speech_mask(db), min_pause)


def _match_pauses(syn: list[Span], src: list[Span], tol: float = 0.15) -> list[tuple[Span, Span]]:
    """Anchors from pauses when no word anchors are given: used only if synth and source have the
    same number of speech stretches and each pause sits at a similar fraction of the speech."""
    if len(syn) < 2 or len(syn) != len(src):
        return []

    def fractions(runs: list[Span]) -> np.ndarray:
        lens = np.array([b - a for a, b in runs])
        return np.cumsum(lens)[:-1] / lens.sum()

    if np.max(np.abs(fractions(syn) - fractions(src))) > tol:
        return []
    return list(zip(syn, src))


def _clean_pairs(pairs: list[tuple[Span, Span]], S: float, T: float) -> list[tuple[Span, Span]]:
    """Clip to the signals, drop reversed/overlapping/degenerate anchors, keep the order."""
    out: list[tuple[Span, Span]] = []
    la, lb = 0.0, 0.0
    for (a0, a1), (b0, b1) in pairs:
        a0, a1 = float(np.clip(a0, 0, S)), float(np.clip(a1, 0, S))
        b0, b1 = float(np.clip(b0, 0, T)), float(np.clip(b1, 0, T))
        a0, b0 = max(a0, la), max(b0, lb)
        if a1 - a0 < 0.01 or b1 - b0 < _MIN_SEG_S:
            continue
        out.append(((a0, a1), (b0, b1)))
        la, lb = a1, b1
    return out


def _quietest(x: np.ndarray, sr: int, lo: float, hi: float) -> int:
    """Sample index at the centre of the quietest 10 ms within [lo, hi] (seconds)."""
    i0, i1 = int(lo * sr), max(int(hi * sr), int(lo * sr) + 1)
    i0, i1 = max(i0, 0), min(i1, len(x))
    if i1 - i0 < 4:
        return int(np.clip(i0, 0, len(x)))
    seg = x[i0:i1].astype(np.float64) ** 2
    w = max(min(int(0.01 * sr), len(seg)), 1)
    e = np.convolve(seg, np.ones(w) / w, mode="same")
    return i0 + int(np.argmin(e))


def _build_map(synth: np.ndarray, sr: int, words: list[tuple[Span, Span]], S: float, T: float,
               frames: np.ndarray, speech: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut the synth to the anchored stretch; insert silence where the target pauses longer, and
    drop part of a silent synth pause where the target pauses less (PSOLA does the rest).

    frames/speech: the synth's frame times and speech mask (a pause is only shortened if silent).

    Returns (new synth segment, knot times in it, knot times in the target); new-synth time 0
    maps to target time b[0], and both knot sequences are strictly increasing."""
    (first_a, _), (first_b, _) = words[0]
    (_, last_a), (_, last_b) = words[-1]
    m0 = min(_MARGIN_S, first_a, first_b)
    m1 = min(_MARGIN_S, S - last_a, T - last_b)
    start = int(round((first_a - m0) * sr))
    end = max(int(round((last_a + m1) * sr)), start)
    pieces: list[np.ndarray] = []
    fade = int(_FADE_S * sr)
    cursor, shift, after_cut = start, -start / sr, False
    a_k, b_k = [0.0], [first_b - m0]
    for i, ((a0, a1), (b0, b1)) in enumerate(words):
        if i:
            pa1, pb1 = words[i - 1][0][1], words[i - 1][1][1]
            g_s, g_t = a0 - pa1, b0 - pb1
            if g_t - g_s > _INSERT_MIN_S:      # a pause the synth lacks: insert silence, map 1:1
                lo, hi = (pa1, a0) if g_s > 0.01 else (pa1 - 0.005, pa1 + 0.005)
                cut = int(np.clip(_quietest(synth, sr, lo, hi), cursor, end))
                piece = synth[cursor:cut].copy()
                if after_cut:
                    fade_in(piece, fade)
                fade_out(piece, fade)
                ins = int(round((g_t - g_s) * sr))
                pieces += [piece, np.zeros(ins)]
                cursor, shift, after_cut = cut, shift + ins / sr, True
            elif g_s - g_t > _INSERT_MIN_S:    # a synth pause the target lacks: drop its middle
                r0 = int(round((pa1 + max(g_t, 0.0) / 2) * sr))
                r1 = r0 + int(round((g_s - max(g_t, 0.0)) * sr))
                inside = (frames >= r0 / sr) & (frames <= r1 / sr)
                if r0 > cursor and not speech[inside].any():
                    piece = synth[cursor:r0].copy()
                    if after_cut:
                        fade_in(piece, fade)
                    fade_out(piece, fade)
                    pieces.append(piece)
                    cursor, shift, after_cut = r1, shift - (r1 - r0) / sr, True
        a_k += [a0 + shift, a1 + shift]
        b_k += [b0, b1]
    piece = synth[cursor:end].copy()
    if after_cut:
        fade_in(piece, fade)
    pieces.append(piece)
    seg = np.concatenate(pieces)
    a_k.append(len(seg) / sr)
    b_k.append(last_b + m1)
    a, b = np.asarray(a_k), np.asarray(b_k)
    keep = [0]
    for k in range(1, len(a)):
        if a[k] - a[keep[-1]] >= _MIN_SEG_S and b[k] - b[keep[-1]] >= _MIN_SEG_S:
            keep.append(k)
        elif k == len(a) - 1 and len(keep) > 1:
            keep[-1] = k
    return seg, a[keep], b[keep]


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


def _map_to_voice(src_lf: np.ndarray, voice_lf: np.ndarray,
                  register: tuple[float, float] | None = None) -> np.ndarray:
    """The source's log-F0 moved into the voice's range: the source ``register`` (median, spread;
    default: this phrase's own) goes to the voice's median and spread (scale limited to 0.5..2),
    clipped to an octave around the voice's median; nan stays nan."""
    ok = ~np.isnan(src_lf)
    out = np.full(len(src_lf), np.nan)
    if ok.sum() < 3 or len(voice_lf) < 5:
        return out
    s_med, s_sd = register or (float(np.median(src_lf[ok])), float(np.std(src_lf[ok])))
    v_med, v_sd = float(np.median(voice_lf)), float(np.std(voice_lf))
    scale = float(np.clip(v_sd / s_sd, 0.5, 2.0)) if s_sd > 1e-3 else 1.0
    out[ok] = np.clip(v_med + (src_lf[ok] - s_med) * scale, v_med - np.log(2.0), v_med + np.log(2.0))
    return out


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

    seg, a, b = _build_map(synth, synth_sr, words, S, T, t_s, m_s)
    if len(seg) < int(0.02 * synth_sr) or len(a) < 2:
        return out.astype(np.float32)
    dur = len(seg) / synth_sr
    snd = _sound(seg, synth_sr)
    voice = voice_pitch or VoicePitch.of(seg, synth_sr)
    manip = call(snd, "To Manipulation", _PSOLA_STEP_S, voice.floor, voice.ceiling)
    call([manip, _duration_tier(a, b, dur)], "Replace duration tier")

    if mode == "full" and pitch and src_has_speech and voice.enough:
        c_t, c_f = source_pitch if source_pitch is not None else robust_contour(source, source_sr)
        pt = _pitch_tier(c_t, _map_to_voice(_bridge(c_f, 0.01), voice.log_f0, register), a, b, dur)
        if pt is not None:
            call([manip, pt], "Replace pitch tier")

    with seeded():
        res = call(manip, "Get resynthesis (overlap-add)")
    y = np.asarray(res.values[0], dtype=np.float64)
    y = np.nan_to_num(y)
    # place: new-synth time 0 maps to target time b[0]
    off = int(round(b[0] * synth_sr))
    n = max(min(len(y), n_out - off), 0)
    fade = int(_FADE_S * synth_sr)
    out[off:off + n] = y[:n]
    if n > 0:
        fade_in(out, fade, off)
        fade_out(out, fade, off + n)

    if mode == "full" and loudness and src_has_speech:
        out *= _gain_envelope(out, synth_sr, source, source_sr)
    fade_in(out, fade)
    fade_out(out, fade)
    peak = float(np.max(np.abs(out))) if n_out else 0.0
    if peak > 0.999:
        out *= 0.999 / peak
    return out.astype(np.float32)
