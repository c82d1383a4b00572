"""Readers for number pieces: plain numbers (with gender and case from their neighbours), years,
dates, ordinals ("2-го") and number compounds ("20-летие").

Each reader takes the Reader, the index of its piece and the piece, says what it reads through the
Reader, and returns how many pieces it used.
"""

from __future__ import annotations

import re

from .numbers import cardinal, clock_time, decimal, integer, ordinal, ordinal_by_suffix
from .pieces import Piece
from .reader import Reader
from .tables import DAT_PREPS, MONTHS, MONTHS_GEN, NOT_NOUNS, UNITS, YEAR_NOUNS


def number_gender(r: Reader, i: int, n: int) -> str:
    """The gender a count agrees with: its unit's, or that of the noun after it (masculine if unsure)."""
    unit = r.unit_after(i)
    if unit is not None:
        return UNITS[unit][1]
    nxt = r.next_word(i)
    nxt_p = r.neighbour(i, 1)
    if not nxt or nxt_p is None or nxt_p.kind != "word" or len(nxt) < 4 or (
            nxt in NOT_NOUNS) or r.prep_case(i) != "n":
        return "m"
    if n % 100 in (11, 12):
        return "m"
    if n % 10 == 1 and nxt[-1] in "ая":
        return "f"
    if n % 10 == 1 and nxt[-1] in "ео" and not nxt.endswith("ее"):
        return "n"
    if n % 10 == 2 and nxt[-1] in "ыи":
        return "f"
    return "m"


def read_num(r: Reader, i: int, p: Piece) -> int:
    text = p.text
    r.fractional = False
    nxt = r.next_word(i)
    prev = r.prev_word(i)
    case = r.prep_case(i)
    if ":" in text:
        parts = re.split("[.,:]", text)
        if (len(parts) == 2 and len(parts[1]) == 2 and int(parts[0]) <= 24
                and int(parts[1]) < 60):
            r.emit(clock_time(parts, case), p.src)
        else:
            r.emit(" ".join(integer(x) for x in parts), p.src)
        r.count = None
        return 1
    seps = re.findall("[.,]", text)
    if seps:
        groups = re.split("[.,]", text)
        if len(set(seps)) == 1 and len(groups[0]) <= 3 and all(
                len(g) == 3 for g in groups[1:]) and (len(seps) > 1 or seps[0] == "."):
            # thousands separators: "1.000.000", "1.000"
            text = "".join(groups)
        elif len(seps) == 1:
            r.emit(decimal(groups[0], groups[1]), p.src)
            r.count = int(groups[0])
            r.fractional = True
            return 1
        else:
            # version numbers, IP addresses
            word = " точка " if seps[0] == "." else " запятая "
            r.emit(word.join(integer(g) for g in groups), p.src)
            r.count = None
            return 1
    n = int(text)
    # years: "в 2024 году", "2024 г."
    nxt_i = r.nidx(i, 1)
    nxt_p = None if nxt_i is None else r.pieces[nxt_i]
    if nxt in YEAR_NOUNS:
        ycase, plural = YEAR_NOUNS[nxt]
        if nxt == "году" and prev not in ("в", "во", "о", "об", "при"):
            ycase = "d"
        r.emit(ordinal(n, ycase, "m", plural), p.src)
        r.count = None
        return 1
    if nxt_i is not None and nxt_p is not None and nxt_p.kind in ("abbr", "word") and (
            nxt_p.text.lower() in ("г.", "гг.", "г", "гг")) and (
            len(text) == 4 or prev in ("в", "во", "с", "со", "до", "от", "после")):
        plural = nxt_p.text.lower().startswith("гг")
        if prev in ("в", "во", "о", "об", "при"):
            ycase = "p"
        elif prev in DAT_PREPS:
            ycase = "d"
        else:
            ycase = "g"
        r.emit(ordinal(n, ycase, "m", plural), p.src)
        noun = {("p", False): "году", ("g", False): "года", ("d", False): "году",
                ("p", True): "годах", ("g", True): "годов", ("d", True): "годам"}
        r.emit(noun[(ycase, plural)], nxt_p.src)
        if nxt_p.kind == "abbr" and r.sentence_end_after(nxt_i):
            r.mark(".")
        r.count = None
        return nxt_i - i + 1
    # dates: "1 января" (and the year after a month: "1 января 2024")
    if nxt in MONTHS_GEN and 1 <= n <= 31:
        dcase = "g" if case == "g" or prev in ("с", "со") else case
        r.emit(ordinal(n, dcase, "n"), p.src)
        r.count = None
        return 1
    if prev in MONTHS_GEN and len(text) == 4:
        r.emit(ordinal(n, "g"), p.src)
        r.count = None
        return 1
    # "XX век" is handled with words; here: plain numbers
    gender = number_gender(r, i, n)
    unit = r.unit_after(i)
    if unit is not None and case in ("d", "p", "i"):
        case = "n"  # unit nouns are only known in the counting forms
    r.emit(integer(text, case, gender), p.src)
    r.count = n if len(text) < 2 or not text.startswith("0") else None
    return 1


def read_date(r: Reader, i: int, p: Piece) -> int:
    """"01.02.2024" -> "первое февраля две тысячи двадцать четвёртого года"."""
    d, mth, y = p.text.split(".")
    year = int(y) if len(y) == 4 else 2000 + int(y) if len(y) == 2 else int(y)
    case = "g" if r.prep_case(i) == "g" else "n"
    r.emit(f"{ordinal(int(d), case, 'n')} {MONTHS[int(mth) - 1]} "
              f"{ordinal(year, 'g')} года", p.src)
    r.count = None
    return 1


def read_ordnum(r: Reader, i: int, p: Piece) -> int:
    n = int(p.text)
    r.emit(ordinal_by_suffix(n, p.extra), p.src)
    r.count = None
    return 1


def read_numcomp(r: Reader, i: int, p: Piece) -> int:
    """"20-летие" -> "двадцатилетие": the genitive joined to the word."""
    n = int(p.text)
    if n == 1:
        first = "одно"
    elif n == 100:
        first = "сто"
    elif n == 90:
        first = "девяносто"
    else:
        first = cardinal(n, "g").replace(" ", "")
    r.emit(first + p.extra, p.src)
    r.count = None
    return 1
