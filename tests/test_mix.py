"""The mix on real speech (Asterisk prompts) under a generated background: where the original gives way
(only where its speaker really speaks: short pauses keep their background, no original speech is left
in a gap), how loud each part is (the original at its own level, the voice at its speech's), and the
subtitles of a video whose audio starts after the picture."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from media import RATE, Video, audio_track, make_video, spaced, streams, trimmed
from speech import transcripts

NAMES = ["vm-login", "agent-loggedoff", "conf-getpin", "pbx-invalid", "vm-nomore"]
PAUSES = [0.3, 0.45, 0.6, 0.35]  # between the prompts: the short pauses where a voice would overflow
EDGE_S = 0.1  # a pause's interior starts this far from the speech (Silero's lag, the 30 ms crossfade)
HOP = RATE // 100


def _convert(video: Path, output: Path, store, script: Path | None = None, **overrides):
    from voicechanger.config import load_settings
    from voicechanger.pipeline import convert

    return convert(video, output, load_settings("normal", overrides), store, script=script)


@pytest.fixture(scope="module")
def paused(tmp_path_factory) -> tuple[Video, list[tuple[float, float]]]:
    folder = tmp_path_factory.mktemp("paused")
    speech, spans = spaced(NAMES, PAUSES)
    return make_video(folder, said=speech), spans


@pytest.fixture(scope="module")
def mixes(paused, session_store, tmp_path_factory) -> dict:
    """The paused clip in gaps mode, in gaps mode with no squeeze allowed (every long phrase spills into
    the pause after it), and in voiceover mode."""
    video, _spans = paused
    out = tmp_path_factory.mktemp("paused-out")
    return {
        "gaps": _convert(video.path, out / "gaps.mkv", session_store, **{"mix.mode": "gaps"}),
        "spill": _convert(video.path, out / "spill.mkv", session_store,
                          **{"mix.mode": "gaps", "prosody.max_squeeze": 1.0}),
        "voiceover": _convert(video.path, out / "voiceover.mkv", session_store, **{"mix.mode": "voiceover"}),
    }


def _high(audio: np.ndarray) -> np.ndarray:
    """The part above 9 kHz (the background's shimmer; the voice, made at 16 kHz, has nothing there)."""
    spectrum = np.fft.rfft(audio, axis=0)
    spectrum[np.fft.rfftfreq(len(audio), 1 / RATE) < 9000.0] = 0
    return np.fft.irfft(spectrum, len(audio), axis=0)


def _compare(original: np.ndarray, output: np.ndarray) -> tuple[float, float]:
    """(correlation, level difference in dB) of two stretches of (frames, 2) audio."""
    r = float(np.corrcoef(original.ravel(), output.ravel())[0, 1])
    return r, float(10 * np.log10(np.mean(output**2) / np.mean(original**2)))


def _heard(spans: list[list[float]], start: float, end: float, margin: float = 0.02) -> bool:
    return any(a - margin < end and b + margin > start for a, b in spans)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["gaps", "spill"])
def test_pauses_keep_the_background(paused, mixes, mode):
    """gaps: in every pause between phrases (0.30-0.60 s; its interior, EDGE_S in from the speech) the
    background is the input's, r >= 0.99 and within 1 dB: over the whole band where no voice sounds,
    and over the band above 9 kHz where the voice spills into the pause (never digital silence under
    it). (voiceover ducks over its attack and release, 0.2 and 0.4 s: test_voiceover_levels.)"""
    video, spans = paused
    result = mixes[mode]
    original, output = audio_track(video.path), audio_track(result.output)
    voice = result.concat.meta["spans"]
    spills = 0
    for (_a, end), (start, _b) in zip(spans, spans[1:]):
        lo, hi = end + EDGE_S, start - EDGE_S
        part = slice(int(lo * RATE), int(hi * RATE))
        spilled = _heard(voice, lo, hi)
        r, db = _compare(*(_high(a[part]) if spilled else a[part] for a in (original, output)))
        print(f"{mode} pause {end:.2f}-{start:.2f} s ({'voice in it' if spilled else 'no voice'}): r {r:.4f}, "
              f"{db:+.2f} dB")
        assert r >= 0.99 and abs(db) <= 1.0
        spills += spilled
    if mode == "spill":
        assert spills >= 1  # no squeeze allowed: some phrase did spill into a pause


def _input_loudness(video: Video, spans: list[tuple[float, float]]) -> float:
    """LUFS of the input's mix (speech and background) over the speech spans, at 48 kHz stereo."""
    import pyloudnorm

    audio = audio_track(video.path)
    joined = np.concatenate([audio[int(a * RATE) : int(b * RATE)] for a, b in spans])
    return float(pyloudnorm.Meter(RATE).integrated_loudness(joined.astype(np.float64)))


@pytest.mark.slow
def test_voice_has_the_loudness_of_the_speech_it_replaces(paused, mixes, session_store, tmp_path):
    """gaps: the voice, heard alone where the original gives way, is as loud as the input over its
    speech (+-1.5 dB: the two are metered at 48 kHz stereo here, at 16 kHz mono in the mix); with
    mix.voice_lufs it is at that loudness instead, and the original's level does not move."""
    import pyloudnorm

    video, spans = paused
    meter = pyloudnorm.Meter(RATE)
    target = _input_loudness(video, spans)

    def voice_lufs(result) -> float:
        output = audio_track(result.output)
        inner = [(a + 0.05, b - 0.05) for a, b in result.concat.meta["spans"] if b - a > 0.5]
        joined = np.concatenate([output[int(a * RATE) : int(b * RATE)] for a, b in inner])
        return float(meter.integrated_loudness(joined.astype(np.float64)))

    matched = voice_lufs(mixes["gaps"])
    print(f"input over its speech {target:.2f} LUFS; voice {matched:.2f} LUFS; meta {mixes['gaps'].concat.meta}")
    assert abs(matched - target) <= 1.5
    quiet = _convert(video.path, tmp_path / "quiet.mkv", session_store, **{"mix.mode": "gaps", "mix.voice_lufs": -30.0})
    set_to = voice_lufs(quiet)
    print(f"mix.voice_lufs -30: voice {set_to:.2f} LUFS")
    assert abs(set_to - (-30.0)) <= 1.0
    _end, start = spans[0][1], spans[1][0]
    part = slice(int((_end + EDGE_S) * RATE), int((start - EDGE_S) * RATE))
    assert abs(_compare(audio_track(video.path)[part], audio_track(quiet.output)[part])[1]) <= 1.0


@pytest.mark.slow
def test_voiceover_levels(paused, mixes):
    """voiceover: the background between phrases at the input's level (+-1 dB), under the voice and the
    speech 15 dB down (+-1.5), and the mix never over the peak."""
    from voicechanger.config import load_settings

    video, spans = paused
    result = mixes["voiceover"]
    original, output = audio_track(video.path), audio_track(result.output)

    def shimmer(audio: np.ndarray, a: float, b: float) -> float:
        part = _high(audio[int(a * RATE) : int(b * RATE)])
        return float(10 * np.log10(np.mean(part**2)))

    lead = shimmer(output, 0.2, spans[0][0] - 0.4) - shimmer(original, 0.2, spans[0][0] - 0.4)
    under = [shimmer(output, a + 0.3, b - 0.5) - shimmer(original, a + 0.3, b - 0.5) for a, b in spans if b - a > 1.2]
    print(f"voiceover: before the speech {lead:+.2f} dB, under it {np.round(under, 2)} dB")
    assert abs(lead) <= 1.0 and under and all(abs(d + 15.0) <= 1.5 for d in under)
    assert np.max(np.abs(output)) <= 10 ** (load_settings("normal").output.peak_dbfs / 20) * 1.02


@pytest.mark.slow
def test_a_voice_too_loud_for_the_peak_is_lowered_alone(paused, session_store, tmp_path):
    """mix.voice_lufs -6 would push the voice over output.peak_dbfs (-1): the voice alone is lowered
    (one gain for the recording), the output (wav: no codec overshoot) stays within the peak, and the
    background in the pauses keeps its level."""
    video, spans = paused
    result = _convert(video.path, tmp_path / "loud.wav", session_store, **{"mix.mode": "gaps", "mix.voice_lufs": -6.0})
    meta = result.concat.meta
    output, original = audio_track(result.output), audio_track(video.path)
    peak = float(20 * np.log10(np.max(np.abs(output))))
    print(f"voice lowered {meta['voice_lowered_db']} dB (gain {meta['voice_gain_db']} dB); peak {peak:.2f} dBFS")
    assert meta["voice_lowered_db"] < -1.0 and peak <= -1.0 + 0.01
    for (_a, end), (start, _b) in zip(spans, spans[1:]):
        part = slice(int((end + EDGE_S) * RATE), int((start - EDGE_S) * RATE))
        if not _heard(meta["spans"], end + EDGE_S, start - EDGE_S):
            assert abs(10 * np.log10(np.mean(output[part] ** 2) / np.mean(original[part] ** 2))) <= 1.0


def _leaked(original_speech: np.ndarray, output: np.ndarray, voice: list[list[float]]) -> tuple[float, int]:
    """The loudest original speech left in the output where the voice does not sound: over 50 ms
    windows holding speech (within 40 dB of its loudest), the output's share of that speech (its
    projection on it), in dB (0: the speech as it was). Returns (worst dB, windows checked)."""
    window = RATE // 20
    speech = original_speech[: len(output)]
    levels = [float(np.mean(speech[i : i + window] ** 2)) for i in range(0, len(speech) - window, window)]
    loud = max(levels)
    worst, checked = -120.0, 0
    for index, level in enumerate(levels):
        start = index * window
        if level < loud * 1e-4 or _heard(voice, start / RATE, (start + window) / RATE):
            continue
        s, out = speech[start : start + window], output[start : start + window].mean(axis=1)
        share = abs(float(np.dot(out, s) / np.dot(s, s)))
        worst, checked = max(worst, 20 * np.log10(share + 1e-6)), checked + 1
    return worst, checked


def _srt(cues: list[tuple[float, float, str]]) -> str:
    from voicechanger.text.subtitles import Cue, format_srt

    return format_srt([Cue(a, b, text) for a, b, text in cues])


@pytest.mark.slow
def test_no_original_speech_in_a_gap_after_an_early_cue(paused, session_store, tmp_path):
    """A script whose first cue ends 0.5 s before the speech does: the voice stops before the speech
    does, and the original speech that runs on is not heard in the gap (at least 30 dB down). (0.5 s:
    a phrase's voice may run 0.25 s past its cue, prosody's slot margin, to follow the speech's decay.)"""
    video, spans = paused
    said = transcripts()
    cues = [(a, b - (0.5 if index == 0 else 0.0), said[name]) for index, ((a, b), name) in enumerate(zip(spans, NAMES))]
    script = tmp_path / "early.srt"
    script.write_text(_srt(cues), encoding="utf-8")
    # squeezed into its cue rather than widened into the speech after it, so that the gap is the cue's
    result = _convert(video.path, tmp_path / "early.mkv", session_store, script=script,
                      **{"mix.mode": "gaps", "prosody.max_squeeze": 4.0})
    voice = result.concat.meta["spans"]
    assert voice[0][1] < spans[0][1] - 0.15  # the voice did stop early: there is a gap to check
    worst, checked = _leaked(video.speech, audio_track(result.output), voice)
    print(f"early cue: {checked} windows of speech outside the voice, the original there at most {worst:.1f} dB")
    assert checked >= 3 and worst <= -30.0


@pytest.mark.slow
def test_no_original_speech_in_a_gap_with_overlapping_speakers(session_store, tmp_path):
    """Two prompts that overlap by 0.8 s (the second 3 dB quieter, carrying on 1.4 s after the first):
    whatever the transcript makes of them, no original speech is heard where the voice does not sound."""
    first, second = trimmed("pbx-invalid"), trimmed("agent-loggedoff") * 10 ** (-3 / 20)
    at = int(1.0 * RATE) + len(first) - int(0.8 * RATE)
    speech = np.zeros(at + len(second) + RATE, dtype=np.float32)
    speech[RATE : RATE + len(first)] += first
    speech[at : at + len(second)] += second
    video = make_video(tmp_path, said=speech)
    result = _convert(video.path, tmp_path / "overlap.mkv", session_store, **{"mix.mode": "gaps"})
    worst, checked = _leaked(video.speech, audio_track(result.output), result.concat.meta["spans"])
    print(f"overlap: phrases {[(p['start'], p['end']) for p in result.phrases]}; voice {result.concat.meta['spans']}; "
          f"{checked} windows of speech outside the voice, the original there at most {worst:.1f} dB")
    assert worst <= -30.0


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["gaps", "voiceover"])
def test_quiet_input_without_speech_keeps_its_level(tmp_path, session_store, mode):
    """Music alone at about -37 LUFS: the run says the output is the original audio, and it is, at the
    input's loudness (+-0.5 dB) and r >= 0.99."""
    import pyloudnorm

    clip = make_video(tmp_path, seconds=8.0, speech=False, gain_db=-8.0)
    result = _convert(clip.path, tmp_path / f"quiet.{mode}.mkv", session_store, **{"mix.mode": mode})
    assert any("is the original audio" in notice for notice in result.notices)
    original, output = audio_track(clip.path), audio_track(result.output)
    frames = min(len(original), len(output))
    meter = pyloudnorm.Meter(RATE)
    before, after = (meter.integrated_loudness(a[:frames].astype(np.float64)) for a in (original, output))
    r = float(np.corrcoef(original[:frames].ravel(), output[:frames].ravel())[0, 1])
    print(f"{mode}: input {before:.2f} LUFS, output {after:.2f} LUFS, r {r:.4f}")
    assert -40.0 <= before <= -34.0 and abs(after - before) <= 0.5 and r >= 0.99


def test_peak_room_keeps_the_sum_under_the_peak():
    """The voice's largest gain under the peak, on real speech over real speech: the sum reaches the
    peak and no further; samples where the original alone is over it are left as they are."""
    from voicechanger.media.mix import peak_room

    voice, other = trimmed("pbx-invalid"), trimmed("agent-loggedoff")
    frames = min(len(voice), len(other))
    voice, bed = voice[:frames].astype(np.float32), np.stack([other[:frames]] * 2, axis=1).astype(np.float32) * 1.5
    peak = 10 ** (-1 / 20)
    room = peak_room(voice * 4.0, bed, peak)
    summed = room * 4.0 * voice[:, None] + bed
    within = np.abs(bed) <= peak
    assert room < 1.0 and np.max(np.abs(summed[within])) == pytest.approx(peak, abs=1e-6)
    assert peak_room(np.zeros(10, dtype=np.float32), np.zeros((10, 2), dtype=np.float32), peak) == float("inf")


def _voice_onset(path: Path) -> float:
    """Where the voice's first phrase starts on the output's timeline: its first 10 ms frame over -50
    dBFS in the voice track (a replace mix: the voice on silence), plus where that track starts."""
    info = streams(path)
    track = next(s for s in info["streams"] if s["codec_type"] == "audio")
    audio = audio_track(path).mean(axis=1)
    frames = len(audio) // HOP
    level = 10 * np.log10(np.mean(audio[: frames * HOP].reshape(frames, HOP) ** 2, axis=1) + 1e-12)
    return float(np.flatnonzero(level > -50.0)[0]) / 100 + float(track["start_time"]) - float(info["format"]["start_time"])


def _first_subtitle(path: Path) -> float:
    result = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "s:0", "-show_packets", "-print_format",
                             "json", str(path)], capture_output=True, text=True, check=True)
    start = float(streams(path)["format"]["start_time"])
    return float(json.loads(result.stdout)["packets"][0]["pts_time"]) - start


@pytest.mark.slow
@pytest.mark.parametrize("late", ["audio", "video"])
def test_subtitles_keep_to_a_late_start(session_store, tmp_path, late):
    """Audio that starts 2 s after the picture, or a picture that starts 1 s after the audio: the soft
    subtitle track's first cue, and the .srt's, start within 50 ms of the voice's first phrase in the
    output."""
    from voicechanger.text.subtitles import read_cues

    speech, spans = spaced(["vm-login", "agent-loggedoff"], [0.8])
    start = {"audio_start": 2.0} if late == "audio" else {"video_start": 1.0}
    video = make_video(tmp_path, said=speech, **start)
    result = _convert(video.path, tmp_path / "late.mkv", session_store)
    voice, track = _voice_onset(result.output), _first_subtitle(result.output)
    assert result.subtitles is not None
    beside = read_cues(result.subtitles)[0].start
    print(f"{late} late: voice's first phrase {voice:.3f} s; soft track's first cue {track:.3f} s; the .srt's "
          f"{beside:.3f} s")
    assert abs(voice - spans[0][0] - start.get("audio_start", 0.0)) <= 0.1
    assert abs(track - voice) <= 0.05 and abs(beside - voice) <= 0.05
