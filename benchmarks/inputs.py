"""Benchmark inputs: real Russian speech (Debian asterisk-core-sounds-ru prompts, CC-BY-3.0, 8 kHz)
joined with natural pauses into mp3 files under benchmarks/work/ (git-ignored).

Deterministic: the prompt order is a seeded permutation of the sorted prompt names, each pause is drawn
uniformly from 0.4-1.5 s by a seeded generator and filled with very low noise (about -80 dBFS), and
ffmpeg writes the mp3 bit-exactly, so the same arguments always give the same bytes. A file that
already exists with the right sidecar is reused.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SOUNDS = Path("/usr/share/asterisk/sounds/ru")
WORK = Path(__file__).resolve().parent / "work"
RATE = 16000
PAUSE_S = (0.4, 1.5)
LEAD_S = 0.5
NOISE = 1e-4
FORMAT_VERSION = 2  # bump when the way inputs are made changes


@dataclass(frozen=True)
class Input:
    path: Path
    seconds: float
    prompts: int
    note: str


def prompt_names() -> list[str]:
    names = sorted(p.stem for p in SOUNDS.glob("*.wav"))
    if not names:
        raise SystemExit(f"no prompts in {SOUNDS}; install asterisk-core-sounds-ru-wav (make install)")
    return names


def _load(name: str) -> np.ndarray:
    import soundfile
    from scipy.signal import resample_poly

    audio, rate = soundfile.read(str(SOUNDS / f"{name}.wav"), dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if rate != RATE:
        g = np.gcd(rate, RATE)
        audio = resample_poly(audio, RATE // g, rate // g).astype(np.float32)
    return audio


def prompt_order(seconds: float, seed: int) -> list[str]:
    """Prompt names in a seeded order, cycling through fresh permutations, until ``seconds`` of speech
    plus average pauses are covered."""
    import soundfile

    names = prompt_names()
    rng = np.random.default_rng(seed)
    order: list[str] = []
    total = LEAD_S
    mean_pause = sum(PAUSE_S) / 2
    while total < seconds:
        for i in rng.permutation(len(names)):
            info = soundfile.info(str(SOUNDS / f"{names[i]}.wav"))
            order.append(names[i])
            total += info.frames / info.samplerate + mean_pause
            if total >= seconds:
                break
    return order


def _slice_by_duration(order: list[str], i: int, n: int) -> list[str]:
    """The i-th of n consecutive runs of ``order`` with about equal speech duration (cut between prompts)."""
    import soundfile

    lengths = [soundfile.info(str(SOUNDS / f"{name}.wav")).duration for name in order]
    total = sum(lengths)
    bounds, acc = [0], 0.0
    for k, length in enumerate(lengths):
        if len(bounds) < n and acc + length / 2 >= total * len(bounds) / n:
            bounds.append(k)
        acc += length
    bounds += [len(order)] * (n + 1 - len(bounds))
    return order[bounds[i]:bounds[i + 1]]


def render(order: list[str], pause_seed: int) -> np.ndarray:
    rng = np.random.default_rng(pause_seed)
    parts = [(rng.standard_normal(int(LEAD_S * RATE)) * NOISE).astype(np.float32)]
    cache: dict[str, np.ndarray] = {}
    for name in order:
        if name not in cache:
            cache[name] = _load(name)
        pause = rng.uniform(*PAUSE_S)
        parts += [cache[name], (rng.standard_normal(int(pause * RATE)) * NOISE).astype(np.float32)]
    return np.concatenate(parts)


def write_mp3(audio: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part.mp3")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "f32le", "-ar", str(RATE), "-ac", "1", "-i", "-",
         "-c:a", "libmp3lame", "-b:a", "64k", "-fflags", "+bitexact", "-flags:a", "+bitexact",
         "-map_metadata", "-1", str(tmp)],
        input=np.ascontiguousarray(audio, dtype="<f4").tobytes(), check=True,
    )
    tmp.replace(path)


def _build(path: Path, describe: dict, make) -> Input:
    sidecar = path.with_suffix(".json")
    if path.is_file() and sidecar.is_file():
        meta = json.loads(sidecar.read_text())
        if meta.get("describe") == describe:
            return Input(path, meta["seconds"], meta["prompts"], meta["note"])
    audio, prompts, note = make()
    write_mp3(audio, path)
    seconds = len(audio) / RATE
    sidecar.write_text(json.dumps({"describe": describe, "seconds": seconds, "prompts": prompts, "note": note},
                                  ensure_ascii=False, indent=1))
    return Input(path, seconds, prompts, note)


def speech(minutes: float, seed: int = 4, pause_seed: int | None = None, part: tuple[int, int] | None = None,
           name: str | None = None) -> Input:
    """About ``minutes`` of joined prompts. ``part=(i, n)``: only the i-th of n consecutive slices of the
    prompt list (for the folder case: the halves of the main input, as separate files)."""
    pause_seed = seed if pause_seed is None else pause_seed
    describe = {"v": FORMAT_VERSION, "minutes": minutes, "seed": seed, "pause_seed": pause_seed,
                "part": list(part) if part else None}
    name = name or f"speech-{minutes:g}m-s{seed}" + (f"-p{pause_seed}" if pause_seed != seed else "") + (
        f"-part{part[0] + 1}of{part[1]}" if part else "")

    def make():
        order = prompt_order(minutes * 60.0, seed)
        if part:
            order = _slice_by_duration(order, *part)
        note = f"{len(order)} asterisk prompts, seed {seed}, pauses 0.4-1.5 s (seed {pause_seed})"
        return render(order, pause_seed), len(order), note

    return _build(WORK / "inputs" / f"{name}.mp3", describe, make)


def long_speech(minutes: float, repeats: int = 6, seed: int = 4) -> Input:
    """The ``minutes`` input's prompt order said ``repeats`` times over, each time with other pauses."""
    describe = {"v": FORMAT_VERSION, "minutes": minutes, "seed": seed, "repeats": repeats}
    path = WORK / "inputs" / f"speech-{minutes:g}m-s{seed}-x{repeats}.mp3"

    def make():
        order = prompt_order(minutes * 60.0, seed)
        audio = np.concatenate([render(order, seed + 1000 * r) for r in range(repeats)])
        note = (f"the {minutes:g}-min input's {len(order)} prompts repeated {repeats}x, "
                f"each repeat with its own pauses")
        return audio, len(order) * repeats, note

    return _build(path, describe, make)
