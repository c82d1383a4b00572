"""The new voice and the original's audio in one signal: where the original plays and how loud.

The original's gain is ``floor`` over the spans it gives way in (0 in ``gaps`` mode, the duck depth in
``voiceover`` mode) and 1 elsewhere, with raised-cosine ramps outside each span: they end at its first
sound and start after its last. The voice has one gain of its own. Everything works block by block,
so memory does not depend on the recording's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..config import MixSettings
from ..signal.levels import frame_length, frame_power, power_db
from .audio import PcmStream

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


def voice_gain(voice_lufs: float | None, target_lufs: float | None) -> float:
    """The gain that brings the voice (at ``voice_lufs``) to ``target_lufs``; 1 when either is unknown
    (a silent voice, an original without speech)."""
    if voice_lufs is None or target_lufs is None or not np.isfinite(voice_lufs) or not np.isfinite(target_lufs):
        return 1.0
    return float(10 ** ((target_lufs - voice_lufs) / 20))


def peak_room(voice: np.ndarray, bed: np.ndarray, peak: float) -> float:
    """The largest factor k for which ``k * voice + bed`` stays within ``peak`` on every sample and
    channel (inf when nothing limits it). ``voice`` is mono (frames,), ``bed`` (frames, channels).
    Samples where the bed alone is over ``peak`` are left out: the original is kept at its own level,
    and no gain on the voice could bring them back."""
    v = np.broadcast_to(np.asarray(voice, dtype=np.float64)[:, None], bed.shape)
    heard = (np.abs(v) > 0) & (np.abs(bed) <= peak)
    if not np.any(heard):
        return float("inf")
    v, b = v[heard], np.asarray(bed, dtype=np.float64)[heard]
    return float(np.min((peak - b * np.sign(v)) / np.abs(v)))


def mixed_blocks(voice: PcmStream, original: PcmStream | None, spans: list[tuple[float, float]],
                 ducking: Ducking, channels: int, rate: int = MIX_RATE,
                 block: int = 1 << 16) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """(voice, bed) blocks: the voice mono (frames,) float32, and the original times its ducking gain
    (frames, channels) float32, or None without an original. The original's length rules when there
    is one (the voice is cut or padded with silence to it); else the voice's."""
    position = 0
    while True:
        source = original.read(block) if original is not None else None
        speech = voice.read(block if source is None else len(source))[:, 0]
        frames = len(speech) if source is None else len(source)
        if frames == 0:
            return
        said = np.zeros(frames, dtype=np.float32)
        said[: len(speech)] = speech[:frames]
        bed = None
        if source is not None:
            bed = (source * original_gain(spans, ducking, position, frames, rate)[:, None]).astype(np.float32)
        position += frames
        yield said, bed
