"""The prosody transfer's time map: word anchors cleaned and snapped to the speech inside them,
anchors from matching pauses when there are no words, and the synth cut and padded so that a
piecewise-linear map between the anchors takes it onto the target (PSOLA does the rest)."""

from __future__ import annotations

import numpy as np

from ..signal.fades import fade_in, fade_out
from .speech_edges import Span

_FADE_S = 0.005          # fade at the output edges and around cuts
_MARGIN_S = 0.04         # synth kept before the first / after the last anchor, mapped 1:1
_INSERT_MIN_S = 0.06     # a target pause this much longer than the synth's gap gets inserted silence
_MIN_SEG_S = 0.002       # shortest time-map segment (either side)


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



SKIPPED_PAUSE_COST = 0.1  # a source pause left inside a stretch group (squared log-ratio units)
MAX_MERGED = 3  # source stretches one group of words may span


def group_words(said: np.ndarray, heard: np.ndarray, cut_cost: np.ndarray
                ) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Runs of words fitted to runs of speech stretches by dynamic programming: ``said`` the words'
    lengths in the voice, ``heard`` the stretches' lengths, ``cut_cost`` the cost of a group ending
    after each word. A group's cost is the squared log-ratio of its words' length to its stretches'
    (at the phrase's overall pace), plus SKIPPED_PAUSE_COST per pause inside it; a group spans at most
    MAX_MERGED stretches. Returns ((first stretch, end stretch), (first word, end word)) index ranges,
    in order; empty when no grouping fits."""
    n, m = len(said), len(heard)
    cum_said = np.concatenate(([0.0], np.cumsum(said)))
    cum_heard = np.concatenate(([0.0], np.cumsum(heard)))
    if cum_said[-1] <= 0 or cum_heard[-1] <= 0:
        return []
    pace = cum_said[-1] / cum_heard[-1]
    best = np.full((m + 1, n + 1), np.inf)
    back: dict[tuple[int, int], tuple[int, int]] = {}
    best[0, 0] = 0.0
    for j in range(m):
        for i in range(n):
            if not np.isfinite(best[j, i]):
                continue
            for j2 in range(j, min(j + MAX_MERGED, m)):
                length = (cum_heard[j2 + 1] - cum_heard[j]) * pace
                group = cum_said[i + 1 :] - cum_said[i]  # words i..k for k = i..n-1
                cost = (best[j, i] + np.log(np.maximum(group, 1e-3) / length) ** 2 + (j2 - j) * SKIPPED_PAUSE_COST
                        + cut_cost[i:])
                for k in np.flatnonzero(cost < best[j2 + 1, i + 1 :]):
                    best[j2 + 1, i + 1 + k] = cost[k]
                    back[(j2 + 1, i + 1 + int(k))] = (j, i)
    if not np.isfinite(best[m, n]):
        return []
    groups: list[tuple[tuple[int, int], tuple[int, int]]] = []
    state = (m, n)
    while state != (0, 0):
        j, i = back[state]
        groups.append(((j, state[0]), (i, state[1])))
        state = (j, i)
    return groups[::-1]
