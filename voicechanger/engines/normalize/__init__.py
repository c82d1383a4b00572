"""Russian text normalisation for TTS: Whisper words -> clean lowercase Cyrillic tokens.

Festival's Russian front end (msu_ru_nsh) aborts a whole utterance, silently, on any character
outside Cyrillic letters, spaces and single ``. , ! ?``. So every output token is one lowercase
Cyrillic word plus at most one trailing mark, and numbers, symbols, abbreviations and Latin
words are spelled out as Russian words first (reading them is better than dropping them).

Each output token remembers the index of the source word it came from (``Token.src``), so the
word timestamps of the transcript still apply after expansion ("2024" -> four tokens).

Layout: tables (word lists), numbers and letters (reading one number or letter run), pieces (one
source word cut into typed pieces), reader (state and look-around), read_numbers and read_words
(one reader per piece kind), convert (the dispatch table, ``normalize_words``), sanitize.
"""

from __future__ import annotations

from .convert import normalize_words
from .sanitize import sanitize
from .tokens import TOKEN_RE, Token

__all__ = ["Token", "normalize_words", "sanitize", "TOKEN_RE"]
