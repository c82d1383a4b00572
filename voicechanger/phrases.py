"""Split Whisper segments into phrases: the unit a voice says in one breath and that is placed in time.

Batched Whisper returns segments of up to 30 s. A re-voiced phrase should be short enough that its
timing and intonation map cleanly, so segments are cut at pauses between words and after sentence
ends, and very long runs are cut at their widest gap.
"""

from __future__ import annotations

from typing import Any

Word = dict[str, Any]

PAUSE_S = 0.35          # a gap this long between words always ends a phrase
SENTENCE_MIN_S = 1.5    # a sentence end ends a phrase once it is at least this long
MAX_PHRASE_S = 12.0     # longer runs are cut at their widest gap
_SENTENCE_END = (".", "!", "?", "…")


def _cut_longest(words: list[Word]) -> list[list[Word]]:
    if words[-1]["end"] - words[0]["start"] <= MAX_PHRASE_S or len(words) < 2:
        return [words]
    gaps = [(words[i + 1]["start"] - words[i]["end"], i) for i in range(len(words) - 1)]
    # Prefer a comma or sentence mark among the widest gaps; then the widest gap near the middle.
    def score(item: tuple[float, int]) -> tuple[float, float]:
        gap, i = item
        punct = 0.2 if words[i]["word"].strip()[-1:] in ",;:" + "".join(_SENTENCE_END) else 0.0
        balance = -abs((i + 1) / len(words) - 0.5) * 0.2
        return (gap + punct + balance, -i)

    _, cut = max(gaps, key=score)
    return _cut_longest(words[: cut + 1]) + _cut_longest(words[cut + 1 :])


def split_phrases(segments: list[dict[str, Any]]) -> list[list[Word]]:
    """Word lists, one per phrase, in time order; every word of every segment lands in one phrase."""
    words = [w for segment in segments for w in segment["words"]]
    words.sort(key=lambda w: w["start"])
    phrases: list[list[Word]] = []
    current: list[Word] = []
    for word in words:
        if current:
            gap = word["start"] - current[-1]["end"]
            ended = current[-1]["word"].strip().endswith(_SENTENCE_END)
            long_enough = current[-1]["end"] - current[0]["start"] >= SENTENCE_MIN_S
            if gap >= PAUSE_S or (ended and long_enough):
                phrases.append(current)
                current = []
        current.append(word)
    if current:
        phrases.append(current)
    return [piece for phrase in phrases for piece in _cut_longest(phrase)]
