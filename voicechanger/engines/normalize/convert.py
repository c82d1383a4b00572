"""normalize_words: each piece goes to the reader for its kind, through one table."""

from __future__ import annotations

from collections.abc import Callable

from .pieces import Piece
from .read_numbers import read_date, read_num, read_numcomp, read_ordnum
from .read_words import read_abbr, read_nothing, read_punct, read_sym, read_url, read_word
from .reader import Reader
from .tokens import Token

#: piece kind -> its reader, which returns how many pieces it used.
READERS: dict[str, Callable[[Reader, int, Piece], int]] = {
    "num": read_num, "date": read_date, "ordnum": read_ordnum, "numcomp": read_numcomp,
    "word": read_word, "abbr": read_abbr, "url": read_url, "sym": read_sym,
    "punct": read_punct, "join": read_nothing, "skip": read_nothing,
}


def normalize_words(words: list[str]) -> list[Token]:
    """Turn Whisper words into festival-safe tokens; ``Token.src`` indexes ``words``.

    A source word may give several tokens ("2024" -> "две тысячи двадцать четвёртом") or none
    ("—", "«"); token order follows source order. Punctuation at the end of a word goes onto its
    last token as one mark (":" ";" "—" -> ","; "..." -> "."); a word that is only punctuation
    puts its mark on the token before it.
    """
    reader = Reader(list(words))
    ps = reader.pieces
    i = 0
    while i < len(ps):
        p = ps[i]
        i += READERS[p.kind](reader, i, p) or 1
    return reader.tokens()
