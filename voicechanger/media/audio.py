"""Audio I/O with ffmpeg: decode anything to 16 kHz mono float32, the encode command by extension."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import numpy as np

from ..checks import NAME_MAX, check_writable_file
from ..errors import InputError, VoiceError, os_reason
from ..runtime import interrupt

ANALYSIS_RATE = 16000
OUTPUT_FORMATS = {".mp3": "mp3", ".wav": "wav", ".flac": "flac", ".ogg": "ogg", ".opus": "opus", ".m4a": "m4a"}
_CODECS = {
    # LAME's algorithm quality 7 instead of ffmpeg's default: 10 min of 16 kHz speech encodes in 0.77 s
    # instead of 1.15 s (measured), at the same constant bitrate, which is generous for 16 kHz mono.
    "mp3": ["-c:a", "libmp3lame", "-compression_level", "7"],
    "wav": ["-c:a", "pcm_s16le"],
    "flac": ["-c:a", "flac"],
    "ogg": ["-c:a", "libvorbis", "-q:a", "5"],
    "opus": ["-c:a", "libopus", "-b:a", "64k"],
    "m4a": ["-c:a", "aac", "-b:a", "160k"],
}
_CONTAINER = {"m4a": "ipod"}
# Video outputs: the container holds the input's video stream copied, and the mixed audio (video.py).
VIDEO_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "mkv", ".webm": "webm"}


def require_ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        raise VoiceError("ffmpeg is not installed; install it (Debian: apt-get install ffmpeg) or run `make install`")
    return path


def ffmpeg_url(path: Path) -> str:
    """A path as ffmpeg/ffprobe must see it: absolute, behind the ``file:`` protocol, so that no name
    (``-dash.mp3``, ``-y``, ``pipe:1``, ``a:b``) can be read as an option or another protocol."""
    return "file:" + os.path.abspath(path)


def check_input(path: Path) -> None:
    """Fail early, with one clear line, on inputs that cannot be a recording."""
    if not path.exists():
        raise InputError(f"input {path}: no such file; check the path")
    if path.is_dir():
        raise InputError(f"input {path}: is a folder; pass a file, or a folder with an output folder")
    if not os.access(path, os.R_OK):
        raise InputError(f"input {path}: not readable; check its permissions")
    if path.stat().st_size == 0:
        raise InputError(f"input {path}: the file is empty; pass a recording")


def probe(path: Path) -> dict:
    """ffprobe's view of the file: duration and whether it has an audio stream."""
    check_input(path)
    ffprobe = shutil.which("ffprobe") or "ffprobe"
    result = subprocess.run(
        [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", ffmpeg_url(path)],
        capture_output=True,
        text=True,
        **interrupt.CHILD,
    )
    interrupt.check()
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["unknown format"])[-1]
        raise InputError(f"input {path}: not a readable audio file ({_short(reason)}); pass an audio or video file")
    info = json.loads(result.stdout or "{}")
    audio = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if not audio:
        raise InputError(f"input {path}: has no audio stream; pass an audio file or a video with sound")
    return {"format": info.get("format", {}), "audio": audio[0], "streams": info.get("streams", [])}


def _short(message: str) -> str:
    message = message.split(": ", 1)[-1] if ": " in message else message
    return message[:120]


def declared_duration(info: dict) -> float | None:
    """The audio's length as the container declares it (the stream's, else the file's), in seconds."""
    for value in (info["audio"].get("duration"), info["format"].get("duration")):
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if seconds > 0:
            return seconds
    return None


def decode_to_file(path: Path, target: Path, rate: int = ANALYSIS_RATE) -> tuple[int, dict]:
    """Decode the first audio stream to raw float32 mono at ``rate`` into ``target``.

    Streams to disk so hours of audio never sit in memory. Returns the number of samples and
    ffprobe's description of the source stream (codec, rate, channels) plus ``declared_duration``.
    """
    require_ffmpeg()
    info = probe(path)
    command = [
        "ffmpeg", "-nostdin", "-v", "error", "-i", ffmpeg_url(path), "-map", "0:a:0", "-vn",
        "-ac", "1", "-ar", str(rate), "-c:a", "pcm_f32le", "-f", "f32le", "-y", ffmpeg_url(target),
    ]
    result = subprocess.run(command, capture_output=True, text=True, **interrupt.CHILD)
    interrupt.check()
    if result.returncode != 0:
        if "No space left on device" in result.stderr:
            raise OSError(errno.ENOSPC, f"no space left on the device of {target.parent}")
        reason = (result.stderr.strip().splitlines() or ["decoding failed"])[-1]
        raise InputError(f"input {path}: cannot be decoded ({_short(reason)}); the file may be corrupt")
    samples = target.stat().st_size // 4
    if samples == 0:
        raise InputError(f"input {path}: decodes to no audio (0 samples); the file may be corrupt or truncated")
    return samples, {**info["audio"], "declared_duration": declared_duration(info)}


def load_wav_like(path: Path, rate: int = ANALYSIS_RATE) -> np.ndarray:
    """Decode a (short) file fully into memory; for tests, analysis and the demo."""
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"vc-decode-{uuid.uuid4().hex}.f32"
    try:
        decode_to_file(path, scratch, rate)
        return np.fromfile(scratch, dtype="<f4")
    finally:
        scratch.unlink(missing_ok=True)


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    if source_rate == target_rate:
        return np.asarray(audio, dtype=np.float32)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(source_rate, target_rate)
    return resample_poly(np.asarray(audio, dtype=np.float32), target_rate // g, source_rate // g).astype(np.float32)


def output_format(path: Path) -> str:
    fmt = OUTPUT_FORMATS.get(path.suffix.lower()) or VIDEO_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise VoiceError(
            f"output {path}: unknown extension {path.suffix or '(none)'!r}; use one of "
            f"{', '.join([*OUTPUT_FORMATS, *VIDEO_FORMATS])}"
        )
    return fmt


def encode_command(rate: int, target: Path, fmt: str, mp3_kbps: int = 128, channels: int = 1) -> list[str]:
    """ffmpeg reading float32 (interleaved ``channels``) at ``rate`` from stdin, writing ``target`` as ``fmt``."""
    require_ffmpeg()
    # Opus at 64k is plenty for speech; music under the voice (the mix) in stereo gets more.
    wider = ["-b:a", "128k"] if fmt == "opus" and channels > 1 else []
    return ["ffmpeg", "-nostdin", "-v", "error", "-f", "f32le", "-ar", str(rate), "-ac", str(channels),
            "-i", "pipe:0", *_CODECS[fmt], *wider, *(["-b:a", f"{mp3_kbps}k"] if fmt == "mp3" else []),
            "-f", _CONTAINER.get(fmt, fmt), "-y", ffmpeg_url(target)]


_PART = ".part-"


def _part_prefix(destination: Path, tag_length: int) -> str:
    """'.<name>' cut on a character boundary so that a tag of ``tag_length`` bytes still fits a name."""
    room = NAME_MAX - tag_length - 1
    return "." + os.fsencode(destination.name)[:room].decode("utf-8", errors="ignore")


def part_name(destination: Path) -> Path:
    """The temporary name a file is written under before its rename: hidden, in the same folder, and
    within the 255-byte limit of a name however long the destination's is (the name is cut on a
    character boundary). It holds the writer's process id, so that a later run can tell a part left by
    a killed run from one that a live run is still writing (sweep_parts)."""
    tag = f"{_PART}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return destination.with_name(_part_prefix(destination, len(tag)) + tag)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sweep_parts(destination: Path) -> list[Path]:
    """Remove the temporary files of ``destination`` whose writer is gone (a run killed with -9 before its
    rename: nothing else removes them), and return them. A live writer's part is left alone."""
    import glob

    if not destination.parent.is_dir():
        return []
    shortest = _part_prefix(destination, NAME_MAX - 1 - len(os.fsencode(destination.name)))
    swept = []
    for path in destination.parent.glob(glob.escape(shortest[:16]) + f"*{_PART}*"):
        tag = path.name[path.name.rfind(_PART):]
        pid = tag[len(_PART):].partition("-")[0]
        mine = _part_prefix(destination, len(os.fsencode(tag))) + tag == path.name
        if mine and pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)
            swept.append(path)
    return swept


def write_atomic(source: Path, destination: Path) -> None:
    """Copy a finished file to its destination through a temporary name in the same folder. A failure
    (a full disk) leaves nothing behind and says so in one line."""
    tmp = part_name(destination)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, tmp)
        interrupt.check()  # an interrupted run writes no output
        os.replace(tmp, destination)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise VoiceError(f"output {destination}: cannot be written ({os_reason(exc)}); "
                         "free some space or choose another folder; nothing was written") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_output(path: Path) -> None:
    """Fail before any work when the output cannot be written."""
    output_format(path)
    check_writable_file(path, "output")


class PcmStream:
    """A file's first audio stream decoded by ffmpeg to float32 at ``rate`` with ``channels``, read a
    block of frames at a time (memory does not grow with length). soxr resamples: its passband reaches
    higher than ffmpeg's default, which matters for the music kept under a voice at 48 kHz."""

    def __init__(self, path: Path, rate: int, channels: int, log: Path) -> None:
        require_ffmpeg()
        self.path, self.channels, self.log = path, channels, log
        command = ["ffmpeg", "-nostdin", "-v", "error", "-i", ffmpeg_url(path), "-map", "0:a:0", "-vn",
                   "-af", f"aresample={rate}:resampler=soxr:precision=28", "-ac", str(channels),
                   "-c:a", "pcm_f32le", "-f", "f32le", "pipe:1"]
        with open(log, "wb") as errors:
            self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, **interrupt.CHILD)

    def read(self, frames: int) -> np.ndarray:
        """Up to ``frames`` frames as (frames, channels); fewer at the end, none after it."""
        data = interrupt.piped(self.proc.stdout).read(frames * self.channels * 4)
        return np.frombuffer(data, dtype="<f4").reshape(-1, self.channels)

    def close(self) -> None:
        """Wait for ffmpeg (what was not read is drained); a failure to decode is the input's problem."""
        while interrupt.piped(self.proc.stdout).read(1 << 20):
            pass
        interrupt.piped(self.proc.stdout).close()
        code = self.proc.wait()
        reason = self.log.read_text(errors="replace").strip().splitlines() if self.log.exists() else []
        self.log.unlink(missing_ok=True)
        if code != 0:
            raise InputError(f"input {self.path}: cannot be decoded ({_short((reason or ['failed'])[-1])}); "
                             "the file may be corrupt")

    def __enter__(self) -> "PcmStream":
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
            return
        self.proc.kill()  # the error on its way out says what went wrong, not ffmpeg's end
        interrupt.piped(self.proc.stdout).close()
        self.proc.wait()
        self.log.unlink(missing_ok=True)
