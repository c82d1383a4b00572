"""The new voice and the original's audio in one signal: where the original plays and how loud.

The original's gain is 1 between phrases and ``floor`` under them (0 in ``gaps`` mode, the duck depth
in ``voiceover`` mode), with raised-cosine ramps that end at a phrase's first sound and start at its
last. Everything works block by block, so memory does not depend on the recording's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .audio import PcmStream
from .config import MixSettings
from .levels import frame_length, frame_power, power_db

MIX_RATE = 48000
_FRAME_S = 0.01
# A 10 ms frame 40 dB under its phrase's peak is not voice (nor one under -90 dBFS): relative, because
# the voice here still has the original's level, which concat normalises later.
_VOICE_FLOOR_DB = -90.0


def sounding_span(audio: np.ndarray, rate: int) -> tuple[int, int] | None:
    """(first, end) sample of the part of a phrase's audio that is heard; None when it is silent.
    A phrase's audio fills its slot, which reaches halfway into the pauses around it."""
    hop = frame_length(_FRAME_S, rate)
    if len(audio) < hop:
        return None
    power = frame_power(np.asarray(audio, dtype=np.float64), rate, win_s=_FRAME_S, hop_s=_FRAME_S)[1]
    level = power_db(power, floor=1e-20)
    loud = np.flatnonzero(level > max(_VOICE_FLOOR_DB, level.max() - 40.0))
    if loud.size == 0:
        return None
    return int(loud[0]) * hop, min(len(audio), (int(loud[-1]) + 1) * hop)


@dataclass(frozen=True)
class Ducking:
    """The original's gain around the phrases: ``floor`` under them, ramps of ``fall_s`` before and
    ``rise_s`` after each one, 1 elsewhere."""

    floor: float
    fall_s: float
    rise_s: float

    @classmethod
    def of(cls, settings: MixSettings) -> "Ducking":
        if settings.mode == "gaps":
            return cls(0.0, settings.crossfade_ms / 1000, settings.crossfade_ms / 1000)
        if settings.mode == "voiceover":
            return cls(10 ** (-settings.duck_db / 20), settings.attack_ms / 1000, settings.release_ms / 1000)
        return cls(0.0, 0.0, 0.0)


def coverage(spans: list[tuple[float, float]], first: int, count: int, rate: int, before_s: float,
             after_s: float) -> np.ndarray:
    """How much samples first..first+count lie under a phrase: 1 inside one, 0 away from all, and a
    raised-cosine ramp over ``before_s`` ahead of each start and ``after_s`` after each end."""
    t = (first + np.arange(count, dtype=np.float64)) / rate
    out = np.zeros(count)
    if not spans or count == 0:
        return out
    lo, hi = t[0] - before_s, t[-1] + after_s
    # Sorted by start, spans may still overlap (a phrase that runs past the next one's start): look
    # from the first span whose end, or an earlier span's, still reaches this block.
    reach = np.maximum.accumulate([end for _start, end in spans])
    index = int(np.searchsorted(reach, t[0] - after_s))
    for start, end in spans[index:]:
        if start - before_s > t[-1]:
            break
        if end + after_s < t[0] or start > hi or end < lo:
            continue
        up = np.clip((t - (start - before_s)) / before_s, 0, 1) if before_s > 0 else (t >= start).astype(float)
        down = np.clip((end + after_s - t) / after_s, 0, 1) if after_s > 0 else (t < end).astype(float)
        np.maximum(out, np.minimum(up, down), out=out)
    return 0.5 - 0.5 * np.cos(np.pi * out)


def original_gain(spans: list[tuple[float, float]], ducking: Ducking, first: int, count: int,
                  rate: int) -> np.ndarray:
    """The original's gain for samples first..first+count."""
    under = coverage(spans, first, count, rate, ducking.fall_s, ducking.rise_s)
    return 1.0 - (1.0 - ducking.floor) * under


def mixed_blocks(voice: PcmStream, original: PcmStream | None, spans: list[tuple[float, float]],
                 ducking: Ducking, original_level: float, channels: int, rate: int = MIX_RATE,
                 block: int = 1 << 16) -> Iterator[np.ndarray]:
    """(frames, channels) float32 blocks: the voice (mono, on every channel) plus the original times
    ``original_level`` and its ducking gain. The original's length rules when there is one (the voice
    is cut or padded with silence to it); else the voice's."""
    position = 0
    while True:
        source = original.read(block) if original is not None else None
        speech = voice.read(block if source is None else len(source))[:, 0]
        frames = len(speech) if source is None else len(source)
        if frames == 0:
            return
        out = np.zeros((frames, channels), dtype=np.float64)
        out[: len(speech)] = speech[:frames, None]
        if source is not None:
            out += source * (original_gain(spans, ducking, position, frames, rate) * original_level)[:, None]
        position += frames
        yield out.astype(np.float32)
