"""Russian letters as Festival's msu_ru voice takes them: the vowels, and the '+' stress mark.

Festival reads '+' as "the next vowel is stressed" and aborts the utterance on a '+' anywhere else,
so every module that writes text for it (normalize, stress, tts.festival) keeps a '+' only right
before a vowel, with this one rule.
"""

from __future__ import annotations

__all__ = ["VOWELS", "fix_plus"]

VOWELS = "аеёиоуыэюя"


def fix_plus(word: str, limit: int | None = 1) -> str:
    """Keep a '+' only directly before a vowel, and only the first ``limit`` of those (None: all).

    A run of '+' before a vowel leaves one ("++ё" -> "+ё"); other characters are kept as they are.
    """
    out = []
    kept = 0
    for k, c in enumerate(word):
        if c == "+":
            if (limit is None or kept < limit) and k + 1 < len(word) and word[k + 1] in VOWELS:
                out.append(c)
                kept += 1
            continue
        out.append(c)
    return "".join(out)
