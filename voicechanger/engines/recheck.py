"""What a first Whisper decoding can get wrong without saying so, found and mended: speech that no
word covers (Whisper dropped a window: a ring tone or a codec before the speech can make a batched
window come back nearly empty) and loops (a word or phrase written three or more times in a row that
the audio does not hold).

Speech is found by Silero VAD (faster-whisper's own), independently of the decoding it checks. Both
repairs decode again, sequentially, only the span in question; what that second decoding also misses
is reported, never invented."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

RATE = 16000
NEAR_WORD_S = 0.25       # speech this close to a word counts as covered by it (VAD edges, Whisper's times)
MIN_GAP_S = 0.3          # uncovered speech shorter than this is a breath or a click, not a lost phrase
REDECODE_PAD_S = 0.3     # context around an uncovered stretch for its second decoding
MIN_REPEATS = 3          # this many copies in a row of one word or phrase is a loop candidate
# Speech a second decoding leaves without words, beyond what the run's own words leave, that shows
# it merged copies that were said: more than a short word's worth.
MERGED_COPIES_S = 0.4
MAX_LOOP_WORDS = 6       # the longest phrase looked for as a repeated unit
# Faster than this is not speech: Russian read speech runs at about 5 syllables a second, quick
# speakers reach 7-8 for a few words; a loop's copies are squeezed into the time of one, and a window
# whose word times collapsed puts a whole sentence into a fraction of a second.
MAX_SYLLABLES_PER_S = 12.0
_VOWELS = re.compile(r"[аеёиоуыэюяaeiouy]", re.IGNORECASE)

Span = tuple[float, float]
Words = list[dict[str, Any]]


def speech_regions(audio: np.ndarray) -> list[Span]:
    """Where Silero VAD hears speech in 16 kHz ``audio`` (s), padded by 30 ms only: tight enough to
    measure what the phrases cover."""
    from ..signal.activity import vad_spans

    return vad_spans(audio, RATE, pad_ms=30)


def _minus(regions: Sequence[Span], holes: Sequence[Span]) -> list[Span]:
    """``regions`` less ``holes`` (both sorted by start)."""
    out: list[Span] = []
    for start, end in regions:
        position = start
        for a, b in holes:
            if b <= position or a >= end:
                continue
            if a > position:
                out.append((position, a))
            position = max(position, b)
        if position < end:
            out.append((position, end))
    return out


def uncovered(regions: Sequence[Span], words: Words, near: float = NEAR_WORD_S, shortest: float = MIN_GAP_S
              ) -> list[Span]:
    """The parts of the speech ``regions`` farther than ``near`` from every word, at least ``shortest`` long."""
    holes = sorted((w["start"] - near, w["end"] + near) for w in words)
    return [(a, b) for a, b in _minus(regions, holes) if b - a >= shortest]


def seconds(spans: Sequence[Span]) -> float:
    return float(sum(b - a for a, b in spans))


def _key(word: dict[str, Any]) -> str:
    return re.sub(r"[^\w]", "", word["word"].lower())


def syllables(words: Words) -> int:
    return sum(max(1, len(_VOWELS.findall(w["word"]))) for w in words)


@dataclass(frozen=True)
class Loop:
    """Words ``first`` to ``end`` (exclusive) of a segment: one unit of ``size`` words, ``copies`` times."""

    first: int
    end: int
    size: int

    @property
    def copies(self) -> int:
        return (self.end - self.first) // self.size


def find_loops(words: Words, repeats: int = MIN_REPEATS) -> list[Loop]:
    """Runs of one word or phrase (up to MAX_LOOP_WORDS words) said ``repeats`` or more times in a row,
    longest runs first taken, never overlapping."""
    keys = [_key(w) for w in words]
    loops: list[Loop] = []
    i = 0
    while i < len(keys):
        best: Loop | None = None
        for size in range(1, MAX_LOOP_WORDS + 1):
            unit = keys[i: i + size]
            if len(unit) < size or not any(unit):
                break
            end = i + size
            while keys[end: end + size] == unit:
                end += size
            if (end - i) // size >= repeats and (best is None or end - i > best.end - best.first):
                best = Loop(i, end, size)
        if best is not None:
            loops.append(best)
            i = best.end
        else:
            i += 1
    return loops


def too_fast(words: Words) -> bool:
    """Whether ``words`` could not have been said in the time Whisper gives them."""
    span = words[-1]["end"] - words[0]["start"]
    return syllables(words) > MAX_SYLLABLES_PER_S * max(span, 0.05)


def cut_back(words: Words, loop: Loop) -> Words:
    """``words`` with the loop said once, its one copy spread over the time the copies took."""
    run = words[loop.first: loop.end]
    unit = run[: loop.size]
    start, end = run[0]["start"], run[-1]["end"]
    scale = (end - start) / max(unit[-1]["end"] - start, 1e-3)
    once = [{**w, "start": round(start + (w["start"] - start) * scale, 3),
             "end": round(start + (w["end"] - start) * scale, 3)} for w in unit]
    return [*words[: loop.first], *once, *words[loop.end:]]


# A second decoding: (audio, first_s, last_s) -> the words it hears there (with REDECODE_PAD_S of
# context either side), in the recording's times.
Redecode = Callable[[np.ndarray, float, float], Words]


def within(words: Words, first: float, last: float, near: float = NEAR_WORD_S) -> Words:
    """The words whose middle lies in first..last, give or take ``near``."""
    return [w for w in words if first - near <= (w["start"] + w["end"]) / 2 <= last + near]


def _merged_copies(regions: Sequence[Span], run: Words, again: Words, start: float, end: float) -> bool:
    """The run's words cover speech (Silero VAD's ``regions``) of its span that the second decoding's
    leave uncovered: the copies were said, each in its own stretch of speech, and the beam search of
    the second decoding heard them as one."""
    inside = [(max(a, start), min(b, end)) for a, b in regions if a < end and b > start]
    return seconds(uncovered(inside, again)) >= seconds(uncovered(inside, run)) + MERGED_COPIES_S


def mend_loops(words: Words, audio: np.ndarray, redecode: Redecode, regions: Sequence[Span] = ()
               ) -> tuple[Words, list[dict[str, Any]]]:
    """``words`` with every loop the audio does not hold cut back, and what was cut.

    A run is kept only when its copies fit their time at a speaking pace and a second decoding of its
    span hears the same run again ("да, да, да" said slowly), or hears it once but leaves the speech of
    the other copies without words (``regions``: where the speech is). Otherwise the second decoding's
    words replace it when they hold no loop themselves, else the run is said once."""
    cut: list[dict[str, Any]] = []
    for loop in reversed(find_loops(words)):
        run = words[loop.first: loop.end]
        start, end = run[0]["start"], run[-1]["end"]
        again = [] if too_fast(run) else within(redecode(audio, start, end), start, end)
        repeated = find_loops(again)
        if again and repeated and repeated[0].copies >= loop.copies and not too_fast(again):
            continue  # the audio holds it: said that way twice, at a speaking pace
        if again and not too_fast(run) and _merged_copies(regions, run, again, start, end):
            continue
        if again and not repeated:
            words = [*words[: loop.first], *again, *words[loop.end:]]
        else:
            words = cut_back(words, loop)
        cut.append({"start": start, "end": end, "text": "".join(w["word"] for w in run[: loop.size]).strip(),
                    "copies": loop.copies})
    return words, cut[::-1]
