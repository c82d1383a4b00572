"""Numbers read as Russian words: cardinals and ordinals in a case and gender, digit codes, phone
numbers, decimals, times and Roman numerals."""

from __future__ import annotations

from functools import lru_cache

from num2words import num2words

from .tables import ROMAN


def plural_form(n: int | None, forms: tuple[str, str, str], fractional: bool = False) -> str:
    if fractional:
        return forms[1]
    if n is None:
        return forms[2]
    n = abs(n)
    if n % 100 in (11, 12, 13, 14):
        return forms[2]
    if n % 10 == 1:
        return forms[0]
    if n % 10 in (2, 3, 4):
        return forms[1]
    return forms[2]


@lru_cache(maxsize=4096)
def cardinal(n: int, case: str = "n", gender: str = "m") -> str:
    """Cardinal in a case and gender; "одна тысяча ..." -> "тысяча ..." as people say it."""
    text = num2words(n, lang="ru", case=case, gender=gender, animate=False)
    if 1000 <= n < 2000 or 1_000_000 <= n < 2_000_000:
        first, _, rest = text.partition(" ")
        if first.startswith("од") and rest:
            text = rest
    return text


@lru_cache(maxsize=4096)
def ordinal(n: int, case: str = "n", gender: str = "m", plural: bool = False) -> str:
    return num2words(n, lang="ru", to="ordinal", case=case, gender=gender, plural=plural,
                     animate=False)


def ordinal_by_suffix(n: int, suffix: str) -> str:
    """Pick the ordinal (or cardinal) form whose ending matches a written suffix ("2-го")."""
    suffix = suffix.lower()
    if suffix in ("ти", "ми") or (suffix == "х" and n % 10 in (2, 3, 4) and n % 100 // 10 != 1):
        return cardinal(n, "g")
    forms = []
    for plural in (False, True):
        genders = ("m",) if plural else ("m", "f", "n")
        for gender in genders:
            for case in ("n", "g", "d", "p", "a", "i"):
                forms.append(ordinal(n, case, gender, plural))
    for form in forms:
        if form.endswith(suffix):
            return form
    return ordinal(n)


def digits(s: str) -> str:
    return " ".join(cardinal(int(c)) for c in s)


def digit_group(s: str) -> str:
    """A digit group as in a phone number: leading zeros read as "ноль"."""
    if s.startswith("0"):
        return digits(s) if len(s) <= 2 or s.strip("0") == "" else (
            "ноль " + digit_group(s[1:]))
    return cardinal(int(s))


def phone_groups(s: str) -> list[str]:
    """Split a long digit string like a phone number: ... 3 3 2 2 from the end."""
    groups: list[str] = []
    rest = s
    for size in (2, 2):
        if len(rest) > 3:
            groups.insert(0, rest[-size:])
            rest = rest[:-size]
    while len(rest) > 3:
        groups.insert(0, rest[-3:])
        rest = rest[:-3]
    if rest:
        groups.insert(0, rest)
    return groups


def integer(s: str, case: str = "n", gender: str = "m") -> str:
    """Read a plain digit string: cardinal, or digits/groups where it looks like a code."""
    if len(s) > 1 and s.startswith("0"):
        if len(s) <= 4:
            return digits(s)
        return " ".join(digit_group(g) for g in phone_groups(s))
    n = int(s)
    if len(s) <= 7 or (len(s) <= 12 and n % 1000 == 0):
        return cardinal(n, case, gender)
    return " ".join(digit_group(g) for g in phone_groups(s))


def decimal(int_part: str, frac_part: str) -> str:
    if len(frac_part) > 6:
        return f"{integer(int_part)} запятая {digits(frac_part)}"
    text = num2words(f"{int(int_part)}.{frac_part}", lang="ru")
    return text


_HOUR_FORMS = {"n": ("час", "часа", "часов"), "a": ("час", "часа", "часов"),
               "g": ("часа", "часов", "часов"), "d": ("часу", "часам", "часам"),
               "p": ("часе", "часах", "часах"), "i": ("часом", "часами", "часами")}


def clock_time(parts: list[str], case: str) -> str:
    h, m = int(parts[0]), int(parts[1])
    hours = cardinal(h, case)
    if m == 0:
        return f"{hours} {plural_form(h, _HOUR_FORMS.get(case, _HOUR_FORMS['n']))}"
    minutes = cardinal(m, case) if m >= 10 else f"ноль {cardinal(m)}"
    return f"{hours} {minutes}"


def roman(word: str) -> int | None:
    w = word.lower()
    if not w or any(c not in ROMAN for c in w):
        return None
    total = 0
    for i, c in enumerate(w):
        v = ROMAN[c]
        total += -v if i + 1 < len(w) and ROMAN[w[i + 1]] > v else v
    # Reject non-canonical strings ("IIII", "VX").
    return total if 0 < total < 4000 and to_roman(total) == w else None


def to_roman(n: int) -> str:
    out = ""
    for v, s in ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
                 (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        while n >= v:
            out += s
            n -= v
    return out

