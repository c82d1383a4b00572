"""Where the original speaker's voice really is: Silero speech activity (faster-whisper's VAD) on the
16 kHz analysis audio, its edges carried on through the quiet ends of words by frame energy, united
with the transcript's phrases. The mix mutes or ducks the original there, so that no original speech
is left in a gap, whatever the cue times say (a cue that ends before the speech does, a second
speaker talking over the first)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .levels import frame_db

Span = tuple[float, float]

# Silero is run a block at a time (10 min, 38 MB as float32), so an hour never sits in memory; blocks
# overlap by a few seconds and their regions are united.
_BLOCK_S = 600.0
_OVERLAP_S = 5.0
# A pause of 0.1 s between phrases is kept as a pause (faster-whisper's 2 s default would merge the
# short pauses of fast speech, and the original's background would never play in them). No pad:
# Silero's ends already lag the speech by 20-60 ms (measured on the Asterisk prompts), and the quiet
# ends are found by energy below.
_MIN_SILENCE_MS = 100
_PAD_MS = 0
# Silero marks the loud core of a word; its quiet end (a final fricative, a falling vowel) goes on
# below that. A region's edge is carried on while the frames stay 6 dB above the recording's floor and
# within 40 dB of the region's loudest, at most this far.
_EXTEND_S = 0.25
_ABOVE_FLOOR_DB = 6.0
_BELOW_PEAK_DB = 40.0
_HOP_S = 0.01


def merge(spans: Sequence[Span], join_s: float = 0.0) -> list[Span]:
    """The union of ``spans``, sorted; spans closer than ``join_s`` become one."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1] + join_s:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def vad_spans(audio: np.ndarray, rate: int, pad_ms: int = _PAD_MS) -> list[Span]:
    """(start, end) seconds of the speech Silero hears in ``audio`` (mono float32 at 16 kHz), each
    widened by ``pad_ms``."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=_MIN_SILENCE_MS, speech_pad_ms=pad_ms)
    block, step = int(_BLOCK_S * rate), int((_BLOCK_S - _OVERLAP_S) * rate)
    found: list[Span] = []
    for first in range(0, max(len(audio), 1), step):
        part = np.asarray(audio[first : first + block], dtype=np.float32)
        if len(part) == 0:
            break
        found += [((first + s["start"]) / rate, (first + s["end"]) / rate)
                  for s in get_speech_timestamps(part, options, sampling_rate=rate)]
        if first + block >= len(audio):
            break
    return merge(found)


def extend_by_energy(spans: list[Span], audio: np.ndarray, rate: int) -> list[Span]:
    """Each span carried on, before and after, over the 10 ms frames that still sound (see above)."""
    if not spans:
        return []
    _times, level = frame_db(audio, rate, win_s=_HOP_S, hop_s=_HOP_S)
    if level.size == 0:
        return spans
    floor = float(np.percentile(level, 10))
    reach = int(round(_EXTEND_S / _HOP_S))
    out = []
    for start, end in spans:
        lo, hi = int(start / _HOP_S), min(len(level), int(np.ceil(end / _HOP_S)))
        if hi <= lo:
            out.append((start, end))
            continue
        threshold = max(floor + _ABOVE_FLOOR_DB, float(level[lo:hi].max()) - _BELOW_PEAK_DB)
        first, last = lo, hi
        while first > max(0, lo - reach) and level[first - 1] > threshold:
            first -= 1
        while last < min(len(level), hi + reach) and level[last] > threshold:
            last += 1
        out.append((min(start, first * _HOP_S), max(end, last * _HOP_S)))
    return merge(out)


def touching(regions: list[Span], phrases: list[Span], within_s: float) -> list[Span]:
    """The regions that overlap a phrase or come within ``within_s`` of one."""
    ends = np.array([end for _start, end in phrases])
    starts = np.array([start for start, _end in phrases])
    return [(a, b) for a, b in regions if np.any((starts - within_s < b) & (ends + within_s > a))]


# A speech region counts as the speaker's when it reaches within this of a phrase: the speech a cue
# leaves out next to it (an early end, a second speaker carrying on). Speech far from every phrase is
# something the transcript never said (or Silero mistaking music for a voice): there is no voice to
# put in its place, and the original plays there as it was.
NEAR_PHRASE_S = 0.5


def speaker_spans(audio: np.ndarray, rate: int, phrases: list[Span]) -> list[Span]:
    """Where the original speaker's voice is, on the recording's timeline (s): the speech activity
    that reaches a phrase, and the phrases that no activity reaches (speech Silero missed). Empty
    when there is no phrase.

    Activity, not the phrases, sets the edges: Whisper's phrase edges are often 0.1-0.4 s off (a
    phrase began at 0.66 s where the speech began at 1.00 s, and ended 0.16 s before it did), and
    muting the original from a phrase's start would cut its background out of a short pause."""
    if not phrases:
        return []
    heard = extend_by_energy(vad_spans(audio, rate), audio, rate)
    unheard = [p for p in phrases if not touching([p], heard, 0.0)]
    return merge([*touching(heard, phrases, NEAR_PHRASE_S), *unheard])
