"""One source word cut into typed pieces (number, date, word, abbreviation, symbol, punctuation...)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .tables import CYR, DOT_ABBR, ORD_SUFFIXES, UNIT_ALONE, UNITS


@dataclass
class Piece:
    kind: str  # a key of convert.READERS: num, date, ordnum, numcomp, word, abbr, url, sym, punct, join, skip
    text: str
    src: int
    extra: str = ""
    word_end: bool = False  # last piece of its source word


_NUM_RE = re.compile(r"\d+(?:[.,:]\d+)*")
_DATE_RE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})(?!\d|[.,]\d)")
_URL_RE = re.compile(
    r"(?:https?://)?(?:[A-Za-z0-9_-]+\.)+[A-Za-z]{2,6}(?:/[A-Za-z0-9_.\-/]*)?"
    r"|[A-Za-z0-9_.+-]+@[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+")
_LETTERS_RE = re.compile(f"[{CYR}A-Za-z]+")
_DOTTED_RE = re.compile(f"(?:[{CYR}]{{1,5}}\\.)+")
_PUNCT_CHARS = ".,!?;:…—–‒-"
_SYMBOLS = "%$€£₽№°@&+=#*/\\"


def _url(w: str, i: int, src: int, out: list[Piece]) -> int | None:
    m = _URL_RE.match(w, i)
    if m and re.search("[A-Za-z]", m.group()) and (
            "." in m.group() or "@" in m.group()) and (
            i == 0 or not w[i - 1].isalnum()):
        text = m.group().rstrip(".")
        out.append(Piece("url", text, src))
        return i + len(text)
    return None


def _date(w: str, i: int, src: int, out: list[Piece]) -> int | None:
    m = _DATE_RE.match(w, i)
    if m and 1 <= int(m.group(1)) <= 31 and 1 <= int(m.group(2)) <= 12:
        out.append(Piece("date", m.group(), src))
        return m.end()
    return None


def _number(w: str, i: int, src: int, out: list[Piece]) -> int | None:
    m = _NUM_RE.match(w, i)
    if not m:
        return None
    text = m.group()
    j = m.end()
    # a trailing separator is punctuation ("500." "28,")
    suffix = re.compile(f"-?([{CYR}]+)").match(w, j)
    if suffix and suffix.group(1).lower() in ORD_SUFFIXES and (
            suffix.group().startswith("-") or suffix.group(1).lower() in (
            "й", "го", "му", "ый", "ой", "ий", "ая", "ое", "ые", "ых", "ом", "ым")) and (
            re.fullmatch(r"\d+", text)):
        out.append(Piece("ordnum", text, src, suffix.group(1)))
        return suffix.end()
    if suffix and suffix.group().startswith("-") and len(suffix.group(1)) > 3 and (
            re.fullmatch(r"\d+", text)):
        out.append(Piece("numcomp", text, src, suffix.group(1).lower()))
        return suffix.end()
    out.append(Piece("num", text, src))
    return j


def _dotted(w: str, i: int, src: int, out: list[Piece]) -> int | None:
    """The longest known dotted abbreviation that starts here ("т.е.", "г.")."""
    m = _DOTTED_RE.match(w, i)
    if not m:
        return None
    segs = m.group().split(".")[:-1]
    for k in range(len(segs), 0, -1):
        key = ".".join(segs[:k]).lower() + "."
        if key in DOT_ABBR or key[:-1] in UNITS or key[:-1] in UNIT_ALONE or (
                key == "т." and k == 1):
            out.append(Piece("abbr", key, src, extra=w[i:i + len(key)]))
            return i + len(key)
    return None


def _letters(w: str, i: int, src: int, out: list[Piece]) -> int | None:
    m = _LETTERS_RE.match(w, i)
    if m:
        out.append(Piece("word", m.group(), src))
        return m.end()
    return None


def _punctuation(w: str, i: int, src: int, out: list[Piece]) -> int | None:
    if w[i] not in _PUNCT_CHARS:
        return None
    j = i
    while j < len(w) and w[j] in _PUNCT_CHARS:
        j += 1
    run = w[i:j]
    inner = i > 0 and j < len(w) and w[i - 1].isalnum() and w[j].isalnum()
    if run in ("-", "'") and inner:
        out.append(Piece("join", run, src))
    elif run == "-" and j < len(w) and w[j].isdigit() and not out:
        out.append(Piece("sym", "минус", src))
    else:
        out.append(Piece("punct", run, src))
    return j


def _single(w: str, i: int, src: int, out: list[Piece]) -> int:
    """A symbol said as a word, an apostrophe joining a word, or (quotes, brackets, anything else)
    nothing to say."""
    c = w[i]
    kind = "sym" if c in _SYMBOLS else "join" if c in ("'", "’") else "skip"
    out.append(Piece(kind, c, src))
    return i + 1


_SCANNERS = (_url, _date, _number, _dotted, _letters, _punctuation)


def split_word(word: str, src: int) -> list[Piece]:
    """One whitespace-separated word of the input as pieces, each of one kind (a number, a date, an
    abbreviation, letters, punctuation...); the first scanner that matches at a position wins."""
    w = word.strip().replace("\u00a0", " ").replace("\u202f", " ")
    w = re.sub(r"(?<=\d) (?=\d{3}\b)", "", w)
    out: list[Piece] = []
    i = 0
    while i < len(w):
        if w[i].isspace():
            i += 1
            continue
        for scan in _SCANNERS:
            end = scan(w, i, src, out)
            if end is not None:
                i = end
                break
        else:
            i = _single(w, i, src, out)
    if out:
        out[-1].word_end = True
    return out


