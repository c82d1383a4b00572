"""Measurements of prosody: log-F0 correlation of two signals, and a comparison plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voicechanger.engines.prosody import Span, robust_contour, true_runs

__all__ = ["log_f0_correlation", "plot_comparison", "f0_on_grid", "sustained"]

# Shorter voiced runs are left out of the correlation (see log_f0_correlation).
MIN_VOICED_RUN_S = 0.06


def f0_on_grid(audio: np.ndarray, sr: int, grid: np.ndarray, *, step: float = 0.01) -> np.ndarray:
    """F0 (Hz, 0 = unvoiced) of audio at the times in grid (nearest analysis frame)."""
    t, f = robust_contour(audio, sr, step=step)
    if len(t) == 0:
        return np.zeros(len(grid))
    idx = np.clip(np.round((grid - t[0]) / step).astype(int), 0, len(t) - 1)
    out = f[idx]
    out[np.abs(t[idx] - grid) > step] = 0.0
    return out


def sustained(voiced: np.ndarray, frames: int) -> np.ndarray:
    """The frames of ``voiced`` that lie in a run of at least ``frames`` voiced frames."""
    keep = np.zeros(len(voiced), dtype=bool)
    for start, end in true_runs(voiced):
        if end - start >= frames:
            keep[start:end] = True
    return keep


def log_f0_correlation(a: np.ndarray, sr_a: int, b: np.ndarray, sr_b: int, *,
                       step: float = 0.01, min_run_s: float = MIN_VOICED_RUN_S) -> tuple[float, int]:
    """Pearson correlation of log-F0 of a and b at the same times, on frames voiced in both.

    Both signals are on the same timeline (t=0 aligned). Returns (r, n_frames); r is nan when
    fewer than 3 frames are voiced in both. F0 is tracked by Praat (autocorrelation) with a
    per-signal range from a first wide pass, so octave errors do not dominate. Only frames inside
    each signal's voiced runs of at least ``min_run_s`` count: an autocorrelation tracker's short
    islands (an onset, creak, a consonant's buzz) are where it doubles or halves F0 and where its
    voicing decision flips when the audio moves by a few ms, so a handful of such frames would
    move r as much as a real change of intonation."""
    dur = min(len(a) / sr_a, len(b) / sr_b)
    grid = np.arange(step / 2, dur, step)
    fa = f0_on_grid(a, sr_a, grid, step=step)
    fb = f0_on_grid(b, sr_b, grid, step=step)
    run = max(1, round(min_run_s / step))
    both = sustained(fa > 0, run) & sustained(fb > 0, run)
    n = int(both.sum())
    if n < 3:
        return float("nan"), n
    la, lb = np.log(fa[both]), np.log(fb[both])
    if la.std() < 1e-9 or lb.std() < 1e-9:
        return float("nan"), n
    return float(np.corrcoef(la, lb)[0, 1]), n


def plot_comparison(original: np.ndarray, sr_o: int, converted: np.ndarray, sr_c: int,
                    phrases: list[Span], path: Path) -> None:
    """PNG of both signals on the same scales, both pitches, one band per phrase (report.py draws it)."""
    from voicechanger.report import draw_comparison

    draw_comparison(original, sr_o, converted, sr_c, [(float(a), float(b)) for a, b in phrases], path)
