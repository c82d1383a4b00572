"""Readers for everything else: words (Latin, Roman numerals, units after a number), symbols,
dotted abbreviations, URLs and punctuation. Same contract as read_numbers."""

from __future__ import annotations

import re

from .letters import translit, word_text
from .numbers import integer, ordinal, roman
from .pieces import Piece
from .read_numbers import read_num
from .reader import Reader
from .tables import CYR, DOT_ABBR, LEADING_ABBR, SPLIT_ABBR, UNIT_ALONE, UNITS
from .tokens import mark_of


def read_nothing(r: Reader, i: int, p: Piece) -> int:
    """Quotes, brackets, a hyphen or apostrophe inside a word: nothing to say."""
    return 1


def read_punct(r: Reader, i: int, p: Piece) -> int:
    r.count = None
    r.mark(mark_of(p.text))
    return 1


def read_sym(r: Reader, i: int, p: Piece) -> int:
    c = p.text
    if c == "минус":
        r.emit("минус", p.src)
        return 1
    nxt_i = r.nidx(i, 1)
    nxt = None if nxt_i is None else r.pieces[nxt_i]
    if c in ("$", "€", "£", "₽") and nxt_i is not None and nxt is not None and nxt.kind == "num" and (
            r.count is None):
        # "$5": the number, then the currency (said with the number's word, keeping order)
        used = read_num(r, nxt_i, nxt)
        r.emit_unit(c, nxt.src)
        return nxt_i - i + used
    if c == "°":
        if nxt is not None and nxt.kind == "word" and nxt.text.lower() in ("c", "с"):
            r.emit_unit("°c", p.src)
            return 2
        r.emit_unit("°", p.src)
        return 1
    if c in UNITS:
        r.emit_unit(c, p.src)
        return 1
    r.count = None
    words = {"№": "номер", "@": "собака", "&": "и", "+": "плюс", "=": "равно",
             "#": "решётка", "*": "звёздочка"}
    if c in words:
        r.emit(words[c], p.src)
    return 1


def read_abbr(r: Reader, i: int, p: Piece) -> int:
    key = p.text
    bare = key.rstrip(".")
    consumed = 1
    if key == "т.":
        nxt_word = r.words[p.src + 1].strip().lower() if p.src + 1 < len(r.words) else ""
        m = re.match(f"([{CYR}])\\.", nxt_word)
        if p.word_end and m and m.group(1) in SPLIT_ABBR and (
                i + 1 < len(r.pieces)):
            first, second = SPLIT_ABBR[m.group(1)]
            r.emit(first, p.src)
            nxt = r.pieces[i + 1]
            r.emit(second, nxt.src)
            consumed = 1
            # the letter, then its dot (not a sentence end unless the next word says so)
            if i + 2 < len(r.pieces) and r.pieces[i + 2].src == nxt.src and (
                    r.pieces[i + 2].kind == "punct"):
                dot = r.pieces[i + 2]
                consumed = 2
                if dot.text != ".":
                    r.mark(mark_of(dot.text[1:] or "."))
                elif r.sentence_end_after(i + 2, leading=m.group(1) in "екнч"):
                    r.mark(".")
            return consumed + 1
        r.emit(word_text(bare), p.src)
        r.count = None
        if r.sentence_end_after(i):
            r.mark(".")
        return 1
    leading = key in LEADING_ABBR and not (r.count is not None and bare in UNITS)
    if r.count is not None and bare in UNITS:
        r.emit_unit(bare, p.src)
    elif bare in UNIT_ALONE and key not in DOT_ABBR:
        r.emit(UNIT_ALONE[bare], p.src)
        r.count = None
    elif key in DOT_ABBR:
        r.emit(DOT_ABBR[key], p.src)
        r.count = None
    else:
        r.emit(word_text(bare), p.src)
        r.count = None
    if r.sentence_end_after(i, leading):
        r.mark(".")
    return consumed


def read_url(r: Reader, i: int, p: Piece) -> int:
    parts = re.split(r"([./@:_-])", p.text)
    said = []
    names = {".": "точка", "/": "слэш", "@": "собака", "_": "подчёркивание"}
    for part in parts:
        if not part or part in ":-":
            continue
        if part in names:
            said.append(names[part])
        elif part.isdigit():
            said.append(integer(part))
        else:
            for sub in re.findall(r"[A-Za-z]+|\d+", part):
                said.append(integer(sub) if sub.isdigit() else translit(sub))
    r.emit(" ".join(said), p.src)
    r.count = None
    return 1


def read_word(r: Reader, i: int, p: Piece) -> int:
    lw = p.text.lower()
    # a unit right after a number: "10 км", "5 кг", "28,8 кбит"
    before = r.neighbour(i, -1)
    if r.count is not None and lw in UNITS and before is not None and before.kind == "num":
        if len(lw) > 1 or (not p.word_end or p.src == before.src):
            r.emit_unit(lw, p.src)
            return 1
    r.count = None
    r.fractional = False
    # Roman numerals before "век": "XX век" -> "двадцатый век"
    nxt = r.next_word(i)
    if p.text.isupper() and re.fullmatch("[IVXLCDM]+", p.text) and nxt.startswith("век"):
        n = roman(p.text)
        if n:
            vcase = {"век": "n", "века": "g", "веке": "p", "веку": "d", "веком": "i"}.get(nxt, "n")
            r.emit(ordinal(n, vcase), p.src)
            return 1
    r.emit(word_text(p.text), p.src)
    return 1

