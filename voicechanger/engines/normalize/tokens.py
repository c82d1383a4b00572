"""What normalisation produces: a ``Token``, and how a run of punctuation becomes its one mark."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: What a normalised token looks like: one lowercase Cyrillic word, optionally one mark.
TOKEN_RE = re.compile(r"^[а-яё]+[.,!?]?$")

#: Which mark wins where several fall on one token.
MARK_RANK = {",": 1, ".": 2, "!": 3, "?": 4}


@dataclass(frozen=True)
class Token:
    """One speakable word for TTS.

    text: lowercase Cyrillic letters (may contain ё, and '+' once stress is marked),
          optionally followed by exactly one of ``. , ! ?``.
    src:  index of the source word (in the ``normalize_words`` input) it was made from.
    """

    text: str
    src: int


def mark_of(run: str) -> str:
    """The one mark a run of punctuation stands for ("?!" -> "?", "..." -> ".", ":" -> ",")."""
    if "?" in run:
        return "?"
    if "!" in run:
        return "!"
    if "." in run or "…" in run:
        return "."
    return ","
