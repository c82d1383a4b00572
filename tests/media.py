"""Real media for the video tests, made by ffmpeg: the demo recording under a generated picture, with a
music-like background, and what the tests measure in the results (streams, packets, levels)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speech import ROOT, decode, prompt

RATE = 48000
DEMO = ROOT / "examples" / "demo-ru.mp3"
# Above the voice's band (it is synthesised at 16 kHz, so nothing of it lies over 8 kHz): how loud the
# original is under the new voice can be read there without the voice in the way.
SHIMMER_HZ = (10500.0, 12000.0)
CHORDS = [(220.0, 261.63, 329.63), (174.61, 220.0, 261.63), (196.0, 246.94, 293.66), (164.81, 207.65, 246.94)]


@dataclass(frozen=True)
class Video:
    path: Path
    speech: np.ndarray  # mono, RATE
    background: np.ndarray  # (frames, 2), RATE
    shimmer: np.ndarray  # (frames, 2): the part of the background above 9 kHz


def background(frames: int, rate: int = RATE) -> tuple[np.ndarray, np.ndarray]:
    """Stereo chords that change every 2 s (with a few harmonics), and a quiet high shimmer."""
    t = np.arange(frames) / rate
    music = np.zeros((frames, 2))
    for index, chord in enumerate(CHORDS * (1 + frames // (len(CHORDS) * 2 * rate))):
        lo, hi = index * 2 * rate, min(frames, (index + 1) * 2 * rate)
        if lo >= frames:
            break
        part = t[lo:hi]
        for k, f in enumerate(chord):
            for harmonic, weight in ((1, 1.0), (2, 0.4), (3, 0.2)):
                tone = weight * np.sin(2 * np.pi * f * harmonic * part + k)
                music[lo:hi, 0] += tone * (1.0 if k != 2 else 0.6)
                music[lo:hi, 1] += tone * (1.0 if k != 0 else 0.6)
    music *= 0.012
    shimmer = np.stack([0.02 * np.sin(2 * np.pi * SHIMMER_HZ[0] * t), 0.02 * np.sin(2 * np.pi * SHIMMER_HZ[1] * t)], 1)
    return music + shimmer, shimmer


def make_video(folder: Path, *, container: str = "mp4", with_audio: bool = True, seconds: float | None = None,
               speech: bool = True, said: np.ndarray | None = None, gain_db: float = 0.0,
               audio_start: float = 0.0, video_start: float = 0.0) -> Video:
    """The demo recording (or ``said``, mono at RATE; with ``speech=False``, nothing) with the background
    under it, all ``gain_db`` louder, a 25 fps testsrc picture, chapters and a title. ``audio_start``,
    ``video_start``: that stream starts so many seconds after the file does."""
    said = decode(DEMO, RATE) if said is None else said
    if seconds is not None:
        said = said[: int(seconds * RATE)]
    scale = 10 ** (gain_db / 20)
    speech = said * scale if speech else np.zeros_like(said)
    bed, shimmer = (part * scale for part in background(len(speech)))
    mixed = bed + speech[:, None]
    wav = folder / "original.wav"
    import soundfile

    soundfile.write(str(wav), mixed.astype(np.float32), RATE, subtype="FLOAT")
    meta = folder / "chapters.txt"
    half = int(len(speech) / RATE * 500)
    meta.write_text(";FFMETADATA1\ntitle=demo video\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND={h}\ntitle=first\n"
                    "[CHAPTER]\nTIMEBASE=1/1000\nSTART={h}\nEND={e}\ntitle=second\n".format(h=half, e=2 * half),
                    encoding="utf-8")
    path = folder / f"input.{container}"
    video = ["-c:v", "libvpx", "-deadline", "realtime", "-b:v", "300k"] if container == "webm" else \
        ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    audio = ["-map", "1:a", "-c:a", "libopus" if container == "webm" else "aac", "-b:a", "256k"] if with_audio else []
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", *(["-itsoffset", f"{video_start}"] if video_start else []), "-f", "lavfi",
         "-i", f"testsrc=size=320x240:rate=25:duration={len(speech) / RATE + audio_start}",
         *(["-itsoffset", f"{audio_start}"] if audio_start else []), "-i", str(wav), "-i", str(meta), "-map", "0:v", *audio, "-map_metadata", "2", "-map_chapters", "2",
         *video, *([] if audio_start or video_start else ["-shortest"]), "-y", str(path)],
        check=True, capture_output=True,
    )
    return Video(path, speech, bed, shimmer)


def streams(path: Path) -> dict:
    result = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                             "-show_chapters", str(path)], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def video_md5(path: Path) -> str:
    """The md5 of the video stream's packets as they are (no decoding)."""
    result = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy",
                             "-f", "md5", "-"], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def audio_track(path: Path, index: int = 0, rate: int = RATE) -> np.ndarray:
    """One audio track decoded to (frames, 2) float32 at ``rate``."""
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", f"0:a:{index}", "-ac", "2",
                          "-ar", str(rate), "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<f4").reshape(-1, 2).copy()


def band_level_db(audio: np.ndarray, low_hz: float, high_hz: float, rate: int = RATE) -> float:
    """Mean power of the part of ``audio`` (mono) between two frequencies, in dB (Parseval, Hann window)."""
    window = np.hanning(len(audio))
    spectrum = np.fft.rfft(audio * window)
    freqs = np.fft.rfftfreq(len(audio), 1 / rate)
    band = (freqs >= low_hz) & (freqs <= high_hz)
    power = 2 * np.sum(np.abs(spectrum[band]) ** 2) / (len(audio) * np.sum(window**2))
    return float(10 * np.log10(power + 1e-30))


def runs(mask: np.ndarray, hop_s: float) -> list[tuple[float, float]]:
    """(start, end) in seconds of the runs of True frames in ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return [(a * hop_s, b * hop_s) for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))]


def voice_regions(replace_audio: np.ndarray, rate: int = RATE, hop_s: float = 0.01) -> np.ndarray:
    """Per 10 ms frame: whether the voice sounds there, read from a replace-mode output (the voice on
    silence), so the gaps are found without the code under test."""
    hop = int(rate * hop_s)
    mono = replace_audio.mean(axis=1) if replace_audio.ndim == 2 else replace_audio
    frames = len(mono) // hop
    power = np.mean(mono[: frames * hop].reshape(frames, hop) ** 2, axis=1)
    return 10 * np.log10(power + 1e-20) > -60.0


def trimmed(name: str, rate: int = RATE, floor_db: float = -45.0) -> np.ndarray:
    """A prompt at ``rate`` without the silence around its speech (10 ms frames ``floor_db`` under its
    loudest frame), so that the pauses placed between prompts are the pauses heard."""
    audio = decode(prompt(name), rate)
    hop = rate // 100
    frames = len(audio) // hop
    level = 10 * np.log10(np.mean(audio[: frames * hop].reshape(frames, hop) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(level > level.max() + floor_db)
    return audio[loud[0] * hop : (loud[-1] + 1) * hop]


def spaced(names: list[str], pauses: list[float], lead_s: float = 1.0,
           rate: int = RATE) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Trimmed prompts with the given pauses between them (and ``lead_s`` of silence around): the
    speech, and each prompt's (start, end) in seconds."""
    parts, spans, position = [np.zeros(int(lead_s * rate), dtype=np.float32)], [], lead_s
    for index, name in enumerate(names):
        audio = trimmed(name, rate)
        spans.append((position, position + len(audio) / rate))
        pause = pauses[index] if index < len(pauses) else lead_s
        parts += [audio, np.zeros(int(round(pause * rate)), dtype=np.float32)]
        position += len(audio) / rate + len(parts[-1]) / rate
    return np.concatenate(parts), spans


def as_ffmpeg_reads_it(subtitles: Path, folder: Path) -> str:
    """The subtitle file converted by ffmpeg to ASS (a player's reading of it); fails on any complaint."""
    converted = folder / f"{subtitles.stem}.ass"
    done = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(subtitles), str(converted)],
                          capture_output=True, text=True)
    assert done.returncode == 0 and not done.stderr, done.stderr
    return converted.read_text(encoding="utf-8")
