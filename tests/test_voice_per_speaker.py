"""A voice for every speaker, end to end through the CLI (issue 24): a dialogue of a real woman and a
real man (tests/dialogues.py) comes back with a woman's voice for her and a man's for him, a mapping
chooses the voices, a changed cue speaker re-says only that cue, and a bad mapping is one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import dialogues as D
import numpy as np
import pytest
import soundfile
from test_conditions import MAN_MAX_HZ, WOMAN_MIN_HZ, output_median_f0

from speech import RATE, computed_stages, run_cli

pytestmark = pytest.mark.slow

OPTIONS = ("--profile", "fast")
AUTO = ("--voice", "auto")


@pytest.fixture(scope="module")
def dialogue(tmp_path_factory) -> tuple[Path, D.Recording, Path]:
    """A 40 s dialogue of the Russian woman and the Czech man, converted once (the cache is shared)."""
    folder = tmp_path_factory.mktemp("dialogue")
    recording = D.dialogue(("ru", "cs"), 40, seed=31)
    source = folder / "call.wav"
    soundfile.write(str(source), recording.audio, RATE)
    return source, recording, folder / "cache"


def _convert(source: Path, output: Path, cache: Path, *extra: str):
    chosen = () if "--voice" in extra else AUTO
    done = run_cli("convert", str(source), str(output), *OPTIONS, "--cache-dir", str(cache), "--subtitles", "vtt",
                   *chosen, *extra)
    assert done.returncode == 0, done.stderr
    return done


def _cast(stderr: str) -> dict[str, tuple[str, str]]:
    """{label: (gender, voice)} from the summary's speakers line."""
    line = next(line for line in stderr.splitlines() if line.startswith("speakers: "))
    return {m[0]: (m[1], m[2]) for m in re.findall(r"(Speaker \d+) \((\w+), \d+ Hz, \d+%\) → (\w+)", line)}


def test_each_speaker_gets_a_voice_of_their_gender_and_register(dialogue, tmp_path):
    source, recording, cache = dialogue
    done = _convert(source, tmp_path / "out.wav", cache)
    cast = _cast(done.stderr)
    assert sorted(g for g, _v in cast.values()) == ["female", "male"], done.stderr
    from voicechanger.voices.catalogue import catalogue

    assert all(catalogue()[voice].gender == gender for gender, voice in cast.values()), cast
    spans = [(p.start, p.end) for p in recording.pieces]
    heard = output_median_f0(tmp_path / "out.wav", spans)
    genders = {"ru": "female", "cs": "male"}
    wrong = [(round(p.start, 1), round(hz), p.speaker) for p, hz in zip(recording.pieces, heard) if not np.isnan(hz)
             and ((genders[p.speaker] == "female" and hz < WOMAN_MIN_HZ)
                  or (genders[p.speaker] == "male" and hz > MAN_MAX_HZ))]
    assert not wrong, wrong
    vtt = (tmp_path / "out.vtt").read_text(encoding="utf-8")
    assert {"<v Speaker 1>", "<v Speaker 2>"} <= set(re.findall(r"<v [^>]+>", vtt))
    rerun = _convert(source, tmp_path / "again.wav", cache)
    assert _cast(rerun.stderr) == cast  # stable across reruns
    assert (tmp_path / "out.wav").read_bytes() == (tmp_path / "again.wav").read_bytes()


def test_a_mapping_chooses_each_speakers_voice(dialogue, tmp_path):
    source, _recording, cache = dialogue
    first = _cast(_convert(source, tmp_path / "a.wav", cache).stderr)
    woman = next(label for label, (gender, _v) in first.items() if gender == "female")
    man = next(label for label in first if label != woman)
    done = _convert(source, tmp_path / "b.wav", cache, "--voice", f"{woman}=tatyana,{man}=boris")
    assert _cast(done.stderr) == {woman: ("female", "tatyana"), man: ("male", "boris")}


def test_a_mapping_to_a_speaker_that_is_not_there_is_one_line(dialogue, tmp_path):
    source, _recording, cache = dialogue
    fresh = tmp_path / "fresh-cache"
    done = run_cli("convert", str(source), str(tmp_path / "x.wav"), *OPTIONS, "--cache-dir", str(fresh),
                   "--voice", "Speaker 7=olga")
    assert done.returncode != 0 and not (tmp_path / "x.wav").exists()
    errors = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "'Speaker 7' is not a speaker of this recording" in errors[0], done.stderr
    assert "transcribe" not in computed_stages(fresh)  # refused before any transcription
    done = run_cli("convert", str(source), str(tmp_path / "x.wav"), *OPTIONS, "--cache-dir", str(cache),
                   "--voice", "Speaker 1=nobody")
    assert done.returncode != 0 and "unknown voice 'nobody'" in done.stderr and not (tmp_path / "x.wav").exists()


def test_changing_one_cues_speaker_says_only_that_cue_again(dialogue, tmp_path):
    source, _recording, cache = dialogue
    before = tmp_path / "before.wav"
    _convert(source, before, cache)
    script = tmp_path / "call.vtt"
    done = run_cli("script", str(source), "--output", str(script), *OPTIONS, "--cache-dir", str(cache))
    # the script names the speakers whatever the voice
    assert done.returncode == 0, done.stderr
    text = script.read_text(encoding="utf-8")
    labels = re.findall(r"<v ([^>]+)>", text)
    assert len(set(labels)) == 2, text
    # the third cue goes to the other speaker: the other voice says it
    other = next(label for label in set(labels) if label != labels[2])
    position = [m.start() for m in re.finditer(r"<v [^>]+>", text)][2]
    edited = text[:position] + text[position:].replace(f"<v {labels[2]}>", f"<v {other}>", 1)
    script.write_text(edited, encoding="utf-8")
    after = tmp_path / "after.wav"
    _convert(source, after, cache, "--script", str(script))
    cue = json.loads(json.dumps(_cue_times(edited)[2]))
    a, rate = soundfile.read(str(before), dtype="float32")
    b, _ = soundfile.read(str(after), dtype="float32")
    assert len(a) == len(b)
    lo, hi = int((cue[0] - 0.05) * rate), int((cue[1] + 0.05) * rate)
    assert np.array_equal(a[:lo], b[:lo]) and np.array_equal(a[hi:], b[hi:])
    assert not np.array_equal(a[lo:hi], b[lo:hi])


def _cue_times(vtt: str) -> list[tuple[float, float]]:
    def seconds(stamp: str) -> float:
        h, m, s = stamp.split(":") if stamp.count(":") == 2 else ("0", *stamp.split(":"))
        return int(h) * 3600 + int(m) * 60 + float(s)

    return [(seconds(a), seconds(b)) for a, b in re.findall(r"([\d:.]+) --> ([\d:.]+)", vtt)]
