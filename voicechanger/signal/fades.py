"""Raised-cosine fades, so that no cut, join or phrase edge clicks."""

from __future__ import annotations

import numpy as np


def fade_in(x: np.ndarray, samples: int, at: int = 0) -> None:
    """In place: the ``samples`` from ``at`` rise from silence (fewer at the end of ``x``)."""
    hi = min(at + samples, len(x))
    if hi > at:
        x[at:hi] *= (np.sin(np.linspace(0, np.pi / 2, hi - at)) ** 2).astype(x.dtype)


def fade_out(x: np.ndarray, samples: int, at: int | None = None) -> None:
    """In place: the ``samples`` before ``at`` (default: the end) fall to silence (fewer at the start)."""
    at = len(x) if at is None else at
    lo = max(at - samples, 0)
    if at > lo:
        x[lo:at] *= (np.cos(np.linspace(0, np.pi / 2, at - lo)) ** 2).astype(x.dtype)


def fade_edges(audio: np.ndarray, samples: int) -> np.ndarray:
    """A copy that fades in and out over ``samples`` at each end (at most half its length each)."""
    n = min(samples, len(audio) // 2)
    audio = audio.copy()
    if n > 0:
        fade_in(audio, n)
        fade_out(audio, n)
    return audio
