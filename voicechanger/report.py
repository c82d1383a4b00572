"""A picture of one conversion: input vs output pitch contours and phrase timing."""

from __future__ import annotations

from pathlib import Path

from .audio import ANALYSIS_RATE, load_wav_like
from .lifecycle import Result


def plot_result(result: Result, path: Path) -> None:
    from .analysis import plot_comparison

    original = load_wav_like(result.input, ANALYSIS_RATE)
    converted = load_wav_like(result.output, ANALYSIS_RATE)
    path.parent.mkdir(parents=True, exist_ok=True)
    plot_comparison(original, ANALYSIS_RATE, converted, ANALYSIS_RATE, result.phrase_spans(), path)
