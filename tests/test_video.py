"""Video in, video out, and the mix modes, on real media made by ffmpeg: the demo recording under a
testsrc picture with generated chords and a high shimmer (10.5 and 12 kHz, above the voice's band, so
the original's level can be read under the new voice)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_errors import _assert_clean_failure

from media import (
    DEMO,
    RATE,
    SHIMMER_HZ,
    Video,
    audio_track,
    band_level_db,
    make_video,
    runs,
    streams,
    video_md5,
    voice_regions,
)
from speech import decode, prompt, run_cli, transcribe_text, wer

FRAME_S = 1 / 25  # the test videos' frame duration
SRT = "1\n00:00:00,500 --> 00:00:03,000\nПервая строка\n\n2\n00:00:04,000 --> 00:00:06,000\nВторая строка\n"


# -- shared media and one conversion per mode ----------------------------------------------------
@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Video:
    return make_video(tmp_path_factory.mktemp("video"))


@pytest.fixture(scope="module")
def converted(video: Video, session_store, tmp_path_factory) -> dict:
    """The demo video converted once cold (replace, to mp4, original kept, subtitles), then into mkv
    (gaps) and mov (voiceover) from the same store: those rerun only the mix stage."""
    from voicechanger.config import load_settings
    from voicechanger.pipeline import convert

    out = tmp_path_factory.mktemp("video-out")
    subtitles = out / "voice.srt"
    subtitles.write_text(SRT, encoding="utf-8")
    # The plain voice: these tests judge the mix, and read where the voice sounds from the replace output
    # with a -60 dB detector (media.voice_regions); a catalogue voice leaves a floor of about -50 dBFS
    # between its words after the prosody stage, which that detector takes for voice (benchmarks/README.md,
    # "Voices").
    plain = {"voice": "festival:msu_ru_nsh"}
    results = {
        "replace": convert(video.path, out / "replace.mp4",
                           load_settings("normal", {"output.keep_original_audio": True, **plain}),
                           session_store, subtitles=subtitles),
        "gaps": convert(video.path, out / "gaps.mkv", load_settings("normal", {"mix.mode": "gaps", **plain}),
                        session_store),
        "voiceover": convert(video.path, out / "voiceover.mov",
                             load_settings("normal", {"mix.mode": "voiceover", "subtitles": "none", **plain}),
                             session_store),
    }
    return results


@pytest.fixture(scope="module")
def regions(converted) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(phrases, pauses) in seconds, read from the replace output's voice track (the voice on silence)."""
    voiced = voice_regions(audio_track(converted["replace"].output, 0))
    phrases = [(a, b) for a, b in runs(voiced, 0.01) if b - a >= 0.05]
    pauses = [(a, b) for a, b in runs(~voiced, 0.01) if b - a >= 0.5]
    return phrases, pauses


def _shimmer_db(audio: np.ndarray, start: float, end: float) -> float:
    part = audio[int(start * RATE) : int(end * RATE)].mean(axis=1)
    return band_level_db(part, SHIMMER_HZ[0] - 300, SHIMMER_HZ[1] + 300)


def _duration(path: Path) -> float:
    return float(streams(path)["format"]["duration"])


# -- video out -------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["replace", "gaps", "voiceover"])
def test_video_packets_copied_and_durations_kept(video, converted, mode):
    """The output's video packets are the input's, byte for byte; its length is the input's within a
    frame; the input's chapters and title are kept."""
    output = converted[mode].output
    assert video_md5(output) == video_md5(video.path)
    assert abs(_duration(output) - _duration(video.path)) <= FRAME_S
    info = streams(output)
    assert [c["tags"]["title"] for c in info["chapters"]] == ["first", "second"]
    assert info["format"]["tags"].get("title") == "demo video"


def _title(stream: dict) -> str | None:
    tags = stream.get("tags", {})
    return tags.get("title") or tags.get("handler_name")


@pytest.mark.slow
def test_tracks_languages_titles_and_subtitles(converted):
    """mp4 with the original kept and subtitles: voice (AAC, 48 kHz, default) and original, both
    tagged Russian, and a mov_text subtitle track; mkv: one Opus track, no subtitles."""
    info = streams(converted["replace"].output)
    audio = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert [(s["codec_name"], s["sample_rate"], s["tags"]["language"], _title(s)) for s in audio] == [
        ("aac", "48000", "rus", "voice"), ("aac", "48000", "rus", "original")]
    assert [s["disposition"]["default"] for s in audio] == [1, 0]
    assert audio[1]["channels"] == 2  # the original as it was
    subtitles = [s for s in info["streams"] if s["codec_type"] == "subtitle"]
    assert [s["codec_name"] for s in subtitles] == ["mov_text"]

    info = streams(converted["gaps"].output)
    audio = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert [(s["codec_name"], s["sample_rate"], s["channels"], s["tags"]["language"], _title(s)) for s in audio] == [
        ("opus", "48000", 2, "rus", "voice")]
    # the subtitles written beside the output (on by default) ride along; with subtitles: none, none
    assert [s["codec_name"] for s in info["streams"] if s["codec_type"] == "subtitle"] == ["subrip"]
    assert converted["gaps"].subtitles == converted["gaps"].output.with_suffix(".srt")
    info = streams(converted["voiceover"].output)
    assert not [s for s in info["streams"] if s["codec_type"] == "subtitle"]
    assert converted["voiceover"].subtitles is None


# -- mix modes -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_gaps_keep_the_original_between_phrases(video, converted, regions):
    """gaps: in every pause of both the voice and the original speaker (less 0.1 s at each edge, past
    the crossfades) the output is the original (r >= 0.99, level +-1 dB); under the phrases the original
    is gone (its shimmer 40 dB down). (Where the voice pauses but the speaker still talks, the original
    stays muted: issue 23, no original speech in a gap.)"""
    phrases, _pauses = regions
    original, output = audio_track(video.path), audio_track(converted["gaps"].output)
    voiced = voice_regions(audio_track(converted["replace"].output, 0))
    speaking = voice_regions(video.speech)[: len(voiced)]
    quiet = ~(voiced[: len(speaking)] | speaking)
    inner = [(a + 0.1, b - 0.1) for a, b in runs(quiet, 0.01) if b - a >= 0.5]
    assert len(inner) >= 2
    for start, end in inner:
        lo, hi = int(start * RATE), int(end * RATE)
        r = np.corrcoef(original[lo:hi].ravel(), output[lo:hi].ravel())[0, 1]
        db = 10 * np.log10(np.mean(output[lo:hi] ** 2) / np.mean(original[lo:hi] ** 2))
        print(f"pause {start:.2f}-{end:.2f} s: r = {r:.4f}, {db:+.2f} dB")
        assert r >= 0.99 and abs(db) <= 1.0
    cores = [(a + 0.2, b - 0.2) for a, b in phrases if b - a >= 1.0]
    in_pauses = np.median([_shimmer_db(output, a, b) for a, b in inner])
    assert all(_shimmer_db(output, a, b) < in_pauses - 40 for a, b in cores)


@pytest.mark.slow
def test_voiceover_ducks_by_the_configured_depth(video, converted, regions):
    """voiceover: the original under each phrase (past the attack and release) is 15 +- 1 dB below its
    level in the pauses; in the pauses it is at the input's own level (+-1 dB: no normalisation of the
    whole, issue 23), and the whole does not clip."""
    phrases, pauses = regions
    output, original = audio_track(converted["voiceover"].output), audio_track(video.path)
    in_pauses = [_shimmer_db(output, a + 0.5, b - 0.5) for a, b in pauses if b - a >= 1.2]
    as_input = [_shimmer_db(original, a + 0.5, b - 0.5) for a, b in pauses if b - a >= 1.2]
    under = [_shimmer_db(output, a + 0.3, b - 0.5) for a, b in phrases if b - a >= 1.2]
    assert in_pauses and len(under) >= 5
    depths = np.array(under) - np.median(in_pauses)
    print(f"pauses {np.round(in_pauses, 2)} (input {np.round(as_input, 2)}); depth under phrases {np.round(depths, 2)}")
    assert np.all(np.abs(depths + 15.0) <= 1.0)
    assert np.all(np.abs(np.array(in_pauses) - np.array(as_input)) <= 1.0)
    print(f"peak {20 * np.log10(np.max(np.abs(output))):.2f} dBFS")
    assert np.max(np.abs(output)) < 1.0


@pytest.mark.slow
@pytest.mark.quality
def test_voiceover_wer_close_to_replace(video, converted):
    """The voice's round-trip WER with the ducked original under it is at most 0.05 worse than alone."""
    reference = transcribe_text(decode(DEMO))
    figures = {}
    for mode in ("replace", "voiceover"):
        heard = audio_track(converted[mode].output, 0, 16000).mean(axis=1)
        figures[mode], words = wer(reference, transcribe_text(heard))
        print(f"{mode}: WER {figures[mode]:.3f} over {words} words")
    assert figures["voiceover"] <= figures["replace"] + 0.05


@pytest.mark.slow
def test_folder_of_videos(video, converted, session_store, tmp_path):
    """A folder of videos: the tree is mirrored, each output a video with the input's packets."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(video.path, folder / "sub" / "clip.mp4")
    result = run_cli("convert", str(folder), str(tmp_path / "out"), "--format", "mkv", "--mix", "voiceover",
                     "--cache-dir", str(session_store.root))
    assert result.returncode == 0, result.stderr
    output = tmp_path / "out" / "sub" / "clip.mkv"
    assert video_md5(output) == video_md5(video.path)
    assert [s["codec_name"] for s in streams(output)["streams"] if s["codec_type"] == "audio"] == ["opus"]


@pytest.mark.slow
def test_no_speech_keeps_the_original(tmp_path):
    """Music only: the CLI says there is no speech, and with gaps the output is the original."""
    clip = make_video(tmp_path, seconds=8.0, speech=False)
    output = tmp_path / "out" / "music.mkv"
    result = run_cli("convert", str(clip.path), str(output), "--mix", "gaps", "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr
    assert "no speech" in result.stderr
    original, converted = audio_track(clip.path), audio_track(output)
    frames = min(len(original), len(converted))
    assert np.corrcoef(original[:frames].ravel(), converted[:frames].ravel())[0, 1] >= 0.99


# -- fast: the muxer, the gain, bad input ----------------------------------------------------------
@pytest.fixture(scope="module")
def short_videos(tmp_path_factory) -> dict[str, Video]:
    folder = tmp_path_factory.mktemp("short")
    made = {}
    for name, kwargs in {"mp4": {}, "webm": {"container": "webm"}, "silent": {"with_audio": False}}.items():
        (folder / name).mkdir()
        made[name] = make_video(folder / name, seconds=3.0, **kwargs)
    return made


@pytest.mark.parametrize("container, subtitle_codec", [("webm", "webvtt"), ("mkv", "subrip"), ("mp4", "mov_text")])
def test_mux_copies_video_and_adds_tracks(short_videos, tmp_path, container, subtitle_codec):
    """The muxer alone: video packets kept, the voice and the original as tagged tracks, subtitles
    from an SRT file in the container's own subtitle codec."""
    from voicechanger.media.video import AUDIO_FORMAT, mux

    source = short_videos["webm" if container == "webm" else "mp4"].path
    audio = tmp_path / f"voice.{AUDIO_FORMAT[container]}"
    codec = ["-c:a", "libopus", "-f", "opus"] if AUDIO_FORMAT[container] == "opus" else ["-c:a", "aac", "-f", "ipod"]
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=3:sample_rate=48000",
                    *codec, "-y", str(audio)], check=True)
    subtitles = tmp_path / "voice.srt"
    subtitles.write_text(SRT, encoding="utf-8")
    target = tmp_path / f"out.{container}"
    mux(source, audio, target, language="ru", keep_original=True, subtitles=subtitles)
    assert video_md5(target) == video_md5(source)
    info = streams(target)
    audio_streams = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert [(s["tags"]["language"], _title(s)) for s in audio_streams] == [("rus", "voice"), ("rus", "original")]
    assert [s["codec_name"] for s in info["streams"] if s["codec_type"] == "subtitle"] == [subtitle_codec]
    assert not list(tmp_path.glob(".out*"))  # no temporary left


def test_ducking_gain():
    """The original's gain: the depth under a phrase, 1 far from it, smooth ramps between; 0 under a
    phrase in gaps mode."""
    from voicechanger.config import MixSettings
    from voicechanger.media.mix import Ducking, original_gain

    spans, rate = [(1.0, 2.0), (4.0, 5.0)], 1000
    gain = original_gain(spans, Ducking.of(MixSettings(mode="voiceover", duck_db=12.0)), 0, 6000, rate)
    db = 20 * np.log10(gain)
    assert np.allclose(db[1000:2000], -12.0) and np.allclose(db[4000:5000], -12.0)
    assert np.allclose(db[:700], 0.0) and np.allclose(db[2500:3700], 0.0) and np.allclose(db[5500:], 0.0)
    assert np.all(np.diff(gain[800:1000]) <= 0) and np.all(np.diff(gain[2000:2400]) >= 0)  # attack, release
    assert np.max(np.abs(np.diff(gain))) < 0.02  # no steps
    # A phrase that runs past the next one's start; asked for from the middle of it
    overlapping = original_gain([(1.0, 5.0), (2.0, 3.0)], Ducking.of(MixSettings(mode="voiceover")), 4000, 500, rate)
    assert np.allclose(20 * np.log10(overlapping), -15.0)
    gaps = original_gain(spans, Ducking.of(MixSettings(mode="gaps")), 0, 6000, rate)
    assert np.all(gaps[1000:2000] == 0.0) and np.all(gaps[2100:3900] == 1.0)


@pytest.mark.parametrize("source, name, needles", [
    ("silent", "out.mp4", ("no audio stream",)),
    ("audio", "out.mp4", ("no video stream", ".mp3")),
    ("mp4", "out.avi", ("unknown extension", ".avi", ".mkv")),
    ("mp4", "out.webm", ("h264", "without re-encoding", ".mkv")),
])
def test_bad_video_input(short_videos, tmp_path, source, name, needles):
    """A video without sound, an audio input asked for a video, a container that is not supported or
    cannot hold the video as it is: one clear line each, no output."""
    path = prompt("demo-thanks") if source == "audio" else short_videos[source].path
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = run_cli("convert", str(path), str(out_dir / name), "--cache-dir", str(tmp_path / "cache"))
    _assert_clean_failure(result, out_dir, *needles)


def test_mux_keeps_a_late_audio_start(tmp_path):
    """Audio that starts after the picture (0.5 s here): the voice track starts where the original did,
    within a frame, not at the file's start."""
    from voicechanger.media.video import mux

    source, voice = tmp_path / "late.mp4", tmp_path / "voice.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=3",
                    "-itsoffset", "0.5", "-f", "lavfi", "-i", "sine=duration=2:sample_rate=48000", "-map", "0:v",
                    "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-y", str(source)], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=300:duration=2:sample_rate=48000",
                    "-c:a", "aac", "-f", "ipod", "-y", str(voice)], check=True)
    target = tmp_path / "out.mp4"
    mux(source, voice, target, language="ru", keep_original=True)
    starts = [float(s["start_time"]) for s in streams(target)["streams"] if s["codec_type"] == "audio"]
    assert starts[1] > 0.4 and abs(starts[0] - starts[1]) <= FRAME_S


def test_dropped_streams_are_named(short_videos, tmp_path):
    """An mkv with a second audio track, a subtitle stream and an attached font: the output keeps the
    video and re-voices the first track; the CLI names each stream left out, once, and exits 0."""
    source, subtitles, font = tmp_path / "tracks.mkv", tmp_path / "orig.srt", tmp_path / "font.ttf"
    subtitles.write_text(SRT, encoding="utf-8")
    font.write_bytes(b"\x00\x01\x00\x00" + bytes(64))
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(short_videos["mp4"].path),
                    "-f", "lavfi", "-i", "sine=frequency=500:duration=3:sample_rate=48000", "-i", str(subtitles),
                    "-map", "0:v", "-map", "0:a", "-map", "1:a", "-map", "2:0", "-c:v", "copy", "-c:a", "aac",
                    "-c:s", "srt", "-metadata:s:a:1", "language=eng", "-metadata:s:a:1", "title=Commentary",
                    "-metadata:s:s:0", "language=rus", "-attach", str(font),
                    "-metadata:s:t", "mimetype=application/x-truetype-font", "-y", str(source)],
                   check=True, capture_output=True)
    output = tmp_path / "out" / "tracks.voice.mkv"
    result = run_cli("convert", str(source), str(output), "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "leaves out" in line]
    assert len(lines) == 1, result.stderr
    for needle in ('1 audio track (#2 eng "Commentary")', "1 subtitle stream (#3 rus)",
                   "1 attachment (#4)", "only audio track #1 is re-voiced", "-map 0:a:N"):
        assert needle in lines[0], lines[0]
    kept = streams(output)["streams"]
    assert [s["codec_type"] for s in kept].count("audio") == 1
    assert not [s for s in kept if s["codec_type"] in ("attachment", "data")]
    assert [s.get("tags", {}).get("title") for s in kept if s["codec_type"] == "subtitle"] == ["voice"]  # ours only
    plain = run_cli("convert", str(short_videos["mp4"].path), str(tmp_path / "out" / "plain.mkv"),
                    "--cache-dir", str(tmp_path / "cache"))
    assert plain.returncode == 0 and "leaves out" not in plain.stderr, plain.stderr
