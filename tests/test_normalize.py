"""Russian text normalisation: Whisper words -> festival-safe Cyrillic tokens."""

from __future__ import annotations

import re

import pytest

from speech import corpus_phrases
from voicechanger.engines.normalize import TOKEN_RE, Token, normalize_words, sanitize

FESTIVAL_SAFE_TEXT = re.compile(r"^(?:[а-яё+]+[.,!?]?)(?: [а-яё+]+[.,!?]?)*$")


def said(text: str) -> str:
    """Normalise a phrase split on spaces, as Whisper words, and join the token texts."""
    return " ".join(t.text for t in normalize_words([" " + w for w in text.split()]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # percent with agreement
        ("5%", "пять процентов"),
        ("1%", "один процент"),
        ("2%", "два процента"),
        ("21 %", "двадцать один процент"),
        ("2 процента", "два процента"),
        ("21 процент", "двадцать один процент"),
        ("28,8%", "двадцать восемь целых восемь десятых процента"),
        # years: ordinal in the case of the noun after it
        ("в 2024 году", "в две тысячи двадцать четвёртом году"),
        ("2024 года", "две тысячи двадцать четвёртого года"),
        ("2024 год", "две тысячи двадцать четвёртый год"),
        ("к 2025 году", "к две тысячи двадцать пятому году"),
        ("в 2024 г.", "в две тысячи двадцать четвёртом году."),
        ("с 1999 г. по", "с тысяча девятьсот девяносто девятого года по"),
        ("1 января 2024", "первое января две тысячи двадцать четвёртого"),
        # decimals, ordinals, times, codes
        ("28,8", "двадцать восемь целых восемь десятых"),
        ("1,5", "одна целая пять десятых"),
        ("1-й", "первый"),
        ("2-го", "второго"),
        ("3-я", "третья"),
        ("в 2020-х годах", "в две тысячи двадцатых годах"),
        ("10:30", "десять тридцать"),
        ("в 9:05", "в девять ноль пять"),
        ("1234", "тысяча двести тридцать четыре"),
        ("500.", "пятьсот."),
        ("007", "ноль ноль семь"),
        ("88005553535", "восемь восемьсот пятьсот пятьдесят пять тридцать пять тридцать пять"),
        ("2 500 рублей", "две тысячи пятьсот рублей"),
        ("от 5 до 10", "от пяти до десяти"),
        ("1 минута 2 недели", "одна минута две недели"),
        ("1 сообщение", "одно сообщение"),
        ("нажмите 2 или 3", "нажмите два или три"),
        # abbreviations and symbols
        ("т.е. Москва", "то есть москва"),
        ("т. е. это", "то есть это"),
        ("и т. д. Потом", "и так далее. потом"),
        ("и т.д.", "и так далее."),
        ("и т. п., а", "и тому подобное, а"),
        ("10 км", "десять километров"),
        ("2 мин.", "две минуты."),
        ("5 тыс. руб.", "пять тысяч рублей."),
        ("1,5 млн руб.", "одна целая пять десятых миллиона рублей."),
        ("№5", "номер пять"),
        ("$5", "пять долларов"),
        ("10 €", "десять евро"),
        ("25 °C", "двадцать пять градусов цельсия"),
        ("XX век", "двадцатый век"),
        ("АТС", "а тэ эс"),
        ("ПИН-код", "пин код"),
        # Latin
        ("Asterisk", "астериск"),
        ("IAX", "ай эй экс"),
        ("www.asterisk.org", "вэ вэ вэ точка астериск точка орг"),
        ("Linux", "линукс"),
        ("первoe", "первое"),  # a Latin 'o' inside a Cyrillic word
        # hyphens, ё
        ("ай-пи", "ай пи"),
        ("аш-323", "аш триста двадцать три"),
        ("Ёлка ещё", "ёлка ещё"),
    ],
)
def test_expected_readings(text: str, expected: str) -> None:
    assert said(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Поздравляем! Вы", "поздравляем! вы"),
        ("Нажмите 1, чтобы", "нажмите один, чтобы"),
        ("2 - чтобы", "два, чтобы"),
        ("2 — чтобы", "два, чтобы"),
        ("так...", "так."),
        ("так… да", "так. да"),
        ("Правда?! Да", "правда? да"),
        ("следующее: один", "следующее, один"),
        ("раз; два", "раз, два"),
        ("«Эхо-тест» завершён.", "эхо тест завершён."),
        ("«эхо-теста».Чтобы", "эхо теста. чтобы"),
        ("... используйте", "используйте"),
        ("(статус) «важно»", "статус важно"),
    ],
)
def test_punctuation(text: str, expected: str) -> None:
    assert said(text) == expected


def test_src_maps_tokens_to_source_words() -> None:
    words = [" В", " 2024", " году", " рост", " 5%.", " —", " Ёлка", " т.е.", " IAX"]
    tokens = normalize_words(words)
    assert all(isinstance(t, Token) for t in tokens)
    by_src: dict[int, list[str]] = {}
    for t in tokens:
        by_src.setdefault(t.src, []).append(t.text)
    assert by_src == {
        0: ["в"],
        1: ["две", "тысячи", "двадцать", "четвёртом"],
        2: ["году"],
        3: ["рост"],
        4: ["пять", "процентов."],  # "—" after "." adds nothing: "." outranks ","
        6: ["ёлка"],
        7: ["то", "есть"],
        8: ["ай", "эй", "экс"],
    }
    assert [t.src for t in tokens] == sorted(t.src for t in tokens)


def test_punctuation_only_word_marks_previous_token() -> None:
    tokens = normalize_words([" два", " -", " чтобы"])
    assert [(t.text, t.src) for t in tokens] == [("два,", 0), ("чтобы", 2)]


def test_mixed_sentence_has_no_digits_or_latin() -> None:
    words = ("Скорость 28,8 kbps, в 2024 году рост 5%, т.е. 1234 руб. по IAX через "
             "www.asterisk.org в 10:30 — «Asterisk» 1-й раз, замок и мука, ёлка!").split()
    tokens = normalize_words(words)
    text = " ".join(t.text for t in tokens)
    assert not re.search(r"[0-9A-Za-z]", text)
    assert all(TOKEN_RE.match(t.text) for t in tokens)
    for piece in ("двадцать восемь целых восемь десятых", "две тысячи двадцать четвёртом году",
                  "пять процентов,", "то есть", "ай эй экс", "вэ вэ вэ точка астериск",
                  "десять тридцать", "первый раз", "ёлка!"):
        assert piece in text


def test_empty_and_punctuation_only_input() -> None:
    assert normalize_words([]) == []
    assert normalize_words([" ...", " «", " —", ""]) == []


def test_corpus_normalises_to_festival_safe_tokens() -> None:
    for phrase in corpus_phrases():
        words = phrase.split()
        tokens = normalize_words(words)
        assert tokens, phrase
        for t in tokens:
            assert TOKEN_RE.match(t.text), (phrase, t)
            assert 0 <= t.src < len(words)
        assert [t.src for t in tokens] == sorted(t.src for t in tokens)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" ... Привет!!! — как «дела»?.. ", "привет! как дела?"),
        ("один . два", "один. два"),
        ("раз... два", "раз. два"),
        ("да: нет; может-быть", "да, нет, может быть"),
        ("зам+ок ++ёж в+ + з+амок+", "зам+ок +ёж в з+амок"),
        ("abc 123 ok", ""),
        ("Ёлка", "ёлка"),
    ],
)
def test_sanitize(text: str, expected: str) -> None:
    result = sanitize(text)
    assert result == expected
    assert result == "" or FESTIVAL_SAFE_TEXT.match(result)
