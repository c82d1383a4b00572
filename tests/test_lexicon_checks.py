"""The lexicon's and the script's checks (issue 26, items 6 and 7): each mistake a user makes in a lexicon is refused
with one line naming the file and the line of the offending key, and a good lexicon (Latin keys,
phrases, multi-word pronunciations, ё, hyphens) loads to the same mapping as before the checks.
No audio, no engines: the file is read and checked before any work starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicechanger.errors import VoiceError
from voicechanger.text.lexicon import LexiconError, load_lexicon, parse_lexicon

GOOD = """\
# a good lexicon
замок: зам+ок
Prefect: Пр+ефект
ИИ: и-и
ВОЗ: вэ о зэ
Ёлка: ёлка
всё: вс+ё
New York: Нь+ю-Й+орк
в замок: в з+амок
GitHub: г+итхаб
Нью-Йорк: нь+ю-й+орк
МКС: эм-ка-эс
COVID-19: к+овид девятн+адцать
"Wi-Fi": в+ай-ф+ай
ПРИВЕТ: ПРИВ+ЕТ
"""

# What the lexicon code before these checks (commit e59b7f8) made of GOOD, computed with it.
GOOD_MAPPING = {
    "замок": "зам+ок", "prefect": "Пр+ефект", "ии": "и-и", "воз": "вэ о зэ", "елка": "ёлка", "все": "вс+ё",
    "new york": "Нь+ю-Й+орк", "в замок": "в з+амок", "github": "г+итхаб", "нью-йорк": "нь+ю-й+орк",
    "мкс": "эм-ка-эс", "covid-19": "к+овид девятн+адцать", "wi-fi": "в+ай-ф+ай", "привет": "ПРИВ+ЕТ",
}


def refusal(tmp_path: Path, text: str) -> str:
    """The one-line message a lexicon file holding ``text`` is refused with."""
    path = tmp_path / "words.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LexiconError) as caught:
        load_lexicon(path)
    message = str(caught.value)
    assert isinstance(caught.value, VoiceError) and "\n" not in message
    assert message.startswith(f"lexicon {path} line "), message
    return message


def line_of(message: str) -> int:
    return int(message.split(" line ", 1)[1].split(":", 1)[0])


def test_a_good_lexicon_loads_as_before(tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text(GOOD, encoding="utf-8")
    lexicon = load_lexicon(path)
    assert lexicon == GOOD_MAPPING
    assert list(lexicon) == list(GOOD_MAPPING)


def test_a_duplicate_key_names_the_second_line_and_the_first(tmp_path):
    message = refusal(tmp_path, "замок: зам+ок\nПрефект: Пр+ефект\nзамок: з+амок\n")
    assert line_of(message) == 3 and "'замок' is given twice (first on line 1)" in message
    assert "not valid YAML" not in message


def test_the_same_word_in_another_case_is_a_duplicate(tmp_path):
    message = refusal(tmp_path, "дом: д+ом\nЁлка: ёлка\nелка: ёлка\n")
    assert line_of(message) == 3 and "same word as 'Ёлка' on line 2" in message


def test_an_unclosed_bracket_is_named_at_its_own_line(tmp_path):
    message = refusal(tmp_path, "замок: зам+ок\nслово: [сл+ово\nещё: ещ+ё\nдом: д+ом\n")
    assert line_of(message) == 2 and "'[' is never closed" in message


def test_an_unclosed_bracket_on_the_last_line(tmp_path):
    message = refusal(tmp_path, "замок: зам+ок\nслово: [сл+ово\n")
    assert line_of(message) == 2 and "'[' is never closed" in message


def test_a_phrase_said_in_fewer_words_is_refused(tmp_path):
    message = refusal(tmp_path, "замок: зам+ок\nдва слова: дв+а\n")
    assert line_of(message) == 2 and "'два слова' has 2 words" in message and "(два: дв+а)" in message


def test_a_doubled_plus_is_refused(tmp_path):
    message = refusal(tmp_path, "дом: д+ом\nзамок: зам++ок\n")
    assert line_of(message) == 2 and "doubled '+'" in message and "зам+ок" in message


def test_a_pronunciation_in_latin_is_refused(tmp_path):
    message = refusal(tmp_path, "дом: д+ом\n\nастериск: asterisk\n")
    assert line_of(message) == 3 and "Latin letters" in message and "Cyrillic" in message


def test_a_latin_lookalike_letter_in_a_pronunciation_is_refused(tmp_path):
    message = refusal(tmp_path, "Prefect: Пр+eфект\n")  # a Latin 'e'
    assert line_of(message) == 1 and "Latin letters 'e'" in message


def test_a_stress_mark_on_a_consonant_is_refused(tmp_path):
    message = refusal(tmp_path, "дом: д+ом\n# почта\nпочты: поч+ты\n")
    assert line_of(message) == 3 and "'+' before 'т', which is not a vowel" in message


def test_an_inline_profile_lexicon_is_checked_with_the_profiles_lines(tmp_path):
    from voicechanger.config import load_settings

    profile = tmp_path / "mine.yaml"
    profile.write_text("strict: false\nlexicon:\n  замок: зам+ок\n  почты: поч+ты\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=rf"^lexicon {profile} line 4: .*'\+' before 'т'"):
        load_settings(profile)
    profile.write_text("lexicon: {замок: зам+ок, Prefect: Пр+ефект, ИИ: и-и}\n", encoding="utf-8")
    assert load_settings(profile).lexicon == {"замок": "зам+ок", "prefect": "Пр+ефект", "ии": "и-и"}


def test_an_inline_mapping_without_lines_names_the_entry():
    with pytest.raises(LexiconError, match=r"^lexicon my\.yaml, entry 'два слова': "):
        parse_lexicon({"замок": "зам+ок", "два слова": "дв+а"}, "my.yaml")


@pytest.mark.parametrize("said, needles", [
    ("Наж+мите кнопку", ("'Наж+мите'", "'+' before 'м'")),
    ("Это зам++ок.", ("'зам++ок'", "doubled '+'")),
    ("Где +м?", ("'+м'", "'+' before 'м'")),
    ("Слов\u0301о", ("acute accent after 'в'",)),
])
def test_a_misplaced_mark_in_a_script_is_refused_with_its_line(tmp_path: Path, said: str, needles: tuple[str, ...]):
    """A stress mark on a consonant (or doubled) in a script cue: the CLI names the script, the cue's line
    and the word, exits non-zero and writes nothing, instead of reading the word with no stress."""
    from test_errors import _assert_clean_failure

    from speech import prompt, run_cli

    script = tmp_path / "edited.srt"
    script.write_text("1\n00:00:00,100 --> 00:00:01,000\nДобрый день\n\n"
                      f"2\n00:00:01,200 --> 00:00:02,000\n{said}\n", encoding="utf-8")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = run_cli("convert", str(prompt("demo-thanks")), str(out_dir / "x.mp3"), "--script", str(script),
                     "--cache-dir", str(tmp_path / "cache"))
    _assert_clean_failure(result, out_dir, f"{script} line 5", *needles)  # where the cue starts


def test_plus_signs_that_are_not_stress_marks_pass(tmp_path: Path):
    """'C++' and '2+2' in a cue are said as written; a correct mark and an acute accent pass too."""
    from voicechanger.text.script import load_script

    script = tmp_path / "fine.srt"
    script.write_text("1\n00:00:00,000 --> 00:00:01,000\nC++ и 2+2, зам+ок, за\u0301мок\n", encoding="utf-8")
    assert len(load_script(script, 2.0)) == 1
