"""The phrase audio the page plays and the small waveform/pitch views it draws, computed here with
numpy (and Praat's pitch tracker, analysis.f0_on_grid) so the page needs no audio library.

The original and the output are decoded once each (the output again after each run that changed it)
at RATE; a phrase is served as a WAV slice of the output exactly as the user will download it."""

from __future__ import annotations

import io
import threading
import wave
from pathlib import Path
from typing import Any

import numpy as np

from ..media.audio import ANALYSIS_RATE, load_wav_like, resample

RATE = 24000  # what the page plays and draws: mono, wide enough for the voice, small enough to slice fast
PEAKS = 240  # waveform columns of a phrase's view
PAD_S = 0.15  # the view and the phrase's audio reach this far around the slot


def wav_bytes(audio: np.ndarray, rate: int = RATE) -> bytes:
    """16-bit mono WAV of ``audio`` (float, -1..1)."""
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def span_samples(start: float, end: float, length: int, rate: int = RATE) -> tuple[int, int]:
    """The sample range of [start, end] seconds, clipped to the audio."""
    first = max(0, min(length, int(round(start * rate))))
    return first, max(first, min(length, int(round(end * rate))))


def peaks(audio: np.ndarray, columns: int = PEAKS) -> list[list[float]]:
    """[min, max] of each of ``columns`` equal parts: a waveform that a canvas draws in one pass."""
    if len(audio) == 0:
        return []
    parts = np.array_split(audio, min(columns, len(audio)))
    return [[round(float(p.min()), 3), round(float(p.max()), 3)] for p in parts]


def pitch(audio: np.ndarray, step: float = 0.01) -> list[float]:
    """F0 in Hz every ``step`` seconds (0: unvoiced), from Praat's tracker at the analysis rate."""
    from ..signal.analysis import f0_on_grid

    if len(audio) < RATE * 0.05:
        return []
    x = resample(audio, RATE, ANALYSIS_RATE)
    grid = np.arange(step / 2, len(x) / ANALYSIS_RATE, step)
    return [round(float(f), 1) for f in f0_on_grid(x, ANALYSIS_RATE, grid, step=step)]


class Media:
    """Decoded original and output, and the views, cached per output version."""

    def __init__(self, input: Path, output: Path) -> None:
        self.input, self.output = input, output
        self.lock = threading.Lock()
        self._original: np.ndarray | None = None
        self._new: tuple[int, np.ndarray] | None = None  # (version, audio)
        self._views: dict[tuple[int, int], dict[str, Any]] = {}

    def original(self) -> np.ndarray:
        with self.lock:
            if self._original is None:
                self._original = load_wav_like(self.input, RATE)
            return self._original

    def new(self, version: int) -> np.ndarray:
        """The output as written by run ``version`` (decoded again when a newer run replaced it)."""
        with self.lock:
            if self._new is None or self._new[0] != version:
                self._new = (version, load_wav_like(self.output, RATE))
                self._views = {k: v for k, v in self._views.items() if k[0] == version}
            return self._new[1]

    def slice(self, which: str, version: int, span: tuple[float, float]) -> bytes:
        """WAV of the original (``which`` "original") or the output ("new") over ``span`` seconds."""
        audio = self.original() if which == "original" else self.new(version)
        first, last = span_samples(span[0], span[1], len(audio))
        return wav_bytes(audio[first:last])

    def view(self, version: int, index: int, span: tuple[float, float]) -> dict[str, Any]:
        """Waveforms and pitch of the original and the new voice over ``span`` (one scale for both)."""
        key = (version, index)
        if key not in self._views:
            original, new = self.original(), self.new(version)
            a, b = span_samples(span[0], span[1], min(len(original), len(new)))
            self._views[key] = {"start": a / RATE, "end": b / RATE, "step": 0.01,
                                "original": {"peaks": peaks(original[a:b]), "pitch": pitch(original[a:b])},
                                "new": {"peaks": peaks(new[a:b]), "pitch": pitch(new[a:b])}}
        return self._views[key]
