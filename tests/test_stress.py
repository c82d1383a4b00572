"""Stress marks with silero-stress, and the whole normalise+stress chain through real Festival."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from speech import ROOT, corpus_phrases

pytest.importorskip("silero_stress", reason="silero-stress is not installed")
torch = pytest.importorskip("torch")

from voicechanger.engines import accentor, homographs, stress  # noqa: E402
from voicechanger.engines.normalize import normalize_words, sanitize  # noqa: E402
from voicechanger.engines.stress import (  # noqa: E402
    STRESSED_TOKEN_RE,
    stress_text,
    stress_tokens,
)

VOICE_DIR = Path("/usr/share/festival/voices/russian/msu_ru_nsh_clunits")


def stressed(text: str) -> list[str]:
    return stress_tokens(text.split())


def test_stress_marks_multi_vowel_words_and_keeps_punctuation() -> None:
    out = stressed("пожалуйста, введите пароль и нажмите решетку.")
    assert out == ["пож+алуйста,", "введ+ите", "пар+оль", "и", "нажм+ите", "реш+ётку."]


def test_yo_restored() -> None:
    assert stressed("все еще елка стоит.") == ["всё", "ещ+ё", "+ёлка", "сто+ит."]
    assert stressed("елка, еж и береза") == ["+ёлка,", "ёж", "и", "бер+ёза"]


@pytest.mark.parametrize(
    ("text", "index", "expected"),
    [
        ("на горе стоит старинный замок.", 4, "з+амок."),
        ("дверь закрыта на замок.", 3, "зам+ок."),
        ("мука для пирогов.", 0, "мук+а"),
        ("это была адская мука.", 3, "м+ука."),
        ("книга стоит сто рублей.", 1, "сто+ит"),
        ("не стоит волноваться.", 1, "ст+оит"),
        ("все пришли домой.", 0, "все"),
        ("вот и все.", 2, "всё."),
    ],
)
def test_homographs_resolved_from_context(text: str, index: int, expected: str) -> None:
    assert stressed(text)[index] == expected


def test_existing_marks_and_one_vowel_words_left_alone() -> None:
    out = stress_tokens(["зам+ок,", "ёж", "в", "дом", "кот."])
    assert out == ["зам+ок,", "ёж", "в", "дом", "кот."]


def test_count_kept_and_output_festival_safe() -> None:
    tokens = ["Привет!", "", "как", "дела?", "з+ам+ок", "..", "x1"]
    out = stress_tokens(tokens)
    assert len(out) == len(tokens)
    assert out[0] == "прив+ет!"
    assert out[1] == "" and out[5] == ""  # nothing left to say: no lone mark either
    assert out[4] == "з+амок"  # one '+' only
    assert all(STRESSED_TOKEN_RE.match(t) for t in out if t)
    assert stress_tokens([]) == []


def test_falls_back_per_token_when_model_changes_token_count(monkeypatch) -> None:
    monkeypatch.setattr(stress, "_numpy_steps", lambda: None)  # the torch model's path
    real = stress._run_model
    calls: list[str] = []

    def merging(sentence: str) -> str:
        calls.append(sentence)
        if " " in sentence:
            return "что-то-слитое"  # pretend the model merged words
        return real(sentence)

    monkeypatch.setattr(stress, "_run_model", merging)
    out = stress_tokens(["введите", "пароль."])
    assert out == ["введ+ите", "пар+оль."]
    assert calls[0] == "введите пароль." and len(calls) == 3


def test_model_load_restores_torch_settings(monkeypatch) -> None:
    """silero-stress sets torch threads to 1 and turns autograd off when it loads."""
    def fake_load():
        torch.set_num_threads(1)
        torch.set_grad_enabled(False)
        return lambda sentence, **kw: sentence.replace("проверка", "пров+ерка")

    monkeypatch.setattr(stress, "_model", None)
    monkeypatch.setattr(stress, "_load_accentor", fake_load)
    monkeypatch.setattr(stress, "_numpy_steps", lambda: None)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert torch.is_grad_enabled()
        assert stress_tokens(["проверка"]) == ["пров+ерка"]
        assert torch.get_num_threads() == 2
        assert torch.is_grad_enabled()
    finally:
        torch.set_num_threads(before)
        torch.set_grad_enabled(True)


def test_lazy_regex_load_marks_the_corpus_as_the_stock_loader_does() -> None:
    """Our loader (regexes compiled on first use) must be the stock silero_stress.load_accentor to the
    letter, on every corpus phrase, homographs resolved by its phrase regexes included."""
    from silero_stress import load_accentor

    stock = load_accentor("ru")
    lazy = stress._load_accentor()
    phrases = corpus_phrases()
    phrases += ["старинный замок на холме был закрыт на замок", "мука и мука", "все ещё стоит"]
    differ = [p for p in phrases if lazy(p, stress_single_vowel=False) != stock(p, stress_single_vowel=False)]
    assert not differ
    regexes = lazy.homosolver.compiled_phrases
    assert len(regexes) > 1000 and isinstance(next(iter(regexes.values())), stress._LazyPattern)


FESTIVAL_DICT = VOICE_DIR / "dict" / "msu_ru_nsh_dict.scm"
FESTIVAL_SENTENCES = VOICE_DIR / "etc" / "txt.done.data"


def test_word_step_marks_dictionary_words_as_the_model_does() -> None:
    """The numpy word step (engines/accentor.py) against silero-stress's own, on every 10th word of
    Festival's Russian dictionary (18,000 words): the same '+' and 'ё', word for word."""
    model = stress._load_model()
    word_step = accentor.WordAccentor(stress.prepare_tables())
    entries = re.findall(r'^\("([а-яё]+)"', FESTIVAL_DICT.read_text(encoding="utf-8"), flags=re.M)
    words = sorted(set(entries))[::10]
    assert len(words) > 15000
    ours = word_step(words)
    theirs: list[str] = []
    for start in range(0, len(words), 500):
        theirs += model.accentor(" ".join(words[start:start + 500]), stress_single_vowel=False).split()
    differ = [(w, a, b) for w, a, b in zip(words, ours, theirs) if a != b]
    assert len(theirs) == len(words) and not differ, differ[:10]
    assert sum("+" in w for w in ours) > 0.9 * len(words)


def test_phrases_without_homographs_are_stressed_as_with_the_model(monkeypatch) -> None:
    """stress_tokens with the word step equals the torch model's path on the corpus and Festival's own
    sentences (1,173 phrases); most of them have no homograph, and those never reach torch."""
    sentences = re.findall(r'"(.+)"', FESTIVAL_SENTENCES.read_text(encoding="utf-8"))
    phrases = [sanitize(p).split() for p in corpus_phrases() + sentences]
    phrases = [p for p in phrases if p]
    solver = homographs.HomographSolver(stress.prepare_tables())
    free = [p for p in phrases if solver.context_free([stress._split(t)[0] for t in p])]
    assert len(free) > len(phrases) / 2
    calls: list[str] = []
    real = stress._run_model
    monkeypatch.setattr(stress, "_run_model", lambda sentence: calls.append(sentence) or real(sentence))
    fast = [stress_tokens(p) for p in phrases]
    assert len(calls) == len(phrases) - len(free)
    monkeypatch.setattr(stress, "_numpy_steps", lambda: None)
    assert [stress_tokens(p) for p in phrases] == fast


def test_homograph_step_picks_what_the_model_picks() -> None:
    """The numpy homograph step (engines/homographs.py) and the whole numpy path (homographs, then the
    word step on the sentence) against silero-stress's torch model: Festival's sentences and the
    corpus, and every fourth homograph of its dictionary and phrase patterns in the middle of a
    sentence from them. Phrases with several homographs are padded in one batch, as in the model."""
    import random

    model = stress._load_model()
    folder = stress.prepare_tables()
    solver = homographs.HomographSolver(folder)
    word_step = accentor.WordAccentor(folder)
    sentences = re.findall(r'"(.+)"', FESTIVAL_SENTENCES.read_text(encoding="utf-8"))
    phrases = [p for p in (" ".join(sanitize(t).split()) for t in corpus_phrases() + sentences) if p]
    rng = random.Random(3)
    for word in sorted(set(solver.homodict) | set(model.homosolver.compiled_phrases))[::4]:
        before, after = rng.choice(phrases).split(), rng.choice(phrases).split()
        phrases.append(" ".join(before[:len(before) // 2] + [word] + after[len(after) // 2:]))
    theirs = [model.homosolver(p, stress_single_vowel=False) for p in phrases]
    ours = [solver(p) for p in phrases]
    differ = [(p, a, b) for p, a, b in zip(phrases, ours, theirs) if a != b]
    assert not differ, differ[:5]
    assert sum(a != p for p, a in zip(phrases, ours)) > 700  # the step did mark homographs
    whole = [word_step.sentence(p) for p in ours]
    differ = [(p, a, model(p, stress_single_vowel=False)) for p, a in zip(phrases[::4], whole[::4])]
    differ = [d for d in differ if d[1] != d[2]]
    assert not differ, differ[:5]


def test_padding_of_a_batch_is_the_models() -> None:
    """Two homographs of one phrase go through the model as one padded batch, the shorter context's
    padding attended to: their logits are the model's for that batch, not for each alone."""
    model = stress._load_model()
    solver = homographs.HomographSolver(stress.prepare_tables())
    tok = solver.tokenizer
    short = tok("[HOMO] замок [/HOMO] на двери.")
    long = tok("Мы видели старинный [HOMO] замок [/HOMO] на высокой горе у реки, и все ещё помним его.")
    ids = torch.nn.utils.rnn.pad_sequence([torch.tensor(short), torch.tensor(long)], batch_first=True)
    starts = torch.tensor([short.index(tok.homo_start_id), long.index(tok.homo_start_id)])
    ends = torch.tensor([short.index(tok.homo_end_id), long.index(tok.homo_end_id)])
    with torch.no_grad():
        theirs = model.homosolver.model(ids, starts, ends)[:, 0].numpy()
    ours = solver.logits([short, long])
    alone = solver.logits([short])
    assert abs(ours - theirs).max() < 1e-4, (ours, theirs)
    assert abs(alone[0] - ours[0]) > 1e-3  # padding does change the shorter one's logit


def test_stress_marking_imports_no_torch_once_the_tables_are_exported(tmp_path) -> None:
    """A fresh process with an empty models folder loads the torch model once, exports both steps'
    tables and marks as before; from then on a process marks homographs without importing torch."""
    code = ("import sys; from voicechanger.engines.stress import stress_tokens; "
            "print(stress_tokens(sys.argv[1:]), 'torch' in sys.modules)")
    env = {**os.environ, "VOICECHANGER_MODELS": str(tmp_path)}
    words = ["старинный", "замок", "стоит", "на", "горе,", "все", "ещё", "ждут."]
    runs = [subprocess.run([sys.executable, "-c", code, *words], capture_output=True, text=True, check=True,
                           cwd=ROOT, env=env).stdout for _ in range(2)]
    assert runs[0].split("]")[-1].strip() == "True", runs[0]  # exported from the model
    assert homographs.ready(next(tmp_path.glob("silero-stress-*")))
    assert runs[1].split("]")[-1].strip() == "False", runs[1]
    assert runs[0].split("]")[0] == runs[1].split("]")[0]
    assert "з+амок" in runs[1] and "сто+ит" in runs[1] and "всё" in runs[1], runs[1]


def test_model_source_stays_readable_after_loading() -> None:
    """Tracebacks and Dask's worker profiler read the source of every frame through linecache; the
    model's code comes from its package, which must stay open (a closed one raised ValueError on
    every profiler tick while a Dask worker marked stress)."""
    import linecache

    call = type(stress._load_model()).__call__
    linecache.checkcache(call.__code__.co_filename)
    line = linecache.getline(call.__code__.co_filename, call.__code__.co_firstlineno, call.__globals__)
    assert line.strip().startswith("def __call__"), line


def test_stress_text() -> None:
    assert stress_text("Все ещё ёлка... стоит — 123") == "всё ещ+ё +ёлка. сто+ит,"


def test_corpus_normalised_and_stressed_is_festival_safe() -> None:
    multi_vowel = marked = 0
    for phrase in corpus_phrases():
        tokens = normalize_words(phrase.split())
        out = stress_tokens([t.text for t in tokens])
        assert len(out) == len(tokens)
        for t in out:
            assert STRESSED_TOKEN_RE.match(t), (phrase, t)
            word = t.rstrip(".,!?")
            if sum(c in "аеиоуыэюя" for c in word) > 1 and "ё" not in word:
                multi_vowel += 1
                marked += "+" in word
    # The model leaves a word unmarked where it is unsure (2 of ~2000 here: "линукс", "уай");
    # festival then uses its own rules.
    assert multi_vowel > 1500 and marked / multi_vowel > 0.99


# --------------------------------------------------------------------------------------------
# real Festival: normalised + stressed text must give audio (it aborts silently on bad input)

needs_festival = pytest.mark.skipif(
    shutil.which("text2wave") is None or shutil.which("festival") is None
    or not VOICE_DIR.exists(),
    reason="festival + festvox-ru (msu_ru_nsh_clunits) not installed",
)


def wav_seconds(path: Path) -> float:
    if not path.exists() or path.stat().st_size == 0:
        return 0.0
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


SPECIAL = [
    "Поздравляем! Вы набрали 500. Скорость 28,8 килобит в секунду.",
    "В 2024 году рост составил 5%, т.е. 1,5 млн руб., а не 2 процента.",
    "Сайт www.asterisk.org, протокол IAX, время 10:30 — «Эхо-тест» 1-й раз...",
    "Всё ещё ёлка стоит на горе, а старинный замок закрыт на замок?!",
]


def prepared(text: str) -> str:
    return " ".join(t for t in stress_tokens([t.text for t in normalize_words(text.split())]) if t)


@needs_festival
def test_text2wave_speaks_prepared_phrases(tmp_path: Path) -> None:
    for k, text in enumerate(SPECIAL[:3]):
        out = tmp_path / f"{k}.wav"
        subprocess.run(
            ["text2wave", "-eval", "(voice_msu_ru_nsh_clunits)", "-o", str(out)],
            input=prepared(text), text=True, check=True, capture_output=True, timeout=60)
        words = len(prepared(text).split())
        assert wav_seconds(out) > 0.15 * words, text


@needs_festival
def test_festival_speaks_corpus_sample(tmp_path: Path) -> None:
    """~30 corpus phrases plus the special ones in one festival process (text2wave costs ~1 s
    of start-up per phrase); an aborted utterance leaves no wave file."""
    phrases = corpus_phrases()
    sample = phrases[:: max(1, len(phrases) // 30)][:30] + SPECIAL
    script = ["(voice_msu_ru_nsh_clunits)"]
    texts = []
    for k, phrase in enumerate(sample):
        text = prepared(phrase)
        assert '"' not in text and "\\" not in text
        texts.append(text)
        script.append(
            f'(unwind-protect (begin (set! utt (Utterance Text "{text}")) (utt.synth utt) '
            f'(utt.save.wave utt "{tmp_path / f"{k}.wav"}" \'riff)) (format t "FAILED {k}\\n"))')
    (tmp_path / "batch.scm").write_text("\n".join(script) + "\n", encoding="utf-8")
    run = subprocess.run(["festival", "-b", str(tmp_path / "batch.scm")], capture_output=True,
                         text=True, timeout=300)
    assert "FAILED" not in run.stdout, run.stdout + run.stderr
    for k, text in enumerate(texts):
        seconds = wav_seconds(tmp_path / f"{k}.wav")
        assert seconds > 0.15 * len(text.split()), (sample[k], text, seconds)
