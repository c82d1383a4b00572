"""The pronunciation lexicon: a word or a phrase -> how to say it (a stress-marked form or a respelling).

    замок: зам+ок
    Prefect: Пр+ефект
    ИИ: и-и

Matching is by whole words, case-insensitive (ё = е), ignoring the punctuation around a word; the
longest entry wins where several start at the same word. It is applied to a phrase's words before
normalisation and stress marking, and only the entries a phrase uses enter that phrase's cache key
(``used``), so changing one entry re-dubs only the phrases holding its word.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import VoiceError
from .paths import read_user_text

Lexicon = dict[str, str]

_EDGE = re.compile(r"^[^\w+\u0301]+|[^\w+\u0301]+$")
_MARKS = re.compile(r"[+\u0301]")


class LexiconError(VoiceError):
    """A lexicon file that cannot be used."""


def match_form(word: str) -> str:
    """How a word is compared: lowercase, ё as е, no stress marks, no punctuation around it."""
    return _MARKS.sub("", _EDGE.sub("", word)).lower().replace("ё", "е")


def _check_entry(path: str, line: int, key: object, value: object) -> tuple[str, str]:
    where = f"lexicon {path} line {line}"
    if not isinstance(key, str) or not isinstance(value, (str, int)) or isinstance(value, bool):
        raise LexiconError(f"{where}: an entry is 'word: how to say it' (two pieces of text); fix that line")
    value = str(value).strip()
    words = [match_form(w) for w in key.split()]
    if not words or not all(words):
        raise LexiconError(f"{where}: {key!r} holds no word to match; give a word or a phrase")
    if not value or not re.search(r"[^\W\d_]", value):
        raise LexiconError(f"{where}: {key!r} has no pronunciation (got {value!r}); give a respelling such as зам+ок")
    return " ".join(words), value


def parse_lexicon(data: object, path: str) -> Lexicon:
    """Validate a lexicon mapping (from YAML); errors name the file and the entry's line."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LexiconError(f"lexicon {path}: must be a mapping of words to pronunciations (word: how to say it)")
    lines = getattr(getattr(data, "lc", None), "data", {})
    out: Lexicon = {}
    for number, (key, value) in enumerate(data.items()):
        line = lines.get(key, [number])[0] + 1 if lines else number + 1
        words, said = _check_entry(path, line, key, value)
        out[words] = said
    return out


def load_lexicon(path: Path) -> Lexicon:
    """Read a YAML lexicon file (``word: how to say it`` per line)."""
    from ruamel.yaml import YAML, YAMLError

    path = Path(path)
    text = read_user_text(path, "lexicon", LexiconError)
    try:
        data = YAML(typ="rt").load(text)  # round-trip mode keeps each entry's line number
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise LexiconError(f"lexicon {path}{line}: not valid YAML; write one 'word: how to say it' per line") from None
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
