"""The editable script: what the voice will say, one cue per phrase, with the stress marks chosen.

Export (``voice script``): each phrase's words as transcribed, a ``+`` before the stressed vowel of
every word the stress model marked, and UNSURE after each word Whisper was unsure of (a plain
character: subtitle editors keep it, ``--script`` ignores it).

Import (``voice convert --script``): the cues become the phrases, with their text and times. A cue
that still reads as exported (same times, same words, same marks) takes the transcribed phrase as it
was, word timings included, so its cache keys and its audio are the same as before; an edited cue
keeps the user's marks (``+`` before, or U+0301 after, the stressed vowel) as fixed stresses and takes
word timings from the transcription where the word count is unchanged, else spreads its words over
the cue by their length.

Speakers (issue 24): the script names each cue's speaker as the subtitles do (``<v Speaker 1>`` in
WebVTT, a ``Speaker 1: `` prefix in SRT when there are two or more; see subtitles.py). Read back, a
cue's speaker becomes its phrase's "speaker" only where it differs from the speaker detected for the
phrase at the same times (the known phrase's), or where there is no such phrase: a cue that still
names its detected speaker keeps the phrase as it was, so renaming one cue's speaker (or typing a
name, ``<v Olga>``, kept verbatim) changes only that phrase, and only it is said again. A cue
without a speaker takes the detected one: an unedited cue keeps its known phrase as it was, an
edited one gives a phrase without "speaker" (stress then gives it the detected speaker).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from .lexicon import mark_problem
from .phrases import Phrase, StressedPhrase, Word, bare_phrase
from .subtitles import Cue, ScriptError, read_cues

UNSURE = "\u2047"  # ⁇ after a word Whisper gave a low probability
UNSURE_BELOW = 0.5  # word probability under which a word is marked unsure
ACUTE = "\u0301"
_WORD = re.compile(r"[^\W_]")  # a letter or a digit: something to say
# A Russian word as a script writes it: Cyrillic letters and stress marks only, once the punctuation
# around it is off ("C++" and "2+2" are not stress marks, and are said as written).
_RUSSIAN_WORD = re.compile(r"^[а-яёА-ЯЁ+\u0301-]*[а-яёА-ЯЁ][а-яёА-ЯЁ+\u0301-]*$")
_PUNCTUATION_EDGES = re.compile(r"^[^\w+\u0301]+|[^\w+\u0301]+$")


def plus_marks(word: str) -> str:
    """U+0301 after a vowel -> '+' before it; the marker characters dropped."""
    word = word.replace(UNSURE, "")
    out: list[str] = []
    for c in word:
        if c == ACUTE and out:
            out.insert(len(out) - 1, "+")
        elif c != ACUTE:
            out.append(c)
    return "".join(out)


def plain(text: str) -> str:
    """The text without stress marks or markers: what viewers read."""
    return text.replace("+", "").replace(ACUTE, "").replace(UNSURE, "")


def letters(text: str) -> str:
    """The letters of a word as compared across spellings: lowercase, ё as е, nothing else."""
    return "".join(c for c in text.lower() if c.isalpha()).replace("ё", "е")


def mark_word(word: str, tokens: list[str]) -> str:
    """``word`` as written with the '+' of its single stressed token put before the same letter;
    unchanged when normalisation made something else of it (a number, an abbreviation)."""
    if len(tokens) != 1 or "+" not in tokens[0]:
        return word
    token = tokens[0]
    stressed_letter = len(letters(token[: token.index("+")]))
    if letters(token) != letters(word):
        return word
    seen = 0
    for position, c in enumerate(word):
        if c.isalpha():
            if seen == stressed_letter:
                return word[:position] + "+" + word[position:]
            seen += 1
    return word


def script_text(phrase: StressedPhrase) -> str:
    """One phrase of a stress artifact as a script cue's text."""
    by_word: dict[int, list[str]] = {}
    for token in phrase.get("tokens", []):
        by_word.setdefault(token["src"], []).append(token["text"])
    out = []
    for index, word in enumerate(phrase["words"]):
        said = word.get("stress") or mark_word(word["word"].strip(), by_word.get(index, []))
        if word.get("probability", 1.0) < UNSURE_BELOW:
            said += UNSURE
        out.append(said)
    return " ".join(out)


def unsure_count(phrases: Sequence[Mapping[str, Any]]) -> int:
    """How many phrases hold a word Whisper was unsure of."""
    return sum(1 for p in phrases if any(w.get("probability", 1.0) < UNSURE_BELOW for w in p["words"]))


def check_one_recording(script: Path | str | None, source: Path, option: str = "--script") -> None:
    """A script belongs to one recording: refuse it with a folder input (the CLI and the flow alike)."""
    if script is not None and Path(source).is_dir():
        raise ScriptError(f"{option} {script}: a script belongs to one recording; give a file, not the folder {source}")


def load_script(path: Path, duration: float) -> list[Cue]:
    """The script's cues, checked: each has words, they do not overlap, none passes the audio's end."""
    cues = read_cues(path)
    if not cues:
        raise ScriptError(f"script {path}: holds no cues; export one with `voice script INPUT`")
    previous: Cue | None = None
    for cue in cues:
        if not _WORD.search(plain(cue.text)):
            raise ScriptError(f"{path} line {cue.line}: the cue has no words; write what is said or delete the cue")
        _check_marks(path, cue)
        if previous is not None and cue.start < previous.end - 1e-6:
            raise ScriptError(f"{path} line {cue.line}: the cue starts before the one at line {previous.line} ends; "
                              "make the times increase without overlap")
        if cue.end > duration + 0.0005:
            raise ScriptError(f"{path} line {cue.line}: the cue ends at {cue.end:.3f} s, after the end of the audio "
                              f"({duration:.3f} s); fix its times")
        previous = cue
    return cues


def _check_marks(path: Path, cue: Cue) -> None:
    """A stress mark that stands on no vowel (наж+мите, зам++ок) would be dropped, and the word read
    with no stress at all: refused with its cue's line instead."""
    for written in cue.text.split():
        word = _PUNCTUATION_EDGES.sub("", written)
        problem = mark_problem(word) if _RUSSIAN_WORD.match(word) else None
        if problem:
            raise ScriptError(f"{path} line {cue.line}: {word!r} has {problem}; put one '+' right before the "
                              "stressed vowel (зам+ок), or none")


def _spread(words: list[str], start: float, end: float) -> list[tuple[float, float]]:
    """Word timings over [start, end] in proportion to each word's letters (at least one each)."""
    weights = [max(1, len(letters(w))) for w in words]
    total = sum(weights)
    out, at = [], start
    for weight in weights:
        length = (end - start) * weight / total
        out.append((round(at, 3), round(at + length, 3)))
        at += length
    return out


def cue_phrase(cue: Cue, known: Phrase | None) -> Phrase:
    """The phrase a cue asks for; ``known`` is the transcribed (and perhaps stress-marked) phrase at
    the same times, whose word timings and cache identity an unedited cue keeps."""
    phrase = _cue_words(cue, known)
    detected = known.get("speaker") if known is not None else None
    if cue.speaker and cue.speaker != detected:  # a speaker the user named or changed
        phrase = {**phrase, "speaker": cue.speaker}
    return phrase


def _cue_words(cue: Cue, known: Phrase | None) -> Phrase:
    """cue_phrase without the speaker: the cue's text, times and words."""
    written = [plus_marks(w) for w in cue.text.split()]
    written = [w for w in written if w]
    plain_words = [plain(w) for w in written]
    if known is not None:
        same_words = [w["word"].strip() for w in known["words"]] == plain_words
        stressed = cast(StressedPhrase, known) if "tokens" in known else None  # from a stress artifact
        if same_words and (stressed is None and not any("+" in w for w in written)
                           or stressed is not None and plus_marks(script_text(stressed)).split() == written):
            return bare_phrase(known)
    timed = known is not None and len(known["words"]) == len(written)
    times = ([(w["start"], w["end"]) for w in known["words"]] if known is not None and timed
             else _spread(plain_words, cue.start, cue.end))
    words = []
    for text, bare, (start, end) in zip(written, plain_words, times):
        word: Word = {"start": start, "end": end, "word": " " + bare, "probability": 1.0}
        if not timed:  # a guess: prosody aligns such a phrase by its pauses instead (see word_pairs)
            word["timed"] = False
        if "+" in text:
            word["stress"] = text
        words.append(word)
    return {"start": round(cue.start, 3), "end": round(cue.end, 3), "text": " ".join(plain_words), "words": words}


def chunk_cues(cues: list[Cue], spans: list[list[int]], rate: int) -> list[list[Cue]]:
    """The cues of each chunk: a cue belongs to the chunk its start falls in; one that goes on past
    that chunk's end is cut there first (cut_at), since a chunk's phrases are placed inside it: the
    part past the end would be squeezed to nothing."""
    out: list[list[Cue]] = [[] for _ in spans]
    pending = list(cues)
    while pending:
        cue = pending.pop(0)
        for index, (_first, last) in enumerate(spans):
            if cue.start < last / rate or index == len(spans) - 1:
                parts = cut_at(cue, last / rate) if index < len(spans) - 1 else [cue]
                out[index].append(parts[0])
                pending[:0] = parts[1:]
                break
    return out


def cut_at(cue: Cue, at: float) -> list[Cue]:
    """``cue`` cut at ``at`` (a chunk's end, where the chunker found a pause) when it goes on past it:
    after the word, a clause end if one is within SPLIT_TOLERANCE, whose share of the letters is
    nearest the share of the cue's time before ``at``."""
    words = cue.text.split()
    if cue.end <= at + 1e-3 or len(words) < 2:
        return [cue]
    counts = np.cumsum([max(1, len(letters(plain(w)))) for w in words], dtype=float)[:-1] / (
        sum(max(1, len(letters(plain(w)))) for w in words))
    share = (at - cue.start) / (cue.end - cue.start)
    ends = [k for k, w in enumerate(words[:-1]) if plain(w).endswith(_CLAUSE_END)
            and abs(counts[k] - share) <= SPLIT_TOLERANCE]
    k = min(ends or range(len(words) - 1), key=lambda k: abs(counts[k] - share))
    at = round(at, 3)
    return [replace(cue, end=at, text=" ".join(words[: k + 1])), replace(cue, start=at, text=" ".join(words[k + 1 :]))]


def cue_times(phrases: Sequence[Phrase]) -> list[tuple[float, float]]:
    """The (start, end) of each phrase's cue: its times to the millisecond, a start moved to the
    previous phrase's end where Whisper's word times made them overlap (a script has no overlaps)."""
    times, previous_end = [], 0.0
    for phrase in phrases:
        start, end = round(phrase["start"], 3), round(phrase["end"], 3)
        start = min(max(start, previous_end), end)
        times.append((start, end))
        previous_end = max(previous_end, end)
    return times


def script_cues(phrases: Sequence[StressedPhrase]) -> list[Cue]:
    """The cues of ``voice script`` for a recording's stress-marked phrases, each with its phrase's
    speaker when it has one (write_cues shows them)."""
    return [Cue(s, e, script_text(p), speaker=p.get("speaker"))
            for p, (s, e) in zip(phrases, cue_times(phrases)) if p["words"] and e > s]


_CLAUSE_END = tuple(".!?;:,…-–—")  # a dash between words ("2 - чтобы") marks a clause too
SPLIT_PAUSE_S = 0.25  # a silence this long is a pause a cue may be cut at: a speaker's pause at a comma can be this short
SPLIT_TOLERANCE = 0.08  # how far a clause end's share of the letters may be from a pause's share of the speech


def split_at_pauses(cue: Cue, stretches: list[tuple[float, float]]) -> list[Cue]:
    """A long cue cut where the speaker pauses, so that each part is a phrase of its own, said and
    placed on its own as Whisper's phrases are. A pause takes the clause end (a word ending in
    punctuation) whose share of the cue's letters is nearest its share of the speech before it, when
    they are within SPLIT_TOLERANCE; ``stretches``: the cue's speech stretches (absolute seconds)
    separated by pauses of at least SPLIT_PAUSE_S."""
    words = cue.text.split()
    if len(stretches) < 2 or len(words) < 2:
        return [cue]
    counts = np.cumsum([len(letters(plain(w))) for w in words], dtype=float)
    if counts[-1] <= 0:
        return [cue]
    durations = np.array([b - a for a, b in stretches])
    spoken = np.cumsum(durations) / durations.sum()
    ends = [k for k, w in enumerate(words[:-1]) if plain(w).endswith(_CLAUSE_END)]
    cuts: list[tuple[int, int]] = []  # (index of the last word before the cut, index of the stretch before it)
    for j in range(len(stretches) - 1):
        if stretches[j + 1][0] - stretches[j][1] < SPLIT_PAUSE_S:
            continue
        free = [k for k in ends if not cuts or k > cuts[-1][0]]
        if not free:
            break
        k = min(free, key=lambda k: abs(counts[k] / counts[-1] - spoken[j]))
        if abs(counts[k] / counts[-1] - spoken[j]) <= SPLIT_TOLERANCE:
            cuts.append((k, j))
    if not cuts:
        return [cue]
    parts, first_word, start = [], 0, cue.start
    for k, j in cuts:
        parts.append(replace(cue, start=round(start, 3), end=round(stretches[j][1], 3),
                             text=" ".join(words[first_word : k + 1])))
        first_word, start = k + 1, stretches[j + 1][0]
    parts.append(replace(cue, start=round(start, 3), text=" ".join(words[first_word:])))
    return [p for p in parts if p.end > p.start]


def script_phrases(cues: list[Cue], known: Sequence[Phrase], audio: np.ndarray | None = None, rate: int = 16000
                   ) -> list[Phrase]:
    """One chunk's phrases from its cues. A cue matched to a known phrase (same cue times) keeps it;
    another is cut at the speaker's pauses in ``audio`` (the recording) where its punctuation allows."""
    from ..engines.prosody import speech_stretches

    by_time = dict(zip(cue_times(known), known))
    phrases = []
    for cue in cues:
        match = by_time.get((round(cue.start, 3), round(cue.end, 3)))
        if match is not None or audio is None:
            phrases.append(cue_phrase(cue, match))
            continue
        first = int(cue.start * rate)
        found = speech_stretches(np.asarray(audio[first : int(cue.end * rate)], dtype=np.float32), rate, SPLIT_PAUSE_S)
        stretches = [(cue.start + a, cue.start + b) for a, b in found]
        phrases += [cue_phrase(part, None) for part in split_at_pauses(cue, stretches)]
    return phrases
