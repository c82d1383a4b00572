"""Recordings like people's own (tests/conditions.py): every condition converted with the normal profile
and held to the targets of issue 14, and to no worse than before the slot and onset work.

The figures of every condition are printed (run with -s); benchmarks/quality.py prints them as a table."""

from __future__ import annotations

from pathlib import Path

import conditions
import pytest
from conftest import convert_with
from roundtrip import measure

pytestmark = [pytest.mark.slow, pytest.mark.quality]

# The stage-7 code (main before slots came from the speech, prosody stage version 7, 8e943e9) per
# condition: round-trip WER as benchmarks/quality.py measured it then, log-F0 r of its outputs by the
# referee that leaves out short voiced islands (remeasured on today's conditions). A condition may not
# fall behind these by more than the referee's noise, which is larger than it looks: the same output
# scores differently when its slices move by a few ms or another make of CPU decodes it
# (benchmarks/README.md, "Quality figures on two machines" and "The pitch referee's short islands").
# The round-two conditions (phone-call and on) were added with issue 23: their figures are those of
# the code before it (970fbcc) on them.
BEFORE = {
    "clean": (0.237, 0.983), "fast": (0.374, 0.991), "telephone": (0.438, 0.988), "noise": (0.426, 0.983),
    "low-male": (0.353, 0.989), "echo-note": (0.292, 0.959), "dialogue": (0.339, 0.996),
    "phone-call": (0.378, 0.997), "hum": (0.388, 0.322), "knock": (0.169, 0.990), "short-pauses": (0.389, 0.994),
}
WER_NOISE = 0.04
WER_NOISE_WORDS = 3
R_NOISE = 0.01


@pytest.fixture(scope="module")
def condition_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("conditions")


@pytest.fixture(scope="module")
def measured(condition_dir: Path, quality_input, normal_result, session_store):
    """name -> Figures; the conversions share the session's store (and Whisper)."""
    def run(name: str):
        if name == "clean":
            condition, result = conditions.clean(quality_input), normal_result
        else:
            condition = conditions.build(name, condition_dir)
            result = convert_with(condition, "normal", session_store, condition_dir)
        figures = measure(condition, result, session_store)
        print(figures.row())
        return figures, result

    cache: dict = {}

    def get(name: str):
        if name not in cache:
            cache[name] = run(name)
        return cache[name]
    return get


ALL = ["clean", *conditions.NAMES]
HARD = list(conditions.HARD_NAMES)
HUM_MIN_R = 0.9
PLAIN_COVERED = 0.95


@pytest.mark.parametrize("name", ALL)
def test_phrases_start_with_the_speaker(measured, name: str) -> None:
    """At least 95 % of the measured phrases start within 100 ms of the input's."""
    figures, result = measured(name)
    assert figures.starts >= len(result.phrase_spans()) // 2  # most phrases measured, not a few
    assert figures.starts_within_100ms >= 0.95


@pytest.mark.parametrize("name", ALL)
def test_no_speech_over_silence(measured, name: str) -> None:
    """At most 1 % of the output's speech where the input has none within 200 ms."""
    assert measured(name)[0].over_silence <= 0.01


@pytest.mark.parametrize("name", ALL)
def test_no_needless_squeeze(measured, name: str) -> None:
    """No phrase squeezed beyond 2x when the pause after it had room; the summary says when the
    voice was rushed (beyond 1.5x, from the prosody artifacts' squeeze record)."""
    figures, result = measured(name)
    assert figures.squeeze_over_2_with_room == 0
    rushed = [n for n in result.notices if "the voice is rushed" in n]
    assert bool(rushed) == any(
        result.store.get("prosody", chain[3].key).meta["squeeze"]["rushed"] for chain in result.plan.chains)


@pytest.mark.parametrize("name", ALL)
def test_no_worse_than_before(measured, name: str) -> None:
    """Round-trip WER and log-F0 r no worse than before this work, within the referee's noise."""
    figures, _result = measured(name)
    wer_before, r_before = BEFORE[name]
    assert figures.wer <= wer_before + WER_NOISE + WER_NOISE_WORDS / figures.words
    assert figures.log_f0_r >= r_before - R_NOISE


def plain_whisper_words(path: Path) -> str:
    """What plain faster-whisper hears (Whisper base, batched, its default VAD and gates)."""
    from faster_whisper import BatchedInferencePipeline

    from speech import decode, referee_model

    segments, _info = BatchedInferencePipeline(referee_model()).transcribe(decode(path), language="ru")
    return " ".join(s.text.strip() for s in segments)


@pytest.mark.parametrize("name", HARD)
def test_phrases_cover_what_whisper_hears(measured, condition_dir: Path, name: str) -> None:
    """The phrases say at least 95 % of the words plain faster-whisper hears in the input: a word of it
    that the alignment finds opposite one of theirs (spelt alike or not) is said."""
    import jiwer

    from speech import words_for_wer

    _figures, result = measured(name)
    plain = " ".join(words_for_wer(plain_whisper_words(conditions.build(name, condition_dir).path)))
    said = " ".join(words_for_wer(" ".join(p["text"] for p in result.phrases)))
    counts = jiwer.process_words(plain, said or "<empty>")
    heard = counts.hits + counts.substitutions + counts.deletions
    print(f"{name}: {heard - counts.deletions} of {heard} plain words said; speech covered {result.speech_covered}")
    assert 1 - counts.deletions / heard >= PLAIN_COVERED
    assert result.speech_covered is not None and result.speech_covered >= PLAIN_COVERED


@pytest.mark.parametrize("name", ALL)
def test_no_cue_holds_a_loop(measured, name: str) -> None:
    """No phrase repeats one word or phrase three or more times in a row."""
    from voicechanger.engines.recheck import find_loops

    _figures, result = measured(name)
    assert [p["text"] for p in result.phrases if find_loops(p["words"])] == []


def test_the_voice_follows_the_speaker_not_the_hum(measured) -> None:
    """Under 50 Hz hum and hiss the voice's intonation still follows the speaker's."""
    assert measured("hum")[0].log_f0_r >= HUM_MIN_R


WOMAN_MIN_HZ, MAN_MAX_HZ = 175.0, 150.0


def output_median_f0(path: Path, spans) -> list[float]:
    """The output's median F0 (Hz) over each span (nan where it has no voiced frame)."""
    import numpy as np
    import parselmouth
    import soundfile

    audio, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    f0 = parselmouth.Sound(audio.mean(axis=1), rate).to_pitch(0.01, 75.0, 500.0)
    times, values = f0.xs(), f0.selected_array["frequency"]
    out = []
    for start, end in spans:
        voiced = values[(times >= start) & (times < end) & (values > 0)]
        out.append(float(np.median(voiced)) if len(voiced) >= 10 else float("nan"))
    return out


# Open in issue 24: single women's phrases come out at 172-175 Hz where the output's voiced frames fall
# on the low part of a wide contour (the voices sit at 182-186 Hz; a higher register costs DNSMOS).
# phone-call passes by 1 Hz. Not strict: these lie within a few Hz of the bound either way.
REGISTER_OPEN = ("fast", "telephone", "hum", "short-pauses", "phone-call")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(
    reason="issue 24, open: single women's phrases at 172-175 Hz")) if n in REGISTER_OPEN else n for n in ALL])
def test_each_speaker_speaks_in_a_voice_of_their_register(measured, quality_input, condition_dir: Path,
                                                         session_store, name: str) -> None:
    """voice: auto casts a woman's voice for a woman and a man's for a man: a woman's phrases come out
    at a median F0 of at least 175 Hz, a man's at most 150 Hz (issue 24). The conversion with the
    profile's voice comes first: this one takes its transcription from the store."""
    import math

    measured(name)
    condition = conditions.clean(quality_input) if name == "clean" else conditions.build(name, condition_dir)
    folder = condition_dir / "auto"
    folder.mkdir(exist_ok=True)
    result = convert_with(condition, "normal", session_store, folder, voice="auto")
    prompt_spans = condition.spans
    heard = output_median_f0(result.output, prompt_spans)
    wanted = conditions.genders(name, len(prompt_spans))
    wrong = [(round(a, 1), round(hz), g) for (a, _b), hz, g in zip(prompt_spans, heard, wanted)
             if not math.isnan(hz) and ((g == "female" and hz < WOMAN_MIN_HZ) or (g == "male" and hz > MAN_MAX_HZ))]
    print(name, "output median F0 per prompt:", [round(h) if not math.isnan(h) else None for h in heard])
    assert sum(not math.isnan(h) for h in heard) >= len(heard) * 0.8, heard
    assert not wrong, wrong


def test_the_referee_knows_its_loops() -> None:
    """The referee's own loop (decoded again) is told from speech that repeats a word."""
    from speech import looping

    assert looping("Пожалуйста, подождите. Присводит СИ-И-И-НИ-НИ-НИ-НИ-НИ-НИ-НИ-НИ.")
    assert looping("спокой спокой спокой спокой спокой")
    assert not looping("да, да, да, конечно") and not looping("Пожалуйста, подождите, происходит соединение.")
