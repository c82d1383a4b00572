"""Video outputs: the input's video streams copied packet for packet (never re-encoded), the mixed audio
beside them as the first audio track ("voice"), optionally the original's audio ("original") and a soft
subtitle track; the input's chapters and metadata kept. Written through a temporary name."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

from ..errors import InputError, VoiceError
from ..runtime import interrupt
from .audio import VIDEO_FORMATS, ffmpeg_url, part_name, probe, require_ffmpeg

# The audio the mix stage writes for each container, and the container's ffmpeg muxer.
AUDIO_FORMAT = {"mp4": "m4a", "mov": "m4a", "mkv": "opus", "webm": "opus"}
_MUXER = {"mp4": "mp4", "mov": "mov", "mkv": "matroska", "webm": "webm"}
_SUBTITLE_CODEC = {"mp4": "mov_text", "mov": "mov_text", "webm": "webvtt"}  # mkv: srt or ass, as given
# The original's audio is copied when the container takes its codec, else encoded like the voice.
_TAKES_AUDIO = {"mp4": {"aac", "mp3", "ac3", "eac3", "alac"}, "mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le"},
                "webm": {"opus", "vorbis"}}
_ENCODER = {"m4a": ["aac", "-b:a", "160k"], "opus": ["libopus", "-b:a", "128k"]}
# ISO 639-2 codes for the language tags of the tracks (containers want three letters).
_LANGUAGE = {"ru": "rus", "en": "eng", "uk": "ukr", "be": "bel", "kk": "kaz", "de": "deu", "fr": "fra", "es": "spa"}


def is_video(fmt: str) -> bool:
    return fmt in AUDIO_FORMAT


def language_tag(code: str) -> str:
    return _LANGUAGE.get(code.lower(), code.lower())


def _video_streams(info: dict) -> list[dict]:
    """The real video streams (a cover picture in an audio file is not one)."""
    return [s for s in info["streams"] if s.get("codec_type") == "video"
            and not (s.get("disposition") or {}).get("attached_pic")]


def check_video_output(source: Path, target: Path) -> None:
    """Fail before any work when ``target`` is a video the input cannot become: the input has no
    audio or no video, or the container cannot hold its video codec without re-encoding it."""
    fmt = VIDEO_FORMATS.get(target.suffix.lower())
    if fmt is None:
        return
    info = probe(source)  # raises when there is no audio stream
    videos = _video_streams(info)
    if not videos:
        raise InputError(f"input {source}: has no video stream, so it cannot become a video ({target.suffix}); "
                         f"give an audio output such as {target.with_suffix('.mp3').name}")
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"vc-probe-{uuid.uuid4().hex}.{fmt}"
    try:
        result = subprocess.run(
            [require_ffmpeg(), "-nostdin", "-v", "error", "-i", ffmpeg_url(source), "-map", "0:v", "-c", "copy",
             "-frames:v", "1", "-f", _MUXER[fmt], "-y", ffmpeg_url(scratch)],
            capture_output=True, text=True, **interrupt.CHILD,
        )
    finally:
        scratch.unlink(missing_ok=True)
    if result.returncode != 0:
        codecs = ", ".join(sorted({str(v.get("codec_name")) for v in videos}))
        raise VoiceError(f"output {target}: a {target.suffix} file cannot hold the input's {codecs} video without "
                         "re-encoding it; use .mkv (any codec) or the input's own container")


def _named(stream: str, language: str, title: str, fmt: str) -> list[str]:
    """A track's language and title; mp4 and mov keep a track's name as its handler name."""
    key = "handler_name" if fmt in ("mp4", "mov") else "title"
    return [f"-metadata:s:{stream}", f"language={language}", f"-metadata:s:{stream}", f"{key}={title}"]


def mux_command(source: Path, audio: Path, target: Path, fmt: str, *, language: str, keep_original: bool,
                original_codec: str, original_language: str, subtitles: Path | None = None,
                audio_delay: float = 0.0) -> list[str]:
    """ffmpeg copying the video of ``source`` and the ``audio`` file into ``target`` (container ``fmt``)."""
    # The mix starts at the original audio's first sample; where that comes later than the file's
    # start (audio that begins after the picture), the new track is placed there too.
    delay = ["-itsoffset", f"{audio_delay:.6f}"] if audio_delay > 0.0005 else []
    inputs = ["-i", ffmpeg_url(source), *delay, "-i", ffmpeg_url(audio)]
    inputs += ["-i", ffmpeg_url(subtitles)] if subtitles else []
    maps = ["-map", "0:v", "-map", "1:a:0"] + (["-map", "0:a:0"] if keep_original else [])
    maps += ["-map", "2:0"] if subtitles else []
    codecs = ["-c", "copy"]
    if keep_original and fmt in _TAKES_AUDIO and original_codec not in _TAKES_AUDIO[fmt]:
        codecs += ["-c:a:1", *_ENCODER[AUDIO_FORMAT[fmt]], "-ar:a:1", "48000"]
    if subtitles:
        codec = _SUBTITLE_CODEC.get(fmt) or ("ass" if subtitles.suffix.lower() in {".ass", ".ssa"} else "srt")
        codecs += ["-c:s", codec, *_named("s:0", language, "voice", fmt)]
    tags = [*_named("a:0", language, "voice", fmt), "-disposition:a:0", "default"]
    if keep_original:
        tags += [*_named("a:1", original_language, "original", fmt), "-disposition:a:1", "0"]
    return [require_ffmpeg(), "-nostdin", "-v", "error", *inputs, *maps, "-map_metadata", "0", "-map_chapters", "0",
            *codecs, *tags, "-f", _MUXER[fmt], "-y", ffmpeg_url(target)]


def _start(entry: dict) -> float:
    try:
        return float(entry.get("start_time", 0.0))
    except (TypeError, ValueError):
        return 0.0


def _audio_delay(info: dict) -> float:
    return max(0.0, _start(info["audio"]) - _start(info["format"]))


def audio_delay(source: Path) -> float:
    """How long after the file's start its (first) audio starts, in seconds: where a video's timeline
    puts the audio's time 0, on which the phrases, the voice and the subtitles are timed."""
    return _audio_delay(probe(source))


def mux(source: Path, audio: Path, target: Path, *, language: str, keep_original: bool,
        subtitles: Path | None = None) -> None:
    """Write ``target`` whole or not at all: the muxed file appears under its name only when complete.
    ``audio`` starts with the original's audio (it is placed where that starts); ``subtitles`` are
    timed on the video's timeline, as the file written beside the output is (outputs.py)."""
    fmt = VIDEO_FORMATS[target.suffix.lower()]
    info = probe(source)
    original = info["audio"]
    tagged = (original.get("tags") or {}).get("language", "und")
    original_language = tagged if tagged != "und" else language_tag(language)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = part_name(target)
    command = mux_command(source, audio, part, fmt, language=language_tag(language), keep_original=keep_original,
                          original_codec=str(original.get("codec_name")), original_language=original_language,
                          subtitles=subtitles, audio_delay=_audio_delay(info))
    try:
        result = subprocess.run(interrupt.dies_with_us(command), capture_output=True, text=True, **interrupt.CHILD)
        interrupt.check()  # an interrupted run writes no output
        if result.returncode != 0:
            reason = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise VoiceError(f"output {target}: writing the video failed ({reason[-160:]}); check the subtitles "
                             "file and the free disk space")
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
