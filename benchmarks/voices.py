"""Every catalogue voice on the studio set against the plain voice: round-trip WER, log-F0 r, DNSMOS
OVRL, the output's median F0 and how distinct each voice is from the others of its gender (issue 24's
acceptance for the voices). All of it is measured on the converted output, after the prosody stage.

    .venv/bin/python -m benchmarks.voices                     # plain + every catalogue voice
    .venv/bin/python -m benchmarks.voices --only olga,boris --work /tmp/v --json out.json

The studio set, the store (transcription is shared by all voices) and the referee's transcripts are
kept in --work (default benchmarks/work/voices). DNSMOS needs the test extras (speechmos, librosa).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

PLAIN = "festival:msu_ru_nsh"
COLUMNS = [("voice", "voice"), ("gender", "gender"), ("wer", "WER"), ("log_f0_r", "log-F0 r"),
           ("dnsmos_ovrl", "DNSMOS OVRL"), ("dnsmos_sig", "SIG"), ("median_f0", "median F0 Hz"),
           ("halves", "halves dist"), ("nearest", "nearest same-gender voice"), ("distinct", "distinct")]


def median_f0(audio: np.ndarray, rate: int) -> float:
    """Median F0 of the voiced frames (Praat, 75-500 Hz: either gender's range)."""
    from voicechanger.engines.praat import parselmouth

    pitch = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=rate).to_pitch(0.01, 75, 500)
    f0 = pitch.selected_array["frequency"]
    return float(np.median(f0[f0 > 0]))


def dnsmos(audio: np.ndarray, rate: int) -> tuple[float, float]:
    """(OVRL, SIG) of DNSMOS P.835 over the whole output (9 s windows, 1 s hop)."""
    from speechmos import dnsmos as model

    scores = model.run(np.clip(audio, -1, 1).astype(np.float32), sr=rate)
    return float(scores["ovrl_mos"]), float(scores["sig_mos"])


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(1.0 - np.dot(a, b))  # the embeddings are L2-normalised


def distinctness(rows: list[dict], outputs: list[np.ndarray], rate: int) -> None:
    """Adds to each row the Resemblyzer distance between the two halves of its own output (how far one
    voice is from itself) and its nearest voice of the same gender; distinct when that voice is further
    away than either voice's halves are from each other."""
    from voicechanger.engines.voice_encoder import embed

    whole = [embed(audio, rate) for audio in outputs]
    for row, audio in zip(rows, outputs):
        half = len(audio) // 2
        row["halves"] = round(cosine_distance(embed(audio[:half], rate), embed(audio[half:], rate)), 3)
    for k, row in enumerate(rows):
        others = [(cosine_distance(whole[k], whole[j]), j) for j, other in enumerate(rows)
                  if j != k and other["gender"] == row["gender"]]
        if not others:
            row["nearest"], row["distinct"] = "", ""
            continue
        distance, j = min(others)
        row["nearest"] = f"{rows[j]['voice']} {distance:.3f}"
        row["distinct"] = "yes" if distance > max(row["halves"], rows[j]["halves"]) else "NO"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work" / "voices")
    parser.add_argument("--only", default="", help="comma-separated voice names (plain: festival:msu_ru_nsh)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)

    import conditions
    from conftest import QUALITY_PROMPTS
    from roundtrip import Referee, measure

    from benchmarks.quality import markdown, report
    from speech import RATE, assemble, decode
    from voicechanger.config import load_settings
    from voicechanger.pipeline import convert
    from voicechanger.store import Store
    from voicechanger.voices.catalogue import catalogue

    voices = [n for n in args.only.split(",") if n] or [PLAIN, *catalogue()]
    args.work.mkdir(parents=True, exist_ok=True)
    condition = conditions.clean(assemble(QUALITY_PROMPTS, args.work / "clean.wav"))
    store, referee = Store(args.work / "store"), Referee(args.work / "referee.json")
    rows, outputs = [], []
    for name in voices:
        settings = load_settings("normal", {"voice": name})
        voice = settings.voice
        label = voice if isinstance(voice, str) else voice.name
        output = args.work / f"clean.{label.replace(':', '_')}.wav"
        result = convert(condition.path, output, settings, store)
        figures = measure(condition, result, store, referee)
        audio = decode(output)
        ovrl, sig = dnsmos(audio, RATE)
        gender = "male" if isinstance(voice, str) else voice.gender  # festival:msu_ru_nsh is a man's voice
        row = {"voice": label, "gender": gender, "wer": figures.wer, "log_f0_r": figures.log_f0_r,
               "dnsmos_ovrl": round(ovrl, 3), "dnsmos_sig": round(sig, 3), "median_f0": round(median_f0(audio, RATE))}
        rows.append(row)
        outputs.append(audio)
        print(json.dumps(row, ensure_ascii=False), flush=True)
    distinctness(rows, outputs, RATE)
    report(rows, markdown(rows, COLUMNS, ("voice", "gender")), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
