"""Sound levels: per frame (speech detection, chunk cuts, loudness envelopes) and over a whole
recording (is there any sound at all). The one place that measures power and turns it into dB."""

from __future__ import annotations

import numpy as np

FLOOR_POWER = 1e-12          # added to the mean square, so digital silence reads -120 dB, not -inf
SILENCE_DB = -55.0           # a recording whose whole level is below this counts as silent
_BLOCK_SAMPLES = 1 << 22     # tiled frames are measured a block at a time: hours never sit in memory
_SPARSE_SAMPLES = 2_000_000  # a whole-recording level reads about this many samples at most


def power_db(power: np.ndarray | float, floor: float = FLOOR_POWER) -> np.ndarray:
    """Mean square to dB, ``floor`` added (-120 dB by default); keeps the dtype of an array."""
    return 10 * np.log10(power + floor)


def frame_length(seconds: float, rate: int) -> int:
    """Samples in ``seconds`` at ``rate`` (at least one): a window or hop of ``frame_power``."""
    return max(int(round(seconds * rate)), 1)


def frame_power(audio: np.ndarray, rate: int, *, win_s: float = 0.02,
                hop_s: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Frame centres (s) and mean square of windows of ``win_s`` every ``hop_s``: whole windows only,
    except that audio shorter than one window is one frame.

    Frames that tile the audio (``win_s == hop_s``: chunk cuts, non-silent spans) are measured a block
    at a time at the audio's own precision (float32 stays float32), so memory-mapped hours stream
    through; overlapping frames (speech detection, on phrases) in float64 through one running sum of
    squares."""
    w, h = frame_length(win_s, rate), frame_length(hop_s, rate)
    total = len(audio)
    n = 1 + (total - w) // h if total >= w else (1 if total else 0)
    starts = np.arange(n) * h
    ends = np.minimum(starts + w, total)
    power = _tiled_power(audio, w, n) if w == h else _sliding_power(audio, starts, ends)
    return (starts + (ends - starts) / 2) / rate, power


def frame_db(audio: np.ndarray, rate: int, *, win_s: float = 0.02,
             hop_s: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Frame centres (s) and RMS level in dB (floored at -120 dB); frames as in ``frame_power``."""
    times, power = frame_power(audio, rate, win_s=win_s, hop_s=hop_s)
    return times, power_db(power)


def _tiled_power(audio: np.ndarray, w: int, n: int) -> np.ndarray:
    dtype = np.result_type(audio.dtype, np.float32)
    out = np.empty(n, dtype=dtype)
    per_block = max(1, _BLOCK_SAMPLES // w)
    for first in range(0, n, per_block):
        last = min(n, first + per_block)
        part = np.asarray(audio[first * w : last * w], dtype=dtype).reshape(last - first, -1)
        out[first:last] = np.mean(part * part, axis=1)
    return out


def _sliding_power(audio: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    x = np.asarray(audio[: int(ends[-1])] if len(ends) else audio[:0], dtype=np.float64)
    c = np.concatenate([[0.0], np.cumsum(x * x)])
    return (c[ends] - c[starts]) / np.maximum(ends - starts, 1)


def true_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index pairs of the runs of True in a boolean array (of frames, mostly)."""
    edges = np.diff(np.concatenate(([0], np.asarray(flags).astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def level_db(audio: np.ndarray) -> float:
    """RMS level (dB) of a whole recording, from an even sample of it: enough to tell sound from silence."""
    if audio.size == 0:
        return float(power_db(0.0))
    step = max(1, audio.size // _SPARSE_SAMPLES)
    part = np.asarray(audio[::step], dtype=np.float64)
    return float(power_db(float(np.mean(part * part))))


def nonsilent_span(audio: np.ndarray, rate: int, *, floor_db: float = -40.0) -> tuple[float, float]:
    """(start_s, end_s) of the 10 ms frames louder than ``floor_db`` below the loudest; (0, 0) if silent."""
    audio = np.asarray(audio, dtype=np.float32)
    hop = frame_length(0.01, rate)
    if len(audio) < hop:
        return 0.0, 0.0
    rms = np.sqrt(frame_power(audio, rate, win_s=0.01, hop_s=0.01)[1] + FLOOR_POWER)
    loud = np.flatnonzero(rms > rms.max() * 10 ** (floor_db / 20))
    if rms.max() < 1e-5 or len(loud) == 0:
        return 0.0, 0.0
    return loud[0] * hop / rate, (loud[-1] + 1) * hop / rate
