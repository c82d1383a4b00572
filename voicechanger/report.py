"""A picture of one conversion for people who are not audio experts (issue 25, item 5): the original
and the new voice one above the other on the same scales (waveform, loudness, then both pitches on
one axis in Hz), one numbered band per phrase, a legend, and labels in plain words."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .media.audio import ANALYSIS_RATE, load_wav_like
from .runners.lifecycle import Result

ORIGINAL, NEW = "tab:blue", "tab:orange"
BANDS = ("#cfe8cf", "#e6f2c8")  # neighbouring phrases alternate, so touching slots stay two bands


class Drawn(NamedTuple):
    """What the picture shows, for the tests: the legend's labels, the waveform axes' limits (one
    scale for both signals), the pitch axes' limits, and the numbered phrase bands."""

    labels: list[str]
    wave_limits: list[tuple[float, float]]
    bands: int


def plot_result(result: Result, path: Path) -> None:
    original = load_wav_like(result.input, ANALYSIS_RATE)
    converted = load_wav_like(result.output, ANALYSIS_RATE)
    draw_comparison(original, ANALYSIS_RATE, converted, ANALYSIS_RATE, result.phrase_spans(), path)


def _bands(axes: list[Any], phrases: list[tuple[float, float]]) -> int:
    """One band per phrase on every axis, and its number above the top one; returns how many."""
    for number, (start, end) in enumerate(phrases, 1):
        for ax in axes:
            ax.axvspan(start, end, color=BANDS[number % 2], lw=0, zorder=0)
            ax.axvline(start, color="#7a9a7a", lw=0.6, zorder=0)
        axes[0].text((start + end) / 2, 1.02, str(number), transform=axes[0].get_xaxis_transform(),
                     ha="center", va="bottom", fontsize=10, color="#2f5f2f")
    return len(phrases)


def _signal(ax: Any, x: np.ndarray, sr: int, colour: str, name: str, limit: float) -> list[Any]:
    """A waveform and its loudness (dB, right axis), both on the scales given for both signals."""
    from .signal.levels import frame_db

    t = np.arange(len(x)) / sr
    step = max(len(x) // 20000, 1)
    (wave,) = ax.plot(t[::step], x[::step], color=colour, lw=0.4, label=f"sound wave of {name}")
    ax.set_ylim(-limit, limit)
    ax.set_ylabel(name)
    ax.set_yticks([])
    ft, db = frame_db(x, sr)
    loud = ax.twinx()
    (level,) = loud.plot(ft, db, color="0.2", lw=0.7, alpha=0.7, label="loudness (dB, right scale)")
    loud.set_ylim(-80, 0)
    loud.set_ylabel("dB")
    return [wave, level]


def draw_comparison(original: np.ndarray, sr_o: int, converted: np.ndarray, sr_c: int,
                    phrases: list[tuple[float, float]], path: Path) -> Drawn:
    """Write the PNG (matplotlib's Agg, imported here: only --plot pays for it)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from matplotlib.ticker import ScalarFormatter

    from .signal.analysis import f0_on_grid, log_f0_correlation

    path = Path(path)
    duration = max(len(original) / sr_o, len(converted) / sr_c)
    grid = np.arange(0.005, duration, 0.01)
    pitch_o, pitch_c = f0_on_grid(original, sr_o, grid), f0_on_grid(converted, sr_c, grid)
    r, _ = log_f0_correlation(original, sr_o, converted, sr_c)
    limit = float(max(np.abs(original).max(initial=0.0), np.abs(converted).max(initial=0.0), 1e-3)) * 1.05

    fig, axes = plt.subplots(3, 1, figsize=(max(9.0, min(duration * 1.5, 40.0)), 8.5), sharex=True)
    handles = _signal(axes[0], original, sr_o, ORIGINAL, "the original", limit)
    handles += _signal(axes[1], converted, sr_c, NEW, "the new voice", limit)[:1]
    ax = axes[2]
    handles.append(ax.plot(grid, np.where(pitch_o > 0, pitch_o, np.nan), ".", ms=2.5, color=ORIGINAL,
                           label="pitch of the original")[0])
    handles.append(ax.plot(grid, np.where(pitch_c > 0, pitch_c, np.nan), ".", ms=2.5, color=NEW,
                           label="pitch of the new voice")[0])
    ax.set_ylabel("pitch (Hz)")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.set_xlabel("time (seconds)")
    bands = _bands(list(axes), phrases)
    handles.append(Patch(color=BANDS[1], label=f"a phrase said by the new voice (numbered, {len(phrases)} in all)"))
    ax.set_xlim(0, duration)
    shape = "not measurable" if not np.isfinite(r) else f"{r:.2f} (1.00: the same melody)"
    fig.suptitle(f"The original and the new voice, on the same scales. How closely the new voice's pitch "
                 f"follows the original's melody: {shape}", fontsize=13)
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=11, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    drawn = Drawn([h.get_label() for h in handles], [tuple(a.get_ylim()) for a in axes[:2]], bands)
    plt.close(fig)
    tmp.replace(path)
    return drawn
