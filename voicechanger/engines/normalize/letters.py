"""Runs of letters read as lowercase Cyrillic words: Latin transliterated or spelled, all-caps
abbreviations spelled where they cannot be read as a word."""

from __future__ import annotations

import re

from ..russian import VOWELS
from .tables import (
    CONSONANT_WORDS,
    CYR,
    CYR_LETTER_NAMES,
    HOMOGLYPHS,
    LAT_LETTER_NAMES,
    LAT_MULTI,
    LAT_SINGLE,
    LATIN_WORDS,
    SHORT_WORDS_CAPS,
)


def spell_cyr(word: str) -> str:
    return " ".join(CYR_LETTER_NAMES.get(c, c) for c in word.lower())


def spell_lat(word: str) -> str:
    return " ".join(LAT_LETTER_NAMES.get(c, "") for c in word.lower()).strip()


def pronounceable(word: str, vowels: str) -> bool:
    """Can an all-caps abbreviation be read as a word (ПИН, НАТО) or must it be spelled (АТС)?"""
    w = word.lower()
    pattern = "".join("v" if c in vowels else "c" for c in w)
    if "v" not in pattern or len(w) <= 2:
        return False
    if pattern.startswith("cc") or "ccc" in pattern:
        return False
    if len(w) == 3 and pattern.endswith("cc"):
        return False
    return True


def translit(word: str) -> str:
    """Latin word -> Cyrillic: a dictionary of usual readings, then letter/digraph rules."""
    lw = word.lower()
    if lw in LATIN_WORDS:
        return LATIN_WORDS[lw]
    is_caps = word.isupper() and len(word) >= 2
    if is_caps and (len(word) <= 3 or not pronounceable(lw, "aeiouy")):
        return spell_lat(lw)
    if not any(c in "aeiouy" for c in lw):
        return spell_lat(lw)
    if len(lw) == 1:
        return spell_lat(lw)
    # A final silent e ("site", "apache") is dropped when the word has another vowel.
    silent_e = len(lw) > 3 and lw.endswith("e") and lw[-2] not in "aeiouy" and any(
        c in "aeiouy" for c in lw[:-2])
    out = []
    i = 0
    while i < len(lw):
        for latin, cyr in LAT_MULTI:
            if lw.startswith(latin, i):
                out.append(cyr)
                i += len(latin)
                break
        else:
            c = lw[i]
            nxt = lw[i + 1] if i + 1 < len(lw) else ""
            prev = lw[i - 1] if i else ""
            if c == "c" and nxt in ("e", "i", "y"):
                out.append("с")
            elif c == "y" and (i == 0 and nxt in "aeiou" or prev in "aeiou"):
                out.append("й")
            elif c == "e" and i == 0:
                out.append("э")
            else:
                out.append(LAT_SINGLE.get(c, ""))
            i += 1
    if silent_e and out and out[-1] == "е":
        out.pop()
    return "".join(out)


def word_text(word: str) -> str:
    """A run of letters (Cyrillic, Latin or a mix) -> lowercase Cyrillic words."""
    has_cyr = re.search(f"[{CYR}]", word) is not None
    has_lat = re.search("[A-Za-z]", word) is not None
    if has_cyr and has_lat:
        word = word.translate(HOMOGLYPHS)
        # Whatever Latin is left is read letter by letter in place.
        word = re.sub("[A-Za-z]+", lambda m: translit(m.group()), word)
        has_lat = False
    if has_lat:
        return translit(word)
    lw = word.lower()
    if word.isupper() and len(word) >= 2 and lw not in SHORT_WORDS_CAPS and not (
            pronounceable(lw, VOWELS)):
        return spell_cyr(lw)
    if not any(c in VOWELS for c in lw):
        if lw in CONSONANT_WORDS:
            return lw
        letters = lw.replace("ь", "").replace("ъ", "")
        return spell_cyr(letters) if letters else ""
    return lw
