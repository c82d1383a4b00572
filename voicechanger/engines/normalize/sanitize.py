"""The last-resort sanitiser: any text made festival-safe, dropping what it cannot say."""

from __future__ import annotations

import re

from ..russian import fix_plus
from .tokens import MARK_RANK, mark_of

_SAN_BAD = re.compile(r"[^а-яё+.,!?\s]")


def sanitize(text: str) -> str:
    """Make any text festival-safe: lowercase Cyrillic words, spaces, single ``. , ! ?``.

    Anything else is dropped (digits and Latin too: normalise first to have them read).
    A run of marks becomes one ("..." -> ".", "?!" -> "?", ":" ";" dashes -> ","), it sits right
    after a word and never opens the text. A '+' stress mark survives only where it stands
    directly before a vowel inside a word, at most one per word.
    """
    t = text.lower().replace("…", ".")
    t = re.sub("[;:—–‒]", ",", t)
    t = re.sub(r"(?<=[а-яё])-(?=[а-яё])", " ", t)  # hyphenated words: two words
    t = t.replace("-", ",")
    t = _SAN_BAD.sub(" ", t)
    words: list[str] = []
    for chunk in re.findall(r"[а-яё+]+|[.,!?]+", t):
        if chunk[0] in ".,!?":
            if words and words[-1][-1] not in ".,!?":
                words[-1] += mark_of(chunk)
            elif words:
                cur = words[-1][-1]
                new = mark_of(chunk)
                if MARK_RANK[new] > MARK_RANK[cur]:
                    words[-1] = words[-1][:-1] + new
            continue
        word = fix_plus(chunk)
        if word:
            words.append(word)
    return " ".join(words)
