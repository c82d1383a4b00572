"""The cast: which catalogue voice says which speaker, and the voice mapping's checks."""

from __future__ import annotations

import pytest

from voicechanger.config import load_settings
from voicechanger.errors import VoiceError
from voicechanger.voices.cast import AUTO, cast_voices, parse_mapping, speaker_at
from voicechanger.voices.catalogue import catalogue


def _speaker(label: str, gender: str, f0: float, seconds: float = 10.0) -> dict:
    return {"label": label, "gender": gender, "median_f0": f0, "f0_low": f0 * 0.7, "f0_high": f0 * 1.4,
            "seconds": seconds}


def test_each_speaker_gets_a_voice_of_their_gender_and_two_women_two_voices():
    table = [_speaker("Speaker 1", "female", 230), _speaker("Speaker 2", "male", 105),
             _speaker("Speaker 3", "female", 185)]
    cast = cast_voices(table, AUTO, {})
    assert [cast[s["label"]].gender for s in table] == ["female", "male", "female"]
    assert cast["Speaker 1"] != cast["Speaker 3"]
    # the nearest register first: the higher woman gets the higher voice
    assert cast["Speaker 1"].median_f0 > cast["Speaker 3"].median_f0
    assert cast_voices(table, AUTO, {}) == cast  # a function of the speakers alone: stable on every rerun


def test_more_speakers_than_voices_of_a_gender_reuse_the_least_used():
    table = [_speaker(f"Speaker {i}", "male", 100 + 10 * i) for i in range(1, 6)]
    cast = cast_voices(table, AUTO, {})
    males = [v for v in catalogue().values() if v.gender == "male"]
    assert {cast[s["label"]] for s in table[:len(males)]} == set(males)
    assert all(v.gender == "male" for v in cast.values())


def test_a_mapping_sets_some_speakers_and_auto_casts_the_rest_around_it():
    table = [_speaker("Speaker 1", "female", 200), _speaker("Speaker 2", "female", 205)]
    olga = catalogue()["olga"]
    cast = cast_voices(table, AUTO, {"Speaker 2": olga})
    assert cast["Speaker 2"] == olga and cast["Speaker 1"] != olga and cast["Speaker 1"].gender == "female"


def test_a_single_voice_says_every_speaker():
    table = [_speaker("Speaker 1", "female", 200), _speaker("Speaker 2", "male", 100)]
    assert set(cast_voices(table, "festival:msu_ru_nsh", {"Speaker 2": "pavel"}).values()) == {
        "festival:msu_ru_nsh", "pavel"}


def test_a_mapping_to_a_speaker_that_is_not_there_is_one_line_naming_it():
    table = [_speaker("Speaker 1", "female", 200)]
    with pytest.raises(VoiceError, match=r"'Speaker 3' is not a speaker of this recording \(found: Speaker 1\)"):
        cast_voices(table, AUTO, {"Speaker 3": "pavel"})
    assert cast_voices(table, AUTO, {"Olga": "tatyana"}, names=["Olga"])["Olga"] == "tatyana"  # a script's name


@pytest.mark.parametrize("text, problem", [
    ("Speaker 1=olga,Speaker 2", "'Speaker 2' is not SPEAKER=VOICE"),
    ("Speaker 1=olga,Speaker 1=pavel", "'Speaker 1' is given two voices"),
    ("=olga", "'=olga' is not SPEAKER=VOICE"),
])
def test_a_malformed_mapping_is_one_line(text, problem):
    with pytest.raises(VoiceError, match=problem):
        load_settings("normal", {"voice": text})


def test_the_mapping_from_the_command_line_and_from_a_profile(tmp_path):
    settings = load_settings("normal", {"voice": "Speaker 1=olga, Speaker 2=Павел"})
    assert settings.voice == AUTO
    assert {k: v.name for k, v in settings.voices.items()} == {"Speaker 1": "olga", "Speaker 2": "pavel"}
    assert parse_mapping("olga") is None
    profile = tmp_path / "mine.yaml"
    profile.write_text("voice: auto\nvoices:\n  Olga: tatyana\n  Speaker 2: festival:msu_ru_nsh\n", encoding="utf-8")
    settings = load_settings(profile)
    assert settings.voices["Olga"].name == "tatyana" and settings.voices["Speaker 2"] == "festival:msu_ru_nsh"
    profile.write_text("voices: [olga]\n", encoding="utf-8")
    with pytest.raises(VoiceError, match="voices must map speakers to voices"):
        load_settings(profile)


def test_speaker_at_takes_the_speaker_holding_most_of_the_time():
    turns = [[0.0, 2.0, "Speaker 1"], [2.0, 5.0, "Speaker 2"], [7.0, 8.0, "Speaker 1"]]
    assert speaker_at(turns, 1.5, 4.0) == "Speaker 2"
    assert speaker_at(turns, 0.0, 2.5) == "Speaker 1"
    assert speaker_at(turns, 6.5, 6.8) == "Speaker 1"  # in a pause: the nearest turn's
    assert speaker_at([], 0.0, 1.0) is None
