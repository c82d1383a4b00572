"""Where speech is in a recording, from its frame levels: the speech mask (a threshold relative to the
peak, raised above the noise floor, with hysteresis), a phrase's speech span, its real onset and
offset around Whisper's word edges, and its stretches between pauses."""

from __future__ import annotations

import numpy as np

from ..signal.cleanup import speech_levels
from ..signal.levels import frame_db, true_runs

Span = tuple[float, float]

_PAUSE_S = 0.15          # silence this long splits speech into stretches (pause matching)
_LEAD_IN_S = 0.3         # how far before a phrase's first loud sound its weak first consonants may reach
_LOUD_AHEAD_S = 0.4      # the loud frames an onset is judged against are looked for at least this far on
_WORD_EDGE_S = 0.1       # how far Whisper's word edges can be off
_LEAD_IN_GAP_S = 0.06    # the longest quiet gap inside them (a stop's closure; a breath ends earlier)


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
