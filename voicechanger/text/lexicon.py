"""The pronunciation lexicon: a word or a phrase -> how to say it (a stress-marked form or a respelling).

    замок: зам+ок
    Prefect: Пр+ефект
    ИИ: и-и
    в замок: в з+амок

Matching is by whole words, case-insensitive (ё = е), ignoring the punctuation around a word; the
longest entry wins where several start at the same word. It is applied to a phrase's words before
normalisation and stress marking, and only the entries a phrase uses enter that phrase's cache key
(``used``), so changing one entry re-dubs only the phrases holding its word.

A file is checked before any work, and a bad entry is refused with one line naming the file and the
entry's line: a key given twice (also as another spelling of the same word: case, ё, stress marks),
a pronunciation with letters of another alphabet (the voice reads Cyrillic only: Latin would be
transliterated and its stress marks lost), a ``+`` that does not stand right before a vowel (``поч+ты``,
``зам++ок``), and a phrase said in fewer words than it has (``два слова: дв+а`` drops a word; a
phrase is said word for word, ``в замок: в з+амок``, and a single word may be said as several,
``ВОЗ: вэ о зэ``).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

from ..errors import VoiceError
from ..paths import read_user_text

Lexicon = dict[str, str]

_EDGE = re.compile(r"^[^\w+\u0301]+|[^\w+\u0301]+$")
_MARKS = re.compile(r"[+\u0301]")
_VOWELS = "аеёиоуыэюяАЕЁИОУЫЭЮЯ"
_LOOSE_MARK = re.compile(rf"\+(?![{_VOWELS}])|(?<![{_VOWELS}])\u0301")
_SAID_WORDS = re.compile(r"[^\s\-]+")
_UNCLOSED = {"[": "']'", "{": "'}'", '"': 'a closing "', "'": "a closing '"}


class LexiconError(VoiceError):
    """A lexicon file that cannot be used."""


def match_form(word: str) -> str:
    """How a word is compared: lowercase, ё as е, no stress marks, no punctuation around it."""
    return _MARKS.sub("", _EDGE.sub("", word)).lower().replace("ё", "е")


def _alphabet_problem(value: str) -> str | None:
    """The letters of ``value`` that are not Cyrillic, named by their script ("Latin letters 'aeikrst'")."""
    foreign = sorted({c for c in value if c.isalpha() and not "\u0400" <= c <= "\u04ff"})
    if not foreign:
        return None
    scripts = sorted({unicodedata.name(c, "OTHER").split()[0].title() for c in foreign})
    return f"{'/'.join(scripts)} letters {''.join(foreign)!r}"


def mark_problem(value: str) -> str | None:
    """Where a stress mark does not stand on a vowel: '+' goes right before it (зам+ок), U+0301 after it
    (the lexicon's and the script's check)."""
    bad = _LOOSE_MARK.search(value)
    if bad is None:
        return None
    if bad.group() == "\u0301":
        before = value[bad.start() - 1 : bad.start()]
        return f"an acute accent after {before!r}, not after a vowel" if before.strip() else "an acute accent on no vowel"
    after = value[bad.end() : bad.end() + 1]
    if after == "+":
        return "a doubled '+'"
    if not after or not after.strip():
        return "a '+' before no letter"
    return f"a '+' before {after!r}, which is not a vowel"


def _check_entry(path: str, line: int | None, key: object, value: object) -> tuple[str, str]:
    where = f"lexicon {path} line {line}" if line is not None else f"lexicon {path}, entry {key!r}"
    if not isinstance(key, str) or not isinstance(value, (str, int)) or isinstance(value, bool):
        raise LexiconError(f"{where}: an entry is 'word: how to say it' (two pieces of text); fix that line")
    value = str(value).strip()
    words = [match_form(w) for w in key.split()]
    if not words or not all(words):
        raise LexiconError(f"{where}: {key!r} holds no word to match; give a word or a phrase")
    if not value or not re.search(r"[^\W\d_]", value):
        raise LexiconError(f"{where}: {key!r} has no pronunciation (got {value!r}); give a respelling such as зам+ок")
    foreign = _alphabet_problem(value)
    if foreign is not None:
        raise LexiconError(f"{where}: the pronunciation {value!r} of {key!r} has {foreign}, which the voice does not "
                           "read; respell it in Cyrillic with '+' before the stressed vowel (Prefect: Пр+ефект)")
    misplaced = mark_problem(value)
    if misplaced is not None:
        raise LexiconError(f"{where}: the pronunciation {value!r} of {key!r} has {misplaced}; put one '+' right "
                           "before the stressed vowel (зам+ок)")
    said = len(_SAID_WORDS.findall(value))
    if len(words) > 1 and said < len(words):
        raise LexiconError(f"{where}: the phrase {key!r} has {len(words)} words but {value!r} says {said}, so a word "
                           f"would be dropped; say each word (в замок: в з+амок), or make the key one word "
                           f"({key.split()[0]}: {value})")
    return " ".join(words), value


def _key_lines(data: dict[Any, Any]) -> dict[Any, int]:
    """Each key's 1-based line, from ruamel's round-trip line info (empty for a plain dict)."""
    lc = getattr(data, "lc", None)
    if lc is None:
        return {}
    return {key: lc.key(key)[0] + 1 for key in data if key in lc.data}


def _profile_lines(data: dict[Any, Any], path: str) -> dict[Any, int]:
    """An inline ``lexicon:`` mapping read from a profile (a plain dict, no line info): its keys' lines,
    from the profile read again in round-trip mode; empty where that cannot be had."""
    from ruamel.yaml import YAML, YAMLError

    try:
        profile = YAML(typ="rt").load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError, ValueError):
        return {}
    inline = profile.get("lexicon") if isinstance(profile, dict) else None
    if not isinstance(inline, dict) or list(inline) != list(data):
        return {}
    return _key_lines(inline)


def parse_lexicon(data: object, path: str) -> Lexicon:
    """Validate a lexicon mapping (from YAML); errors name the file and the entry's line."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LexiconError(f"lexicon {path}: must be a mapping of words to pronunciations (word: how to say it)")
    lines = _key_lines(data) or (_profile_lines(data, path) if data else {})
    out: Lexicon = {}
    first: dict[str, tuple[object, int | None]] = {}
    for key, value in data.items():
        line = lines.get(key)
        words, said = _check_entry(path, line, key, value)
        if words in first:
            other, other_line = first[words]
            where = f"lexicon {path} line {line}" if line is not None else f"lexicon {path}, entry {key!r}"
            on = f" on line {other_line}" if other_line is not None else ""
            raise LexiconError(f"{where}: {key!r} is the same word as {other!r}{on} (case, ё and stress marks do not "
                               "count); keep one of the two")
        first[words] = (key, line)
        out[words] = said
    return out


def _duplicate_error(path: Path, text: str, exc: Exception) -> LexiconError:
    """A key written twice: the second one's line, and the first one's where the file says it."""
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode

    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return LexiconError(f"lexicon {path}: a key is given twice; keep one of the two")
    first = ""
    key = ""
    node = YAML(typ="rt").compose(text)
    if isinstance(node, MappingNode):
        keys = [k for k, _v in node.value]
        twice = next((k for k in keys if (k.start_mark.line, k.start_mark.column) == (mark.line, mark.column)), None)
        if twice is not None:
            key = f" {twice.value!r}"
            earlier = [k for k in keys if k.value == twice.value and k.start_mark.index < twice.start_mark.index]
            first = f" (first on line {earlier[0].start_mark.line + 1})" if earlier else ""
    return LexiconError(f"lexicon {path} line {mark.line + 1}: the key{key} is given twice{first}; keep one of the two")


def _syntax_error(path: Path, text: str, exc: Exception) -> LexiconError:
    """Not YAML: an unclosed '[', '{' or quote is named at the line that opens it (the parser notices it
    only lines later, or at the end); anything else at the line where the parser stopped."""
    opened = getattr(exc, "context_mark", None)
    if opened is not None:
        lines = text.splitlines()
        row = lines[opened.line] if opened.line < len(lines) else ""
        char = row[opened.column : opened.column + 1]
        if char in _UNCLOSED:
            return LexiconError(f"lexicon {path} line {opened.line + 1}: {char!r} is never closed; add "
                                f"{_UNCLOSED[char]} or remove it (a pronunciation is plain text: замок: зам+ок)")
    mark = getattr(exc, "problem_mark", None)
    line = f" line {mark.line + 1}" if mark is not None else ""
    return LexiconError(f"lexicon {path}{line}: not valid YAML; write one 'word: how to say it' per line")


def load_lexicon(path: Path) -> Lexicon:
    """Read a YAML lexicon file (``word: how to say it`` per line)."""
    from ruamel.yaml import YAML, YAMLError
    from ruamel.yaml.constructor import DuplicateKeyError

    path = Path(path)
    text = read_user_text(path, "lexicon", LexiconError)
    try:
        data = YAML(typ="rt").load(text)  # round-trip mode keeps each entry's line number
    except DuplicateKeyError as exc:
        raise _duplicate_error(path, text, exc) from None
    except YAMLError as exc:
        raise _syntax_error(path, text, exc) from None
    return parse_lexicon(data, str(path))


def expand(words: list[str], lexicon: Lexicon) -> tuple[list[tuple[str, int]], Lexicon]:
    """(units, used): the phrase's words with lexicon entries replaced, each unit a (text, index of
    the source word it stands for); a replacement takes the punctuation after the last matched word.
    ``used`` holds the entries that matched (the phrase's share of the lexicon, for its cache key)."""
    if not lexicon:
        return [(w, i) for i, w in enumerate(words)], {}
    forms = [match_form(w) for w in words]
    longest = max(len(k.split()) for k in lexicon)
    units: list[tuple[str, int]] = []
    used: Lexicon = {}
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            key = " ".join(forms[i : i + n])
            if key in lexicon and all(forms[i : i + n]):
                said = lexicon[key].split()
                trailing = re.search(r"[^\w+\u0301]*$", words[i + n - 1].strip())
                tail = trailing.group(0) if trailing else ""
                said[-1] += tail
                units += [(s, i) for s in said]
                used[key] = lexicon[key]
                i += n
                break
        else:
            units.append((words[i], i))
            i += 1
    return units, used
