"""Russian text normalisation for TTS: Whisper words -> clean lowercase Cyrillic tokens.

Festival's Russian front end (msu_ru_nsh) aborts a whole utterance, silently, on any character
outside Cyrillic letters, spaces and single ``. , ! ?``. So every output token is one lowercase
Cyrillic word plus at most one trailing mark, and numbers, symbols, abbreviations and Latin
words are spelled out as Russian words first (reading them is better than dropping them).

Each output token remembers the index of the source word it came from (``Token.src``), so the
word timestamps of the transcript still apply after expansion ("2024" -> four tokens).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from num2words import num2words

__all__ = ["Token", "normalize_words", "sanitize", "TOKEN_RE"]

#: What a normalised token looks like: one lowercase Cyrillic word, optionally one mark.
TOKEN_RE = re.compile(r"^[а-яё]+[.,!?]?$")


@dataclass(frozen=True)
class Token:
    """One speakable word for TTS.

    text: lowercase Cyrillic letters (may contain ё, and '+' once stress is marked),
          optionally followed by exactly one of ``. , ! ?``.
    src:  index of the source word (in the ``normalize_words`` input) it was made from.
    """

    text: str
    src: int


# ---------------------------------------------------------------------------------------------
# tables

VOWELS = "аеёиоуыэюя"
_CYR = "а-яёА-ЯЁ"
_MARK_RANK = {",": 1, ".": 2, "!": 3, "?": 4}

_CYR_LETTER_NAMES = {
    "а": "а", "б": "бэ", "в": "вэ", "г": "гэ", "д": "дэ", "е": "е", "ё": "ё", "ж": "жэ",
    "з": "зэ", "и": "и", "й": "и краткое", "к": "ка", "л": "эль", "м": "эм", "н": "эн",
    "о": "о", "п": "пэ", "р": "эр", "с": "эс", "т": "тэ", "у": "у", "ф": "эф", "х": "ха",
    "ц": "цэ", "ч": "чэ", "ш": "ша", "щ": "ща", "ъ": "твёрдый знак", "ы": "ы",
    "ь": "мягкий знак", "э": "э", "ю": "ю", "я": "я",
}
_LAT_LETTER_NAMES = {
    "a": "эй", "b": "би", "c": "си", "d": "ди", "e": "и", "f": "эф", "g": "джи", "h": "эйч",
    "i": "ай", "j": "джей", "k": "кей", "l": "эл", "m": "эм", "n": "эн", "o": "о", "p": "пи",
    "q": "кью", "r": "ар", "s": "эс", "t": "ти", "u": "ю", "v": "ви", "w": "дабл ю",
    "x": "экс", "y": "уай", "z": "зед",
}
# Latin words whose usual Russian reading a letter-by-letter transliteration gets wrong.
_LATIN_WORDS = {
    "www": "вэ вэ вэ", "http": "эйч ти ти пи", "https": "эйч ти ти пи эс",
    "ip": "ай пи", "sip": "сип", "voip": "войп", "iax": "ай эй экс", "pbx": "пи би экс",
    "ivr": "ай ви ар", "pin": "пин", "usb": "ю эс би", "ok": "окей", "okay": "окей",
    "wifi": "вай фай", "email": "имейл", "mail": "мейл", "google": "гугл", "youtube": "ютуб",
    "iphone": "айфон", "windows": "виндоус", "linux": "линукс", "skype": "скайп",
    "online": "онлайн", "offline": "офлайн", "digium": "дигиум", "the": "зэ",
    "com": "ком", "org": "орг", "net": "нет", "ru": "ру", "info": "инфо", "pdf": "пэ дэ эф",
}
_LAT_MULTI = [
    ("sch", "ш"), ("tch", "ч"), ("sh", "ш"), ("ch", "ч"), ("zh", "ж"), ("kh", "х"),
    ("ph", "ф"), ("th", "т"), ("ts", "ц"), ("ck", "к"), ("qu", "кв"), ("oo", "у"),
    ("ee", "и"), ("ea", "и"), ("ou", "ау"), ("ai", "ей"), ("ay", "ей"), ("ey", "ей"),
    ("oy", "ой"), ("ya", "я"), ("yu", "ю"), ("yo", "ё"), ("ye", "е"), ("x", "кс"),
    ("j", "дж"), ("w", "в"),
]
_LAT_SINGLE = {
    "a": "а", "b": "б", "c": "к", "d": "д", "e": "е", "f": "ф", "g": "г", "h": "х",
    "i": "и", "k": "к", "l": "л", "m": "м", "n": "н", "o": "о", "p": "п", "q": "к",
    "r": "р", "s": "с", "t": "т", "u": "у", "v": "в", "y": "и", "z": "з",
}
# Latin letters that look like Cyrillic ones ("первoe" with a Latin o).
_HOMOGLYPHS = str.maketrans("aeopcxykmtbhAEOPCXYKMTBH", "аеорсхукмтвнАЕОРСХУКМТВН")
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}

# unit -> (forms for 1 / 2..4 / 5.., gender of the counted noun)
_UNITS: dict[str, tuple[tuple[str, str, str], str]] = {
    "%": (("процент", "процента", "процентов"), "m"),
    "$": (("доллар", "доллара", "долларов"), "m"),
    "€": (("евро", "евро", "евро"), "n"),
    "£": (("фунт", "фунта", "фунтов"), "m"),
    "₽": (("рубль", "рубля", "рублей"), "m"),
    "°": (("градус", "градуса", "градусов"), "m"),
    "°c": (("градус цельсия", "градуса цельсия", "градусов цельсия"), "m"),
    "руб": (("рубль", "рубля", "рублей"), "m"),
    "р": (("рубль", "рубля", "рублей"), "m"),
    "коп": (("копейка", "копейки", "копеек"), "f"),
    "тыс": (("тысяча", "тысячи", "тысяч"), "f"),
    "млн": (("миллион", "миллиона", "миллионов"), "m"),
    "млрд": (("миллиард", "миллиарда", "миллиардов"), "m"),
    "трлн": (("триллион", "триллиона", "триллионов"), "m"),
    "км": (("километр", "километра", "километров"), "m"),
    "м": (("метр", "метра", "метров"), "m"),
    "см": (("сантиметр", "сантиметра", "сантиметров"), "m"),
    "мм": (("миллиметр", "миллиметра", "миллиметров"), "m"),
    "кг": (("килограмм", "килограмма", "килограммов"), "m"),
    "г": (("грамм", "грамма", "граммов"), "m"),
    "т": (("тонна", "тонны", "тонн"), "f"),
    "л": (("литр", "литра", "литров"), "m"),
    "мл": (("миллилитр", "миллилитра", "миллилитров"), "m"),
    "ч": (("час", "часа", "часов"), "m"),
    "мин": (("минута", "минуты", "минут"), "f"),
    "сек": (("секунда", "секунды", "секунд"), "f"),
    "с": (("секунда", "секунды", "секунд"), "f"),
    "мс": (("миллисекунда", "миллисекунды", "миллисекунд"), "f"),
    "кб": (("килобайт", "килобайта", "килобайт"), "m"),
    "мб": (("мегабайт", "мегабайта", "мегабайт"), "m"),
    "гб": (("гигабайт", "гигабайта", "гигабайт"), "m"),
    "тб": (("терабайт", "терабайта", "терабайт"), "m"),
    "гц": (("герц", "герца", "герц"), "m"),
    "кгц": (("килогерц", "килогерца", "килогерц"), "m"),
    "мгц": (("мегагерц", "мегагерца", "мегагерц"), "m"),
    "ггц": (("гигагерц", "гигагерца", "гигагерц"), "m"),
    "кбит": (("килобит", "килобита", "килобит"), "m"),
    "мбит": (("мегабит", "мегабита", "мегабит"), "m"),
    "шт": (("штука", "штуки", "штук"), "f"),
    "kb": (("килобайт", "килобайта", "килобайт"), "m"),
    "mb": (("мегабайт", "мегабайта", "мегабайт"), "m"),
    "gb": (("гигабайт", "гигабайта", "гигабайт"), "m"),
    "tb": (("терабайт", "терабайта", "терабайт"), "m"),
    "hz": (("герц", "герца", "герц"), "m"),
    "khz": (("килогерц", "килогерца", "килогерц"), "m"),
    "mhz": (("мегагерц", "мегагерца", "мегагерц"), "m"),
    "ghz": (("гигагерц", "гигагерца", "гигагерц"), "m"),
    "kbps": (("килобит в секунду", "килобита в секунду", "килобит в секунду"), "m"),
    "mbps": (("мегабит в секунду", "мегабита в секунду", "мегабит в секунду"), "m"),
}
# Units that multiply the count: what follows them is counted in the "many" form.
_MULTIPLIERS = {"тыс", "млн", "млрд", "трлн"}
# Unit abbreviations read even with no number before them ("тыс." -> "тысяч"); other units
# ("км", "м", "с") are read as units only right after a number.
_UNIT_ALONE = {"руб": "рублей", "коп": "копеек", "тыс": "тысяч", "млн": "миллионов",
               "млрд": "миллиардов", "мин": "минут", "сек": "секунд", "ч": "час"}

# Dotted abbreviations, read the same wherever they occur (keys are lowercase, dots included).
_DOT_ABBR = {
    "т.е.": "то есть", "т.д.": "так далее", "т.п.": "тому подобное", "т.к.": "так как",
    "т.ч.": "том числе", "т.н.": "так называемый", "н.э.": "нашей эры", "др.": "другие",
    "пр.": "прочее", "ул.": "улица", "тел.": "телефон", "стр.": "страница",
    "напр.": "например", "проф.": "профессор", "акад.": "академик",
    "см.": "смотри", "гг.": "годы", "г.": "город", "обл.": "область", "пер.": "переулок",
    "ср.": "сравни", "англ.": "английский", "рус.": "русский", "кв.": "квартира",
    "зам.": "заместитель", "доп.": "дополнительный", "мес.": "месяцев", "нед.": "недель",
}
# Abbreviations that stand before what they qualify: a capital after them is a name, not a
# new sentence ("т.е. Москва", "г. Тверь").
_LEADING_ABBR = {"т.е.", "т.к.", "т.н.", "т.ч.", "напр.", "см.", "ул.", "тел.", "стр.", "проф.",
                 "акад.", "ср.", "зам.", "кв.", "пер.", "обл.", "г.", "англ.", "рус.", "т."}
# "т." then "е." as two Whisper words.
_SPLIT_ABBR = {"е": ("то", "есть"), "д": ("так", "далее"), "п": ("тому", "подобное"),
               "к": ("так", "как"), "ч": ("том", "числе"), "н": ("так", "называемый")}

_GEN_PREPS = {"до", "от", "из", "около", "более", "менее", "после", "без", "для", "кроме",
              "свыше", "больше", "меньше", "от", "у", "из-за", "среди", "вместо", "со"}
_DAT_PREPS = {"к", "ко"}
_PREP_PREPS = {"о", "об", "при"}
_INS_PREPS = {"между", "перед", "над", "под"}
_MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
           "сентября", "октября", "ноября", "декабря")
_MONTHS_GEN = set(_MONTHS)
_YEAR_NOUNS = {"год": ("n", False), "году": ("p", False), "года": ("g", False),
               "годом": ("i", False), "годы": ("n", True), "годов": ("g", True),
               "годах": ("p", True), "годам": ("d", True), "годами": ("i", True)}
# Function words that must not set the gender of a number before them ("нажмите 2 или 3").
_NOT_NOUNS = {
    "или", "чтобы", "если", "кроме", "после", "перед", "около", "тогда", "когда", "затем",
    "потом", "также", "тоже", "только", "просто", "можно", "нужно", "может", "более", "менее",
    "очень", "снова", "опять", "либо", "это", "было", "будет", "где", "еще", "ещё", "чтоб",
    "ответа", "раза", "были", "пока", "сразу", "здесь", "далее", "чтобы", "вызова",
}
_ORD_SUFFIXES = {"й", "го", "му", "м", "я", "ю", "е", "х", "ми", "ой", "ый", "ий", "ая", "ое",
                 "ые", "ых", "ым", "ом", "его", "ему", "ей", "ую", "ье", "ья", "ьи", "ьего",
                 "ьему", "ьей", "ьим", "ьем", "ьих", "ью", "ти", "ого", "ому", "ым", "ыми"}
_SHORT_WORDS_CAPS = {"мы", "вы", "ты", "он", "на", "не", "но", "да", "за", "по", "до", "из",
                     "от", "же", "ли", "бы", "то", "во", "ко", "со", "об", "её", "их", "ей",
                     "ни", "ну", "уж", "я", "а", "и", "о", "у", "в", "к", "с"}
_CONSONANT_WORDS = {"в", "к", "с", "б", "ж", "вс"}


# ---------------------------------------------------------------------------------------------
# numbers


def _plural_form(n: int | None, forms: tuple[str, str, str], fractional: bool = False) -> str:
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
def _cardinal(n: int, case: str = "n", gender: str = "m") -> str:
    """Cardinal in a case and gender; "одна тысяча ..." -> "тысяча ..." as people say it."""
    text = num2words(n, lang="ru", case=case, gender=gender, animate=False)
    if 1000 <= n < 2000 or 1_000_000 <= n < 2_000_000:
        first, _, rest = text.partition(" ")
        if first.startswith("од") and rest:
            text = rest
    return text


@lru_cache(maxsize=4096)
def _ordinal(n: int, case: str = "n", gender: str = "m", plural: bool = False) -> str:
    return num2words(n, lang="ru", to="ordinal", case=case, gender=gender, plural=plural,
                     animate=False)


def _ordinal_by_suffix(n: int, suffix: str) -> str:
    """Pick the ordinal (or cardinal) form whose ending matches a written suffix ("2-го")."""
    suffix = suffix.lower()
    if suffix in ("ти", "ми") or (suffix == "х" and n % 10 in (2, 3, 4) and n % 100 // 10 != 1):
        return _cardinal(n, "g")
    forms = []
    for plural in (False, True):
        genders = ("m",) if plural else ("m", "f", "n")
        for gender in genders:
            for case in ("n", "g", "d", "p", "a", "i"):
                forms.append(_ordinal(n, case, gender, plural))
    for form in forms:
        if form.endswith(suffix):
            return form
    return _ordinal(n)


def _digits(s: str) -> str:
    return " ".join(_cardinal(int(c)) for c in s)


def _group(s: str) -> str:
    """A digit group as in a phone number: leading zeros read as "ноль"."""
    if s.startswith("0"):
        return _digits(s) if len(s) <= 2 or s.strip("0") == "" else (
            "ноль " + _group(s[1:]))
    return _cardinal(int(s))


def _phone_groups(s: str) -> list[str]:
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


def _integer(s: str, case: str = "n", gender: str = "m") -> str:
    """Read a plain digit string: cardinal, or digits/groups where it looks like a code."""
    if len(s) > 1 and s.startswith("0"):
        if len(s) <= 4:
            return _digits(s)
        return " ".join(_group(g) for g in _phone_groups(s))
    n = int(s)
    if len(s) <= 7 or (len(s) <= 12 and n % 1000 == 0):
        return _cardinal(n, case, gender)
    return " ".join(_group(g) for g in _phone_groups(s))


def _decimal(int_part: str, frac_part: str) -> str:
    if len(frac_part) > 6:
        return f"{_integer(int_part)} запятая {_digits(frac_part)}"
    text = num2words(f"{int(int_part)}.{frac_part}", lang="ru")
    return text


_HOUR_FORMS = {"n": ("час", "часа", "часов"), "a": ("час", "часа", "часов"),
               "g": ("часа", "часов", "часов"), "d": ("часу", "часам", "часам"),
               "p": ("часе", "часах", "часах"), "i": ("часом", "часами", "часами")}


def _time(parts: list[str], case: str) -> str:
    h, m = int(parts[0]), int(parts[1])
    hours = _cardinal(h, case)
    if m == 0:
        return f"{hours} {_plural_form(h, _HOUR_FORMS.get(case, _HOUR_FORMS['n']))}"
    minutes = _cardinal(m, case) if m >= 10 else f"ноль {_cardinal(m)}"
    return f"{hours} {minutes}"


# ---------------------------------------------------------------------------------------------
# letters


def _spell_cyr(word: str) -> str:
    return " ".join(_CYR_LETTER_NAMES.get(c, c) for c in word.lower())


def _spell_lat(word: str) -> str:
    return " ".join(_LAT_LETTER_NAMES.get(c, "") for c in word.lower()).strip()


def _pronounceable(word: str, vowels: str) -> bool:
    """Can an all-caps abbreviation be read as a word (ПИН, НАТО) or must it be spelled (АТС)?"""
    w = word.lower()
    pattern = "".join("v" if c in vowels else "c" for c in w)
    if "v" not in pattern or len(w) <= 2:
        return False
    if pattern.startswith("cc") or "ccc" in pattern:
        return False
    if len(w) == 3 and pattern.endswith("cc"):
        return False
    return True


def _translit(word: str) -> str:
    """Latin word -> Cyrillic: a dictionary of usual readings, then letter/digraph rules."""
    lw = word.lower()
    if lw in _LATIN_WORDS:
        return _LATIN_WORDS[lw]
    is_caps = word.isupper() and len(word) >= 2
    if is_caps and (len(word) <= 3 or not _pronounceable(lw, "aeiouy")):
        return _spell_lat(lw)
    if not any(c in "aeiouy" for c in lw):
        return _spell_lat(lw)
    if len(lw) == 1:
        return _spell_lat(lw)
    # A final silent e ("site", "apache") is dropped when the word has another vowel.
    silent_e = len(lw) > 3 and lw.endswith("e") and lw[-2] not in "aeiouy" and any(
        c in "aeiouy" for c in lw[:-2])
    out = []
    i = 0
    while i < len(lw):
        for latin, cyr in _LAT_MULTI:
            if lw.startswith(latin, i):
                out.append(cyr)
                i += len(latin)
                break
        else:
            c = lw[i]
            nxt = lw[i + 1] if i + 1 < len(lw) else ""
            prev = lw[i - 1] if i else ""
            if c == "c" and nxt in ("e", "i", "y"):
                out.append("с")
            elif c == "y" and (i == 0 and nxt in "aeiou" or prev in "aeiou"):
                out.append("й")
            elif c == "e" and i == 0:
                out.append("э")
            else:
                out.append(_LAT_SINGLE.get(c, ""))
            i += 1
    if silent_e and out and out[-1] == "е":
        out.pop()
    return "".join(out)


def _roman(word: str) -> int | None:
    w = word.lower()
    if not w or any(c not in _ROMAN for c in w):
        return None
    total = 0
    for i, c in enumerate(w):
        v = _ROMAN[c]
        total += -v if i + 1 < len(w) and _ROMAN[w[i + 1]] > v else v
    # Reject non-canonical strings ("IIII", "VX").
    return total if 0 < total < 4000 and _to_roman(total) == w else None


def _to_roman(n: int) -> str:
    out = ""
    for v, s in ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
                 (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        while n >= v:
            out += s
            n -= v
    return out


def _word_text(word: str) -> str:
    """A run of letters (Cyrillic, Latin or a mix) -> lowercase Cyrillic words."""
    has_cyr = re.search(f"[{_CYR}]", word) is not None
    has_lat = re.search("[A-Za-z]", word) is not None
    if has_cyr and has_lat:
        word = word.translate(_HOMOGLYPHS)
        # Whatever Latin is left is read letter by letter in place.
        word = re.sub("[A-Za-z]+", lambda m: _translit(m.group()), word)
        has_lat = False
    if has_lat:
        return _translit(word)
    lw = word.lower()
    if word.isupper() and len(word) >= 2 and lw not in _SHORT_WORDS_CAPS and not (
            _pronounceable(lw, VOWELS)):
        return _spell_cyr(lw)
    if not any(c in VOWELS for c in lw):
        if lw in _CONSONANT_WORDS:
            return lw
        letters = lw.replace("ь", "").replace("ъ", "")
        return _spell_cyr(letters) if letters else ""
    return lw


# ---------------------------------------------------------------------------------------------
# tokenising one source word into pieces

@dataclass
class _Piece:
    kind: str  # num, ordnum, numcomp, word, abbr, sym, punct, join, skip
    text: str
    src: int
    extra: str = ""
    word_end: bool = False  # last piece of its source word


_NUM_RE = re.compile(r"\d+(?:[.,:]\d+)*")
_DATE_RE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})(?!\d|[.,]\d)")
_URL_RE = re.compile(
    r"(?:https?://)?(?:[A-Za-z0-9_-]+\.)+[A-Za-z]{2,6}(?:/[A-Za-z0-9_.\-/]*)?"
    r"|[A-Za-z0-9_.+-]+@[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+")
_LETTERS_RE = re.compile(f"[{_CYR}A-Za-z]+")
_DOTTED_RE = re.compile(f"(?:[{_CYR}]{{1,5}}\\.)+")
_PUNCT_CHARS = ".,!?;:…—–‒-"
_SYMBOLS = "%$€£₽№°@&+=#*/\\"


def _pieces(word: str, src: int) -> list[_Piece]:
    w = word.strip().replace("\u00a0", " ").replace("\u202f", " ")
    w = re.sub(r"(?<=\d) (?=\d{3}\b)", "", w)
    out: list[_Piece] = []
    i = 0
    while i < len(w):
        c = w[i]
        if c.isspace():
            i += 1
            continue
        m = _URL_RE.match(w, i)
        if m and re.search("[A-Za-z]", m.group()) and (
                "." in m.group() or "@" in m.group()) and (
                i == 0 or not w[i - 1].isalnum()):
            text = m.group().rstrip(".")
            out.append(_Piece("url", text, src))
            i += len(text)
            continue
        m = _DATE_RE.match(w, i)
        if m and 1 <= int(m.group(1)) <= 31 and 1 <= int(m.group(2)) <= 12:
            out.append(_Piece("date", m.group(), src))
            i = m.end()
            continue
        m = _NUM_RE.match(w, i)
        if m:
            text = m.group()
            j = m.end()
            # a trailing separator is punctuation ("500." "28,")
            suffix = re.compile(f"-?([{_CYR}]+)").match(w, j)
            if suffix and suffix.group(1).lower() in _ORD_SUFFIXES and (
                    suffix.group().startswith("-") or suffix.group(1).lower() in (
                    "й", "го", "му", "ый", "ой", "ий", "ая", "ое", "ые", "ых", "ом", "ым")) and (
                    re.fullmatch(r"\d+", text)):
                out.append(_Piece("ordnum", text, src, suffix.group(1)))
                i = suffix.end()
                continue
            if suffix and suffix.group().startswith("-") and len(suffix.group(1)) > 3 and (
                    re.fullmatch(r"\d+", text)):
                out.append(_Piece("numcomp", text, src, suffix.group(1).lower()))
                i = suffix.end()
                continue
            out.append(_Piece("num", text, src))
            i = j
            continue
        m = _DOTTED_RE.match(w, i)
        if m:
            # Longest known dotted abbreviation that starts here ("т.е.", "г.").
            segs = m.group().split(".")[:-1]
            found = None
            for k in range(len(segs), 0, -1):
                key = ".".join(segs[:k]).lower() + "."
                if key in _DOT_ABBR or key[:-1] in _UNITS or key[:-1] in _UNIT_ALONE or (
                        key == "т." and k == 1):
                    found = key
                    break
            if found:
                out.append(_Piece("abbr", found, src, extra=w[i:i + len(found)]))
                i += len(found)
                continue
        m = _LETTERS_RE.match(w, i)
        if m:
            out.append(_Piece("word", m.group(), src))
            i = m.end()
            continue
        if c in _PUNCT_CHARS:
            j = i
            while j < len(w) and w[j] in _PUNCT_CHARS:
                j += 1
            run = w[i:j]
            inner = i > 0 and j < len(w) and w[i - 1].isalnum() and w[j].isalnum()
            if run in ("-", "'") and inner:
                out.append(_Piece("join", run, src))
            elif run == "-" and j < len(w) and w[j].isdigit() and not out:
                out.append(_Piece("sym", "минус", src))
            else:
                out.append(_Piece("punct", run, src))
            i = j
            continue
        if c in _SYMBOLS:
            out.append(_Piece("sym", c, src))
            i += 1
            continue
        if c == "'" or c == "’":
            out.append(_Piece("join", c, src))
            i += 1
            continue
        # quotes, brackets and anything else: nothing to say
        out.append(_Piece("skip", c, src))
        i += 1
    if out:
        out[-1].word_end = True
    return out


def _mark_of(run: str) -> str:
    if "?" in run:
        return "?"
    if "!" in run:
        return "!"
    if "." in run or "…" in run:
        return "."
    return ","


# ---------------------------------------------------------------------------------------------
# the converter


class _Converter:
    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.pieces: list[_Piece] = []
        for idx, word in enumerate(words):
            self.pieces.extend(_pieces(word, idx))
        self._merge_thousand_groups()
        self.out: list[list] = []  # [text, src, mark]
        self.count: int | None = None  # value of a number just read, for unit agreement
        self.fractional = False

    def _merge_thousand_groups(self) -> None:
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
    def _nidx(self, i: int, step: int) -> int | None:
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

    def _neighbour(self, i: int, step: int) -> _Piece | None:
        j = self._nidx(i, step)
        return None if j is None else self.pieces[j]

    def _next_word(self, i: int) -> str:
        p = self._neighbour(i, 1)
        return p.text.lower() if p is not None and p.kind in ("word", "abbr", "sym") else ""

    def _prev_word(self, i: int) -> str:
        p = self._neighbour(i, -1)
        return p.text.lower() if p is not None and p.kind == "word" else ""

    def _prep_case(self, i: int) -> str:
        prev = self._prev_word(i)
        if prev in _GEN_PREPS:
            return "g"
        if prev in _DAT_PREPS:
            return "d"
        if prev in _PREP_PREPS:
            return "p"
        if prev in _INS_PREPS:
            return "i"
        return "n"

    def _unit_after(self, i: int) -> str | None:
        p = self._neighbour(i, 1)
        if p is None:
            return None
        key = p.text.lower()
        if p.kind == "abbr":
            key = key.rstrip(".")
        if p.kind == "sym" and key == "°":
            nxt = self._neighbour(i + 1, 1)
            if nxt is not None and nxt.kind == "word" and nxt.text.lower() in ("c", "с"):
                return "°c"
        if p.kind in ("sym", "word", "abbr") and key in _UNITS:
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
        if not cur or _MARK_RANK[m] > _MARK_RANK[cur]:
            self.out[-1][2] = m

    def _sentence_end_after(self, i: int, leading: bool = False) -> bool:
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
        nxt = re.sub(f"[^{_CYR}A-Za-z]", "", self.words[p.src + 1])
        return bool(nxt) and nxt[0].isupper() and not (len(nxt) > 1 and nxt.isupper())

    # -- main loop
    def run(self) -> list[Token]:
        ps = self.pieces
        i = 0
        while i < len(ps):
            p = ps[i]
            handler = getattr(self, "_do_" + p.kind)
            consumed = handler(i, p)
            i += consumed or 1
        return [Token(t + m, s) for t, s, m in self.out]

    def _do_skip(self, i: int, p: _Piece) -> int:
        return 1

    def _do_join(self, i: int, p: _Piece) -> int:
        return 1

    def _do_punct(self, i: int, p: _Piece) -> int:
        self.count = None
        self.mark(_mark_of(p.text))
        return 1

    def _number_gender(self, i: int, n: int) -> str:
        unit = self._unit_after(i)
        if unit is not None:
            return _UNITS[unit][1]
        nxt = self._next_word(i)
        nxt_p = self._neighbour(i, 1)
        if not nxt or nxt_p is None or nxt_p.kind != "word" or len(nxt) < 4 or (
                nxt in _NOT_NOUNS) or self._prep_case(i) != "n":
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

    def _do_num(self, i: int, p: _Piece) -> int:
        text = p.text
        self.fractional = False
        nxt = self._next_word(i)
        prev = self._prev_word(i)
        case = self._prep_case(i)
        if ":" in text:
            parts = re.split("[.,:]", text)
            if (len(parts) == 2 and len(parts[1]) == 2 and int(parts[0]) <= 24
                    and int(parts[1]) < 60):
                self.emit(_time(parts, case), p.src)
            else:
                self.emit(" ".join(_integer(x) for x in parts), p.src)
            self.count = None
            return 1
        seps = re.findall("[.,]", text)
        if seps:
            groups = re.split("[.,]", text)
            if len(set(seps)) == 1 and len(groups[0]) <= 3 and all(
                    len(g) == 3 for g in groups[1:]) and (len(seps) > 1 or seps[0] == "."):
                # thousands separators: "1.000.000", "1.000"
                text = "".join(groups)
            elif len(seps) == 1:
                self.emit(_decimal(groups[0], groups[1]), p.src)
                self.count = int(groups[0])
                self.fractional = True
                return 1
            else:
                # version numbers, IP addresses
                word = " точка " if seps[0] == "." else " запятая "
                self.emit(word.join(_integer(g) for g in groups), p.src)
                self.count = None
                return 1
        n = int(text)
        # years: "в 2024 году", "2024 г."
        nxt_i = self._nidx(i, 1)
        nxt_p = None if nxt_i is None else self.pieces[nxt_i]
        if nxt in _YEAR_NOUNS:
            ycase, plural = _YEAR_NOUNS[nxt]
            if nxt == "году" and prev not in ("в", "во", "о", "об", "при"):
                ycase = "d"
            self.emit(_ordinal(n, ycase, "m", plural), p.src)
            self.count = None
            return 1
        if nxt_p is not None and nxt_p.kind in ("abbr", "word") and (
                nxt_p.text.lower() in ("г.", "гг.", "г", "гг")) and (
                len(text) == 4 or prev in ("в", "во", "с", "со", "до", "от", "после")):
            plural = nxt_p.text.lower().startswith("гг")
            if prev in ("в", "во", "о", "об", "при"):
                ycase = "p"
            elif prev in _DAT_PREPS:
                ycase = "d"
            else:
                ycase = "g"
            self.emit(_ordinal(n, ycase, "m", plural), p.src)
            noun = {("p", False): "году", ("g", False): "года", ("d", False): "году",
                    ("p", True): "годах", ("g", True): "годов", ("d", True): "годам"}
            self.emit(noun[(ycase, plural)], nxt_p.src)
            if nxt_p.kind == "abbr" and self._sentence_end_after(nxt_i):
                self.mark(".")
            self.count = None
            return nxt_i - i + 1
        # dates: "1 января" (and the year after a month: "1 января 2024")
        if nxt in _MONTHS_GEN and 1 <= n <= 31:
            dcase = "g" if case == "g" or prev in ("с", "со") else case
            self.emit(_ordinal(n, dcase, "n"), p.src)
            self.count = None
            return 1
        if prev in _MONTHS_GEN and len(text) == 4:
            self.emit(_ordinal(n, "g"), p.src)
            self.count = None
            return 1
        # "XX век" is handled with words; here: plain numbers
        gender = self._number_gender(i, n)
        unit = self._unit_after(i)
        if unit is not None and case in ("d", "p", "i"):
            case = "n"  # unit nouns are only known in the counting forms
        self.emit(_integer(text, case, gender), p.src)
        self.count = n if len(text) < 2 or not text.startswith("0") else None
        return 1

    def _do_date(self, i: int, p: _Piece) -> int:
        """"01.02.2024" -> "первое февраля две тысячи двадцать четвёртого года"."""
        d, mth, y = p.text.split(".")
        year = int(y) if len(y) == 4 else 2000 + int(y) if len(y) == 2 else int(y)
        case = "g" if self._prep_case(i) == "g" else "n"
        self.emit(f"{_ordinal(int(d), case, 'n')} {_MONTHS[int(mth) - 1]} "
                  f"{_ordinal(year, 'g')} года", p.src)
        self.count = None
        return 1

    def _do_ordnum(self, i: int, p: _Piece) -> int:
        n = int(p.text)
        self.emit(_ordinal_by_suffix(n, p.extra), p.src)
        self.count = None
        return 1

    def _do_numcomp(self, i: int, p: _Piece) -> int:
        """"20-летие" -> "двадцатилетие": the genitive joined to the word."""
        n = int(p.text)
        if n == 1:
            first = "одно"
        elif n == 100:
            first = "сто"
        elif n == 90:
            first = "девяносто"
        else:
            first = _cardinal(n, "g").replace(" ", "")
        self.emit(first + p.extra, p.src)
        self.count = None
        return 1

    def _emit_unit(self, key: str, src: int) -> None:
        forms, _ = _UNITS[key]
        if self.count is None:
            self.emit(_UNIT_ALONE.get(key, forms[2]), src)
        else:
            self.emit(_plural_form(self.count, forms, self.fractional), src)
        if key in _MULTIPLIERS and self.count is not None:
            self.count, self.fractional = 5, False  # "5 млн руб." -> "рублей"
        else:
            self.count = None
            self.fractional = False

    def _do_sym(self, i: int, p: _Piece) -> int:
        c = p.text
        if c == "минус":
            self.emit("минус", p.src)
            return 1
        nxt_i = self._nidx(i, 1)
        nxt = None if nxt_i is None else self.pieces[nxt_i]
        if c in ("$", "€", "£", "₽") and nxt is not None and nxt.kind == "num" and (
                self.count is None):
            # "$5": the number, then the currency (said with the number's word, keeping order)
            used = self._do_num(nxt_i, nxt)
            self._emit_unit(c, nxt.src)
            return nxt_i - i + used
        if c == "°":
            if nxt is not None and nxt.kind == "word" and nxt.text.lower() in ("c", "с"):
                self._emit_unit("°c", p.src)
                return 2
            self._emit_unit("°", p.src)
            return 1
        if c in _UNITS:
            self._emit_unit(c, p.src)
            return 1
        self.count = None
        words = {"№": "номер", "@": "собака", "&": "и", "+": "плюс", "=": "равно",
                 "#": "решётка", "*": "звёздочка"}
        if c in words:
            self.emit(words[c], p.src)
        return 1

    def _do_abbr(self, i: int, p: _Piece) -> int:
        key = p.text
        bare = key.rstrip(".")
        consumed = 1
        if key == "т.":
            nxt_word = self.words[p.src + 1].strip().lower() if p.src + 1 < len(self.words) else ""
            m = re.match(f"([{_CYR}])\\.", nxt_word)
            if p.word_end and m and m.group(1) in _SPLIT_ABBR and (
                    i + 1 < len(self.pieces)):
                first, second = _SPLIT_ABBR[m.group(1)]
                self.emit(first, p.src)
                nxt = self.pieces[i + 1]
                self.emit(second, nxt.src)
                consumed = 1
                # the letter, then its dot (not a sentence end unless the next word says so)
                if i + 2 < len(self.pieces) and self.pieces[i + 2].src == nxt.src and (
                        self.pieces[i + 2].kind == "punct"):
                    dot = self.pieces[i + 2]
                    consumed = 2
                    if dot.text != ".":
                        self.mark(_mark_of(dot.text[1:] or "."))
                    elif self._sentence_end_after(i + 2, leading=m.group(1) in "екнч"):
                        self.mark(".")
                return consumed + 1
            self.emit(_word_text(bare), p.src)
            self.count = None
            if self._sentence_end_after(i):
                self.mark(".")
            return 1
        leading = key in _LEADING_ABBR and not (self.count is not None and bare in _UNITS)
        if self.count is not None and bare in _UNITS:
            self._emit_unit(bare, p.src)
        elif bare in _UNIT_ALONE and key not in _DOT_ABBR:
            self.emit(_UNIT_ALONE[bare], p.src)
            self.count = None
        elif key in _DOT_ABBR:
            self.emit(_DOT_ABBR[key], p.src)
            self.count = None
        else:
            self.emit(_word_text(bare), p.src)
            self.count = None
        if self._sentence_end_after(i, leading):
            self.mark(".")
        return consumed

    def _do_url(self, i: int, p: _Piece) -> int:
        parts = re.split(r"([./@:_-])", p.text)
        said = []
        names = {".": "точка", "/": "слэш", "@": "собака", "_": "подчёркивание"}
        for part in parts:
            if not part or part in ":-":
                continue
            if part in names:
                said.append(names[part])
            elif part.isdigit():
                said.append(_integer(part))
            else:
                for sub in re.findall(r"[A-Za-z]+|\d+", part):
                    said.append(_integer(sub) if sub.isdigit() else _translit(sub))
        self.emit(" ".join(said), p.src)
        self.count = None
        return 1

    def _do_word(self, i: int, p: _Piece) -> int:
        lw = p.text.lower()
        # a unit right after a number: "10 км", "5 кг", "28,8 кбит"
        if self.count is not None and lw in _UNITS and self._neighbour(i, -1) is not None and (
                self._neighbour(i, -1).kind == "num"):
            if len(lw) > 1 or (not p.word_end or p.src == self._neighbour(i, -1).src):
                self._emit_unit(lw, p.src)
                return 1
        self.count = None
        self.fractional = False
        # Roman numerals before "век": "XX век" -> "двадцатый век"
        nxt = self._next_word(i)
        if p.text.isupper() and re.fullmatch("[IVXLCDM]+", p.text) and nxt.startswith("век"):
            n = _roman(p.text)
            if n:
                vcase = {"век": "n", "века": "g", "веке": "p", "веку": "d", "веком": "i"}.get(nxt, "n")
                self.emit(_ordinal(n, vcase), p.src)
                return 1
        self.emit(_word_text(p.text), p.src)
        return 1


def normalize_words(words: list[str]) -> list[Token]:
    """Turn Whisper words into festival-safe tokens; ``Token.src`` indexes ``words``.

    A source word may give several tokens ("2024" -> "две тысячи двадцать четвёртом") or none
    ("—", "«"); token order follows source order. Punctuation at the end of a word goes onto its
    last token as one mark (":" ";" "—" -> ","; "..." -> "."); a word that is only punctuation
    puts its mark on the token before it.
    """
    return _Converter(list(words)).run()


# ---------------------------------------------------------------------------------------------
# last-resort sanitiser

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
                words[-1] += _mark_of(chunk)
            elif words:
                cur = words[-1][-1]
                new = _mark_of(chunk)
                if _MARK_RANK[new] > _MARK_RANK[cur]:
                    words[-1] = words[-1][:-1] + new
            continue
        word = _clean_plus(chunk)
        if word:
            words.append(word)
    return " ".join(words)


def _clean_plus(word: str) -> str:
    out = []
    seen = False
    for k, c in enumerate(word):
        if c == "+":
            nxt = word[k + 1] if k + 1 < len(word) else ""
            if not seen and nxt and nxt in VOWELS:
                out.append(c)
                seen = True
            continue
        out.append(c)
    return "".join(out)
