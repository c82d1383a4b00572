"""Speakers in the subtitles, the script and the transcript (issue 24, part 4).

Unit tests on phrase dicts shaped as the stages write them (stress's StressedPhrase, transcript.json's
phrases): WebVTT voice spans written and read back (also by webvtt-py and ffmpeg), the SRT
``Speaker 1: `` convention only with two or more speakers and never eating ordinary text that opens
with a word and a colon, a script whose one cue changed speaker changing only that cue's phrase, and
speaker-less input giving byte for byte what it gave before speakers existed.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from media import as_ffmpeg_reads_it
from voicechanger.text.phrases import StressedPhrase, bare_phrase
from voicechanger.text.script import cue_phrase, load_script, script_cues, script_phrases
from voicechanger.text.subtitles import Cue, format_srt, format_vtt, phrase_cues, read_cues, write_cues


def _word(start: float, end: float, word: str, probability: float = 0.93) -> dict:
    return {"start": start, "end": end, "word": " " + word, "probability": probability}


def _stressed(start: float, end: float, words: list[tuple[float, float, str, str]], speaker: str | None = None
              ) -> StressedPhrase:
    """A phrase as stress writes it: Whisper's words, one stress-marked token per word."""
    phrase: dict = {
        "start": start, "end": end, "text": " " + " ".join(w for _a, _b, w, _t in words),
        "words": [_word(a, b, w) for a, b, w, _t in words],
        "tokens": [{"text": t, "plain": t.replace("+", "").lower(), "src": i} for i, (*_x, t) in enumerate(words)],
        "stressed": " ".join(t for *_x, t in words), "key": f"k{start:g}",
    }
    if speaker is not None:
        phrase["speaker"] = speaker
    return phrase  # type: ignore[return-value]


def _dialogue(speakers: list[str | None]) -> list[StressedPhrase]:
    lines = [
        (0.32, 1.9, [(0.32, 0.9, "Здравствуйте,", "здр+авствуйте,"), (0.95, 1.9, "Ольга.", "+ольга.")]),
        (2.4, 4.1, [(2.4, 2.9, "Итак:", "ит+ак:"), (2.95, 3.5, "начнём", "начнём"), (3.5, 4.1, "урок.", "ур+ок.")]),
        (4.6, 6.0, [(4.6, 5.1, "Замок", "зам+ок"), (5.15, 6.0, "закрыт.", "закр+ыт.")]),
        (6.5, 7.7, [(6.5, 7.0, "Спасибо,", "спас+ибо,"), (7.05, 7.25, "до", "до"), (7.25, 7.7, "свидания.", "свид+ания.")]),
    ]
    return [_stressed(a, b, words, s) for (a, b, words), s in zip(lines, speakers)]


def _transcript_phrases(phrases: list[StressedPhrase]) -> list[dict]:
    """The phrases as transcript.json holds them (what write_subtitles gets)."""
    return [{k: v for k, v in p.items() if k not in ("tokens", "key")} for p in phrases]


# What these phrases' subtitles were before speakers existed (the files written by the code of
# commit 9eb9dda): speaker-less phrases must still give exactly these bytes.
BEFORE_SRT = ("1\n00:00:00,320 --> 00:00:01,900\nЗдравствуйте, Ольга.\n\n2\n00:00:02,400 --> 00:00:04,100\n"
              "Итак: начнём урок.\n\n3\n00:00:04,600 --> 00:00:06,000\nЗамок закрыт.\n\n"
              "4\n00:00:06,500 --> 00:00:07,700\nСпасибо, до свидания.\n")
BEFORE_VTT = ("WEBVTT\n\nNOTE\na note\n\n00:00:00.320 --> 00:00:01.900\nЗдравствуйте, Ольга.\n\n"
              "00:00:02.400 --> 00:00:04.100\nИтак: начнём урок.\n\n00:00:04.600 --> 00:00:06.000\nЗамок закрыт.\n\n"
              "00:00:06.500 --> 00:00:07.700\nСпасибо, до свидания.\n")
BEFORE_SCRIPT_SRT = ("1\n00:00:00,320 --> 00:00:01,900\nЗдр+авствуйте, +Ольга.\n\n2\n00:00:02,400 --> 00:00:04,100\n"
                     "Ит+ак: начнём ур+ок.\n\n3\n00:00:04,600 --> 00:00:06,000\nЗам+ок закр+ыт.\n\n"
                     "4\n00:00:06,500 --> 00:00:07,700\nСпас+ибо, до свид+ания.\n")


# -- speaker-less input: as before ---------------------------------------------------------------
def test_phrases_without_a_speaker_give_the_subtitles_and_script_of_before():
    phrases = _dialogue([None] * 4)
    cues = phrase_cues(_transcript_phrases(phrases), 8.0)
    assert all(c.speaker is None for c in cues)
    assert format_srt(cues) == BEFORE_SRT
    assert format_vtt(cues, note="a note") == BEFORE_VTT
    assert format_srt(script_cues(phrases)) == BEFORE_SCRIPT_SRT
    # An explicit None or empty name is no speaker either.
    for empty in (None, "", "  "):
        named = [{**p, "speaker": empty} for p in _transcript_phrases(phrases)]
        assert format_vtt(phrase_cues(named, 8.0), note="a note") == BEFORE_VTT


def test_the_existing_phrase_cue_expectations_hold_with_and_without_a_speaker(tmp_path):
    from voicechanger.media.outputs import write_subtitles

    # test_script.py's test_phrase_cues_increase_within_the_output_and_carry_no_marks, plus speakers.
    phrases = [{"start": 0.2, "end": 1.5004, "text": " Зам+ок закрыт."}, {"start": 1.4, "end": 2.0, "text": "Да"},
               {"start": 2.5, "end": 9.0, "text": "Конец"}, {"start": 9.5, "end": 9.9, "text": " "}]
    expected = [(0.2, 1.5, "Замок закрыт."), (1.5, 2.0, "Да"), (2.5, 8.0, "Конец")]
    plain = write_subtitles(phrases, tmp_path / "a.mp3", "vtt", duration=8.0)
    assert [(c.start, c.end, c.text, c.speaker) for c in read_cues(plain)] == [(*e, None) for e in expected]
    voiced = [{**p, "speaker": s} for p, s in zip(phrases, ["Speaker 1", "Speaker 2", "Speaker 1", "Speaker 2"])]
    path = write_subtitles(voiced, tmp_path / "b.mp3", "vtt", duration=8.0)
    assert [(c.start, c.end, c.text, c.speaker) for c in read_cues(path)] == [
        (*e, s) for e, s in zip(expected, ["Speaker 1", "Speaker 2", "Speaker 1"])]


# -- WebVTT voice spans --------------------------------------------------------------------------
NAMES = ["Speaker 1", "Ольга Петровна", "A&B <друзья>", "Анна-Мария"]


def test_vtt_voice_spans_round_trip_and_are_valid_for_webvtt_py_and_ffmpeg(tmp_path):
    import webvtt

    phrases = _transcript_phrases(_dialogue(NAMES))
    path = write_cues(phrase_cues(phrases, 8.0), tmp_path / "talk.voice.vtt")
    written = path.read_text(encoding="utf-8")
    assert "<v Speaker 1>Здравствуйте, Ольга.\n" in written
    assert "<v A&amp;B &lt;друзья&gt;>Замок закрыт.\n" in written  # the name escaped, the text as before
    assert "<v Ольга Петровна>Итак: начнём урок.\n" in written
    back = read_cues(path)
    assert [c.speaker for c in back] == NAMES
    assert [c.text for c in back] == [c.text for c in phrase_cues(_transcript_phrases(_dialogue([None] * 4)), 8.0)]
    captions = webvtt.read(str(path))
    assert [html.unescape(c.voice or "") for c in captions] == NAMES
    assert [c.text for c in captions] == [c.text for c in back]
    assert "Замок закрыт." in as_ffmpeg_reads_it(path, tmp_path)


def test_vtt_voice_spans_with_classes_closing_tags_and_spaces_are_read(tmp_path):
    path = tmp_path / "typed.vtt"
    path.write_text("WEBVTT\n\n"
                    "1\n00:00:00.000 --> 00:00:01.000\n<v.loud Olga>Привет!</v>\n\n"
                    "00:00:01.000 --> 00:00:02.000\n<v.a.b \t Анна   Мария >Да, <i>конечно</i>.\n\n"
                    "00:00:02.000 --> 00:00:03.000\n<v>Без имени\n\n"
                    "00:00:03.000 --> 00:00:04.000\n<v Иван>Раз,</v> <v Пётр>два.</v>\n\n"
                    "00:00:04.000 --> 00:00:05.000\n<c.video>Просто текст</c>\n", encoding="utf-8")
    cues = read_cues(path)
    assert [(c.text, c.speaker) for c in cues] == [
        ("Привет!", "Olga"), ("Да, конечно.", "Анна Мария"), ("Без имени", None),
        ("Раз, два.", "Иван"),  # a cue is one phrase: its first voice names it
        ("Просто текст", None)]


# -- the SRT convention --------------------------------------------------------------------------
def test_srt_prefixes_only_with_two_or_more_speakers(tmp_path):
    import srt

    one = phrase_cues(_transcript_phrases(_dialogue(["Speaker 1"] * 4)), 8.0)
    assert format_srt(one) == BEFORE_SRT  # one voice: plain SRT
    two = phrase_cues(_transcript_phrases(_dialogue(["Speaker 1", "Ольга Петровна", "Speaker 1", "Speaker 2"])), 8.0)
    path = write_cues(two, tmp_path / "talk.voice.srt")
    parsed = [c.content for c in srt.parse(path.read_text(encoding="utf-8"))]
    assert parsed == ["Speaker 1: Здравствуйте, Ольга.", "Ольга Петровна: Итак: начнём урок.",
                      "Speaker 1: Замок закрыт.", "Speaker 2: Спасибо, до свидания."]
    back = read_cues(path)
    assert [(c.text, c.speaker) for c in back] == [(c.text, c.speaker) for c in two]
    assert back[1].text == "Итак: начнём урок."  # one prefix taken, the text's own colon kept


def test_srt_leaves_out_names_that_would_not_read_back():
    cues = phrase_cues(_transcript_phrases(_dialogue(["Speaker 1", "Dr. Who", "Speaker 2", "Speaker 1"])), 8.0)
    text = format_srt(cues)
    assert "Speaker 1: Здравствуйте" in text and "Speaker 2: Замок" in text and "Speaker 1: Спасибо" in text
    assert "Dr. Who" not in text and "\nИтак: начнём урок." in text  # else the voice would say the name
    # Only one name an SRT prefix can carry: the file is not labelled at all.
    odd = phrase_cues(_transcript_phrases(_dialogue(["Speaker 1", "Dr. Who", "Speaker 1", "A&B <друзья>"])), 8.0)
    assert format_srt(odd) == BEFORE_SRT


def test_srt_of_one_cue_per_speaker_is_plain_and_vtt_carries_it(tmp_path):
    cues = [Cue(0.0, 1.0, "Алло?", speaker="Speaker 1"), Cue(1.0, 2.0, "Да, слушаю.", speaker="Speaker 2")]
    assert "Speaker" not in format_srt(cues)  # it would not read back as labelled: "Цитата: «да»" would
    assert [c.speaker for c in read_cues(write_cues(cues, tmp_path / "call.vtt"))] == ["Speaker 1", "Speaker 2"]


@pytest.mark.parametrize("content", [
    "1\n00:00:00,000 --> 00:00:02,000\nИтак: начнём\n",
    "1\n00:00:00,000 --> 00:00:02,000\nИтак: начнём\n\n2\n00:00:02,000 --> 00:00:03,000\nЗдравствуйте.\n\n"
    "3\n00:00:03,000 --> 00:00:04,000\nИтак: дальше.\n\n4\n00:00:04,000 --> 00:00:05,000\nВсё понятно?\n\n"
    "5\n00:00:05,000 --> 00:00:06,000\nДа.\n",
    "1\n00:00:00,000 --> 00:00:02,000\nОн сказал: нет.\n\n2\n00:00:02,000 --> 00:00:03,000\nЦитата: «да»\n\n"
    "3\n00:00:03,000 --> 00:00:04,000\nНу что ж, итак: всё.\n",
])
def test_ordinary_text_with_a_colon_is_not_a_speaker(tmp_path, content):
    path = tmp_path / "lecture.srt"
    path.write_text(content, encoding="utf-8")
    cues = read_cues(path)
    assert all(c.speaker is None for c in cues)
    assert cues[0].text == content.split("\n")[2]


def test_srt_written_by_hand_with_speakers_reads_them(tmp_path):
    path = tmp_path / "call.srt"
    path.write_text("1\n00:00:00,000 --> 00:00:02,000\nOlga: Алло?\n\n2\n00:00:02,000 --> 00:00:03,000\n"
                    "Иван Петрович: Итак: начнём.\n\n3\n00:00:03,000 --> 00:00:04,000\nДа.\n\n"
                    "4\n00:00:04,000 --> 00:00:05,000\nOlga: Хорошо.\n", encoding="utf-8")
    assert [(c.text, c.speaker) for c in read_cues(path)] == [
        ("Алло?", "Olga"), ("Итак: начнём.", "Иван Петрович"), ("Да.", None), ("Хорошо.", "Olga")]


# -- the script ----------------------------------------------------------------------------------
SPEAKERS = ["Speaker 1", "Speaker 2", "Speaker 1", "Speaker 2"]


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_the_script_shows_the_speakers_and_reads_back_unchanged(tmp_path, fmt):
    known = _dialogue(SPEAKERS)
    path = write_cues(script_cues(known), tmp_path / f"talk.script.{fmt}")
    written = path.read_text(encoding="utf-8")
    assert ("<v Speaker 2>Ит+ак: начнём ур+ок." if fmt == "vtt" else "Speaker 2: Ит+ак: начнём ур+ок.") in written
    cues = load_script(path, 8.0)
    assert [c.speaker for c in cues] == SPEAKERS
    # Unedited, every cue gives its known phrase as it was: the chunk keeps its keys (plan_script).
    assert script_phrases(cues, known) == [bare_phrase(p) for p in known]


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_changing_one_cues_speaker_changes_only_its_phrase(tmp_path, fmt):
    known = _dialogue(SPEAKERS)
    path = write_cues(script_cues(known), tmp_path / f"talk.script.{fmt}")
    text = path.read_text(encoding="utf-8")
    old, new = ("<v Speaker 1>Зам+ок", "<v Olga>Зам+ок") if fmt == "vtt" else ("Speaker 1: Зам+ок", "Olga: Зам+ок")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    phrases = script_phrases(load_script(path, 8.0), known)
    before = [bare_phrase(p) for p in known]
    assert [i for i, (a, b) in enumerate(zip(phrases, before)) if a != b] == [2]
    assert phrases[2] == {**before[2], "speaker": "Olga"}  # the typed name kept verbatim, words as they were


def test_a_script_cue_without_a_speaker_takes_the_detected_one(tmp_path):
    known = _dialogue(SPEAKERS)
    path = write_cues(script_cues(known), tmp_path / "talk.script.vtt")
    text = path.read_text(encoding="utf-8")
    # One cue's voice span deleted, another's text edited with its span deleted too.
    edited = text.replace("<v Speaker 2>Ит+ак", "Ит+ак").replace("<v Speaker 2>Спас+ибо, до свид+ания.", "Спасибо.")
    phrases = script_phrases(load_script(_write(path, edited), 8.0), known)
    assert phrases[1] == bare_phrase(known[1])  # unedited: the known phrase, its detected speaker included
    assert "speaker" not in phrases[3] and phrases[3]["text"] == "Спасибо."  # stress gives it the detected one
    assert phrases[0] == bare_phrase(known[0]) and phrases[2] == bare_phrase(known[2])


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_cue_phrase_keeps_a_named_speaker_without_a_known_phrase():
    cue = Cue(1.0, 2.0, "Привет, мир.", 3, "Ольга")
    assert cue_phrase(cue, None)["speaker"] == "Ольга"  # subtitles from elsewhere: nothing detected to keep
    assert "speaker" not in cue_phrase(Cue(1.0, 2.0, "Привет, мир.", 3), None)


def test_cut_cues_keep_their_speaker():
    from voicechanger.text.script import chunk_cues, split_at_pauses

    cue = Cue(0.0, 10.0, "Раз два три. Четыре пять шесть.", 7, "Olga")
    parts = split_at_pauses(cue, [(0.2, 3.3), (4.5, 9.8)])
    assert [(p.text, p.speaker) for p in parts] == [("Раз два три.", "Olga"), ("Четыре пять шесть.", "Olga")]
    chunks = chunk_cues([cue], [[0, 16000 * 4], [16000 * 4, 16000 * 10]], 16000)
    assert [c.speaker for chunk in chunks for c in chunk] == ["Olga", "Olga"]


# -- the transcript stage ------------------------------------------------------------------------
def _transcript(tmp_path: Path, chunks: list[list[StressedPhrase]]) -> tuple[dict, list[str], list]:
    import pyarrow.parquet as pq

    from voicechanger.stages import transcript
    from voicechanger.stages.base import Context

    scratch = tmp_path / f"scratch{len(list(tmp_path.iterdir()))}"
    scratch.mkdir()
    inputs = [SimpleNamespace(stage="stress", meta={"index": i, "phrases": p}) for i, p in enumerate(chunks)]
    ctx = Context(inputs=inputs, settings=None, params={"recording": "r1"}, scratch=scratch)  # type: ignore[arg-type]
    transcript.run(ctx)
    table = pq.read_table(scratch / "segments.parquet")
    document = json.loads((scratch / "transcript.json").read_text(encoding="utf-8"))
    return document, table.column_names, table.column("speaker").to_pylist() if "speaker" in table.column_names \
        else []


def test_the_transcript_carries_speakers_only_when_there_are_some(tmp_path):
    document, columns, _ = _transcript(tmp_path, [_dialogue([None] * 2)[:2], _dialogue([None] * 4)[2:]])
    assert columns == ["recording", "chunk", "phrase", "start", "end", "text", "stressed"]  # as before
    assert all(set(p) == {"chunk", "phrase", "start", "end", "text", "stressed", "words"} for p in document["phrases"])
    voiced = _dialogue(["Speaker 1", None, "Olga", "Speaker 2"])
    document, columns, speakers = _transcript(tmp_path, [voiced[:2], voiced[2:]])
    assert columns[-1] == "speaker" and speakers == ["Speaker 1", None, "Olga", "Speaker 2"]
    assert [p["speaker"] for p in document["phrases"]] == speakers
    # write_subtitles reads these phrases: their speakers reach the cues.
    assert [c.speaker for c in phrase_cues(document["phrases"], 8.0)] == speakers
