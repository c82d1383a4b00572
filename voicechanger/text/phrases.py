"""Phrases: the unit a voice says in one breath and that is placed in time, and what the stages write
about them (the contracts between transcribe/script, stress, synthesize and prosody).

Batched Whisper returns segments of up to 30 s. A re-voiced phrase should be short enough that its
timing and intonation map cleanly, so segments are cut at pauses between words and after sentence
ends, and very long runs are cut at their widest gap.

The types are TypedDicts: at run time these are the plain dicts the store keeps as JSON in each
artifact's metadata (and that cache keys hash), so typing them changes no artifact and no key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict


class _HeardWord(TypedDict):
    start: float        # seconds in the recording
    end: float
    word: str           # as Whisper wrote it, with its leading space
    probability: float  # Whisper's confidence (1.0 for a script's word)


class Word(_HeardWord, total=False):
    """One word of a phrase: Whisper's, or a script's."""

    timed: bool   # False: its times are spread over a script's cue (a guess), not heard
    stress: str   # the user's stress marks from a script ('+' before the stressed vowel)


class _Phrase(TypedDict):
    start: float
    end: float
    text: str
    words: list[Word]


class Phrase(_Phrase, total=False):
    """A phrase as transcribe (or script) writes it; stress adds who says it when speakers are looked
    for (the speakers stage), and a script's cue may name them."""

    speaker: str


class Token(TypedDict):
    """One token the voice says, as stress writes it: normalisation can make several of one word
    (a number) or none."""

    text: str    # stress-marked: '+' before the stressed vowel
    plain: str   # the normalised text without marks
    src: int     # the index of the word in its phrase's ``words`` it was said for


class StressedPhrase(Phrase):
    """A phrase as stress writes it: the transcribed phrase with the tokens the voice says."""

    tokens: list[Token]
    stressed: str   # the tokens' texts, space-separated
    key: str        # the phrase's memo key in stress


# Where the voice said each token of a phrase: one (start_s, end_s) per token (in the phrase's own
# audio); lists once read back from the store.
WordSpans = Sequence[Sequence[float]]


class _SaidPhrase(TypedDict):

    offset: int                     # first sample in the synthesize artifact's ``audio``
    length: int                     # samples; 0 when nothing was said
    word_spans: WordSpans | None    # None when the voice reports no timings
    rate: float                     # the voice's native rate used to fit the phrase (1.0: natural)
    error: str | None               # why the voice could not say it (an unsaid phrase), else None
    key: str                        # the phrase's memo key in synthesize


class SaidPhrase(_SaidPhrase, total=False):
    """One phrase as synthesize writes it: where its audio lies in the chunk's synthesized audio; with
    speakers, whose phrase it is and which of the chunk's voices (meta "voices") said it."""

    speaker: str
    voice: int

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


def bare_phrase(phrase: Phrase) -> Phrase:
    """The phrase as transcribe or script wrote it (a stressed phrase without its tokens)."""
    bare: Phrase = {"start": phrase["start"], "end": phrase["end"], "text": phrase["text"], "words": phrase["words"]}
    if phrase.get("speaker"):
        bare["speaker"] = phrase["speaker"]
    return bare
