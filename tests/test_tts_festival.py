"""The Festival voice, for real (skipped where festival + festvox-ru are not installed)."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from voicechanger.engines import tts
from voicechanger.engines.tts import (
    Synthesis,
    TTSError,
    Unsayable,
    festival,
    festival_process,
    get_voice,
    list_voices,
    synthesis_speech_span,
    synthesize_to_fit,
)
from voicechanger.errors import EngineError, VoiceError

pytestmark = pytest.mark.skipif(not festival.list_voices()[0].available,
                                reason="festival + festvox-ru not installed (apt-get install festival festvox-ru)")

PHRASE = ["сег+одня", "х+орошая", "пог+ода,", "пойдём", "гул+ять."]


@pytest.fixture(scope="module")
def voice():
    return get_voice("festival:msu_ru_nsh")


def _speech_len(s: Synthesis) -> float:
    a, b = synthesis_speech_span(s)
    return b - a


def _check(s: Synthesis, n_tokens: int) -> None:
    assert s.sample_rate == 16000
    assert s.audio.dtype == np.float32 and s.audio.ndim == 1
    assert len(s.audio) > 0.3 * 16000
    assert 0.01 < np.abs(s.audio).max() <= 1.0
    assert s.word_spans is not None and len(s.word_spans) == n_tokens
    duration = len(s.audio) / s.sample_rate
    prev_end = 0.0
    for a, b in s.word_spans:
        assert 0.0 <= a <= b <= duration + 1e-6
        assert a >= prev_end - 1e-6
        prev_end = b


def test_phrase_gives_16k_audio_and_one_increasing_span_per_token(voice):
    s = voice.synthesize(PHRASE)
    _check(s, len(PHRASE))
    assert all(b - a > 0.05 for a, b in s.word_spans)          # every word is said
    assert s.word_spans[0][0] > 0.02                           # Festival's leading pause is not speech


def test_rate_scales_speech_length(voice):
    base = _speech_len(voice.synthesize(PHRASE))
    slow = voice.synthesize(PHRASE, rate=1.5)
    fast = voice.synthesize(PHRASE, rate=0.8)
    _check(slow, len(PHRASE))
    _check(fast, len(PHRASE))
    assert _speech_len(slow) / base == pytest.approx(1.5, rel=0.08)
    assert _speech_len(fast) / base == pytest.approx(0.8, rel=0.08)


def test_stress_mark_changes_the_audio(voice):
    castle = voice.synthesize(["з+амок"])                    # castle
    lock = voice.synthesize(["зам+ок"])                      # lock
    n = min(len(castle.audio), len(lock.audio))
    different_length = abs(len(castle.audio) - len(lock.audio)) > 0.02 * 16000
    assert different_length or np.abs(castle.audio[:n] - lock.audio[:n]).mean() > 0.01


def test_unmarked_vowel_stress_is_ignored_not_fatal(voice):
    s = voice.synthesize(["пр+ивет+", "++м+ир"])              # '+' not before a vowel is dropped
    _check(s, 2)


def test_fifty_calls_are_served_by_one_warm_process(voice):
    """One long-lived Festival process serves every call (how much faster than text2wave per phrase:
    benchmarks.micro)."""
    pool = festival_process.pool(voice.voice_fn)
    voice.synthesize(PHRASE)                                   # warm
    processes_before = pool.count
    for i in range(50):
        _check(voice.synthesize(PHRASE if i % 2 else ["прив+ет", "м+ир!"]), len(PHRASE) if i % 2 else 2)
    assert pool.count == processes_before                      # no new processes: the same one served all


def test_two_threads_at_once_get_their_own_results(voice):
    phrases = [PHRASE, ["прив+ет", "м+ир!"], ["как", "дел+а?"], ["з+амок", "на", "гор+е."]] * 2
    expected = [voice.synthesize(p) for p in phrases]
    barrier = threading.Barrier(2)

    def work(i: int) -> Synthesis:
        if i < 2:
            barrier.wait(timeout=30)                           # the first two really start together
        return voice.synthesize(phrases[i])

    with ThreadPoolExecutor(2) as ex:
        got = list(ex.map(work, range(len(phrases))))
    assert 1 <= festival_process.pool(voice.voice_fn).count <= festival_process.MAX_PROCESSES
    for e, g in zip(expected, got):
        assert np.array_equal(e.audio, g.audio)
        assert e.word_spans == g.word_spans


def test_text_with_nothing_sayable_is_a_clear_error(voice):
    with pytest.raises(TTSError, match=r"nothing sayable in '123 hello'"):
        voice.synthesize(["123", "hello"])


def test_foreign_characters_are_sanitised_and_spans_still_line_up(voice):
    tokens = ["«прив+ет»", "123", "м+ир:", "...", "ну?"]
    s = voice.synthesize(tokens)
    _check(s, len(tokens))
    assert s.word_spans[1][0] == s.word_spans[1][1]           # "123" said nothing: zero-length span
    assert s.word_spans[3][0] == s.word_spans[3][1]


def test_festival_choking_is_detected_not_a_silent_empty_result(voice):
    # bypass the sanitiser: a standalone '.' makes Festival's Russian front end abort the utterance
    with pytest.raises(Unsayable, match=r"no audio for 'при \. вет'"):
        voice._run("при . вет")
    _check(voice.synthesize(["прив+ет"]), 1)                  # the process is still fine


def test_sanitiser_output_is_safe():
    hostile = ['ПРИВ+ЕТ"); (system "rm', "мир,,", "ъ+", "до-свид+ания!", "\\", "x+y"]
    text, owner = festival.festival_text(hostile)
    assert re.fullmatch(r"[а-яё+ .,!?]+", text)
    assert '"' not in text and "\\" not in text
    assert text == "прив+ет мир, ъ до свид+ания!"
    assert owner == [0, 1, 2, 3, 3]


@pytest.mark.parametrize("factor", [0.7, 1.0, 1.25, 1.5])
def test_synthesize_to_fit_hits_the_target(voice, factor):
    natural = _speech_len(voice.synthesize(PHRASE))
    s, k = synthesize_to_fit(voice, PHRASE, natural * factor)
    assert _speech_len(s) == pytest.approx(natural * factor, rel=0.10)
    assert k == pytest.approx(1.0 if factor == 1.0 else factor, rel=0.01)


def test_a_dead_process_is_replaced(voice):
    pool = festival_process.pool(voice.voice_fn)
    voice.synthesize(PHRASE)
    with pool.cond:
        for proc in pool.idle:
            proc.proc.kill()
            proc.proc.wait()
    _check(voice.synthesize(PHRASE), len(PHRASE))


def test_a_stuck_call_times_out_kills_and_recovers():
    v = festival.FestivalVoice("msu_ru_nsh")
    v.timeout = 0.001
    with pytest.raises(EngineError, match="no answer"):  # aborts the stage: never stored as an unsaid phrase
        v.synthesize(PHRASE)
    v.timeout = 30
    _check(v.synthesize(PHRASE), len(PHRASE))


def test_registry_lists_and_caches():
    infos = {i.spec: i for i in list_voices()}
    assert infos["festival:msu_ru_nsh"].available
    assert not infos["espeak:*"].available and "unintelligible" in infos["espeak:*"].detail
    assert get_voice("festival:msu_ru_nsh") is get_voice("festival:msu_ru_nsh")
    assert tts.DEFAULT_VOICE == "festival:msu_ru_nsh"
    with pytest.raises(VoiceError, match=r"unknown voice 'festival:nope'.*festival:msu_ru_nsh"):
        get_voice("festival:nope")
    with pytest.raises(VoiceError, match="unintelligible"):
        get_voice("espeak:ru")
    assert isinstance(get_voice("festival:msu_ru_nsh"), tts.Voice)


def test_temp_folder_with_any_characters(voice, tmp_path: Path, monkeypatch):
    """Festival works in a folder under the temp folder, whose name may hold a quote or a backslash
    (--temp-dir): no path is spelled inside the Scheme it reads."""
    import tempfile

    weird = tmp_path / 'q"uo\\te -x'
    weird.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(weird))
    voice.close()  # the next synthesis starts a process in the new temp folder
    try:
        s = voice.synthesize(PHRASE)
        assert any(p.name.startswith("vc-festival-") for p in weird.iterdir())
    finally:
        voice.close()
    assert len(s.audio) > 0.5 * s.sample_rate and len(s.word_spans) == len(PHRASE)
