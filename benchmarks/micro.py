"""Engine-level speed figures that used to be assertions inside functional tests (issue 15):

    python -m benchmarks.micro [--strict]

    festival   50 phrases on one warm Festival process against a text2wave process per phrase
               (target: a warm call costs less than a text2wave call; measured ~10x less)
    silero     how long get_voice("silero:...") takes to fail when the model file is missing and no
               hub is reachable (target: under 15 s; it must not hang on a download)
    prosody    Praat PSOLA transfer in full mode on six asterisk prompts, seconds per audio second
               (target: under 0.5; ~0.03-0.04 measured)

The pipeline-level figures (cold, warm rerun, warm/cold ratio, voice change) are in benchmarks.run.
Needs festival + festvox-ru and asterisk-core-sounds-ru(-wav); prints one line per figure and exits 1
with --strict when a target fails.
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SOUNDS = Path("/usr/share/asterisk/sounds/ru")
TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-ru/core-sounds-ru.txt.gz")
PROSODY_PROMPTS = ["agent-newlocation", "all-circuits-busy-now", "auth-incorrect", "cannot-complete-as-dialed",
                   "conf-leaderhasleft", "conf-waitforleader"]
PHRASE = ["сег+одня", "х+орошая", "пог+ода,", "пойдём", "гул+ять."]
FESTIVAL_VOICE = "(voice_msu_ru_nsh_clunits)"


def festival_calls(scratch: Path) -> dict[str, Any]:
    from voicechanger.engines.tts import get_voice

    voice = get_voice("festival:msu_ru_nsh")
    voice.synthesize(PHRASE)                      # warm: the process is started and the voice loaded
    audio_s, started = 0.0, time.perf_counter()
    for i in range(50):
        s = voice.synthesize(PHRASE if i % 2 else ["прив+ет", "м+ир!"])
        audio_s += len(s.audio) / s.sample_rate
    warm = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(2):
        subprocess.run(["text2wave", "-eval", FESTIVAL_VOICE, "-o", str(scratch / f"{i}.wav")],
                       input=" ".join(PHRASE).encode(), check=True, capture_output=True, timeout=60)
    cold = (time.perf_counter() - started) / 2
    return {"figure": "festival: warm call / text2wave call", "value": (warm / 50) / cold, "limit": 1.0,
            "detail": f"50 warm calls {warm:.2f} s ({audio_s / warm:.0f}x real time), text2wave {cold:.2f} s a call"}


def silero_missing(scratch: Path) -> dict[str, Any]:
    from voicechanger.engines.tts import get_voice
    from voicechanger.errors import VoiceError

    started = time.perf_counter()
    try:
        get_voice("silero:xenia", models_dir=scratch / "models")
    except VoiceError:
        pass
    seconds = time.perf_counter() - started
    return {"figure": "silero: missing model fails in (s)", "value": seconds, "limit": 15.0, "detail": "offline"}


def prosody_speed(scratch: Path) -> dict[str, Any]:
    from voicechanger.engines.prosody import transfer
    from voicechanger.engines.tts import get_voice
    from voicechanger.media.audio import load_wav_like

    with gzip.open(TRANSCRIPTS, "rt", encoding="utf-8") as handle:
        texts = {k.strip(): v.strip() for k, sep, v in (line.partition(":") for line in handle) if sep}
    voice = get_voice("festival:msu_ru_nsh")
    spent = audio = 0.0
    for name in PROSODY_PROMPTS:
        source = load_wav_like(SOUNDS / f"{name}.wav", 16000)
        synth = voice.synthesize(texts[name].lower().split())
        started = time.perf_counter()
        transfer(synth.audio, synth.sample_rate, source, 16000, [], mode="full")
        spent += time.perf_counter() - started
        audio += len(source) / 16000
    return {"figure": "prosody full: s per audio second", "value": spent / audio, "limit": 0.5,
            "detail": f"{len(PROSODY_PROMPTS)} prompts, {audio:.1f} s of audio"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for measure in (festival_calls, silero_missing, prosody_speed):
            got = measure(Path(tmp))
            ok = got["value"] < got["limit"]
            failed |= not ok
            print(f"{got['figure']:40s} {got['value']:8.3f}  (< {got['limit']:g})  {'PASS' if ok else 'FAIL'}  "
                  f"{got['detail']}")
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
