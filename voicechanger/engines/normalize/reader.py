"""The state of one normalisation: the pieces of all source words, what has been said so far, and
the look-around the readers (read_numbers, read_words) decide by."""

from __future__ import annotations

import re

from .numbers import plural_form
from .pieces import Piece, split_word
from .tables import CYR, DAT_PREPS, GEN_PREPS, INS_PREPS, MULTIPLIERS, PREP_PREPS, UNIT_ALONE, UNITS
from .tokens import MARK_RANK, Token


class Reader:
    """Pieces in, tokens out: the readers emit words and marks through it and keep ``count``."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.pieces: list[Piece] = []
        for idx, word in enumerate(words):
            self.pieces.extend(split_word(word, idx))
        self.merge_thousand_groups()
        self.out: list[list] = []  # [text, src, mark]
        self.count: int | None = None  # value of a number just read, for unit agreement
        self.fractional = False

    def merge_thousand_groups(self) -> None:
        """Whisper may write "2 500" as two words: join a 1-3 digit number and a 3 digit one."""
        ps = self.pieces
        i = 0
        while i + 1 < len(ps):
            a, b = ps[i], ps[i + 1]
            after = ps[i + 2] if i + 2 < len(ps) else None
            if (a.kind == "num" and b.kind == "num" and a.word_end and a.src != b.src
                    and re.fullmatch(r"\d{1,3}", a.text) and re.fullmatch(r"\d{3}", b.text)
                    and a.text[0] != "0"
                    and not (i > 0 and ps[i - 1].kind == "sym" and ps[i - 1].src == a.src)
                    # not a phone number: "916 123-45-67", "8 800 555 35 35"
                    and not (after is not None and after.kind in ("num", "join"))):
                a.text += b.text
                a.word_end = b.word_end
                del ps[i + 1]
                continue
            i += 1

    # -- context helpers
    def nidx(self, i: int, step: int) -> int | None:
        """Index of the nearest piece before/after i, skipping quotes; None across punctuation."""
        j = i + step
        while 0 <= j < len(self.pieces):
            p = self.pieces[j]
            if p.kind == "skip":
                j += step
                continue
            if p.kind == "punct":
                return None
            return j
        return None

    def neighbour(self, i: int, step: int) -> Piece | None:
        j = self.nidx(i, step)
        return None if j is None else self.pieces[j]

    def next_word(self, i: int) -> str:
        p = self.neighbour(i, 1)
        return p.text.lower() if p is not None and p.kind in ("word", "abbr", "sym") else ""

    def prev_word(self, i: int) -> str:
        p = self.neighbour(i, -1)
        return p.text.lower() if p is not None and p.kind == "word" else ""

    def prep_case(self, i: int) -> str:
        prev = self.prev_word(i)
        if prev in GEN_PREPS:
            return "g"
        if prev in DAT_PREPS:
            return "d"
        if prev in PREP_PREPS:
            return "p"
        if prev in INS_PREPS:
            return "i"
        return "n"

    def unit_after(self, i: int) -> str | None:
        p = self.neighbour(i, 1)
        if p is None:
            return None
        key = p.text.lower()
        if p.kind == "abbr":
            key = key.rstrip(".")
        if p.kind == "sym" and key == "°":
            nxt = self.neighbour(i + 1, 1)
            if nxt is not None and nxt.kind == "word" and nxt.text.lower() in ("c", "с"):
                return "°c"
        if p.kind in ("sym", "word", "abbr") and key in UNITS:
            if key in ("р", "т", "с", "м", "г", "ч", "л") and p.kind == "word":
                # one-letter units without a dot: only where nothing else can follow
                if not p.word_end and p.src == self.pieces[i].src:
                    return key
                return None
            return key
        return None

    # -- output helpers
    def emit(self, text: str, src: int) -> None:
        for w in text.split():
            w = re.sub("[^а-яё]", "", w.lower())
            if w:
                self.out.append([w, src, ""])

    def mark(self, m: str) -> None:
        if not self.out:
            return
        cur = self.out[-1][2]
        if not cur or MARK_RANK[m] > MARK_RANK[cur]:
            self.out[-1][2] = m

    def sentence_end_after(self, i: int, leading: bool = False) -> bool:
        """After a dotted abbreviation at the end of a word: does a sentence end here?

        Yes at the end of the input; else where the next word starts with a capital (and is
        not an all-caps acronym), unless the abbreviation is one that leads into a name.
        """
        p = self.pieces[i]
        if not p.word_end:
            return False
        if p.src == len(self.words) - 1:
            return True
        if leading:
            return False
        nxt = re.sub(f"[^{CYR}A-Za-z]", "", self.words[p.src + 1])
        return bool(nxt) and nxt[0].isupper() and not (len(nxt) > 1 and nxt.isupper())

    def emit_unit(self, key: str, src: int) -> None:
        """Say a unit in the form the number just read asks for; a multiplier passes it on."""
        forms, _ = UNITS[key]
        if self.count is None:
            self.emit(UNIT_ALONE.get(key, forms[2]), src)
        else:
            self.emit(plural_form(self.count, forms, self.fractional), src)
        if key in MULTIPLIERS and self.count is not None:
            self.count, self.fractional = 5, False  # "5 млн руб." -> "рублей"
        else:
            self.count = None
            self.fractional = False

    def tokens(self) -> list[Token]:
        return [Token(t + m, s) for t, s, m in self.out]
