"""``voice voices --sample NAME out.wav``: a short sentence said in one voice, to hear it before a run."""

from __future__ import annotations

import tempfile
import wave
from pathlib import Path

import numpy as np

from ..errors import VoiceError

# Stress marked by hand (no model needed): a greeting, a statement and a question.
SAMPLE_TEXT = ("здр+авствуйте! эт+о м+ой г+олос. я прочит+аю в+аши з+аписи спок+ойно и разб+орчиво. "
               "вам нр+авится?")


def write_sample(voice_name: str, target: Path) -> Path:
    """Say SAMPLE_TEXT in the voice ``voice_name`` names and write it to ``target`` (16-bit WAV)."""
    from ..engines.tts import close_voices, get_voice
    from ..media.audio import write_atomic

    if target.suffix.lower() != ".wav":
        raise VoiceError(f"sample {target}: a sample is written as WAV; give a .wav file name")
    voice = get_voice(voice_name)
    try:
        audio = voice.synthesize(SAMPLE_TEXT.split()).audio
    finally:
        close_voices()
    pcm = (np.clip(np.asarray(audio, dtype=np.float64), -1.0, 1.0) * 32767).astype("<i2")
    with tempfile.TemporaryDirectory(prefix="vc-sample-") as folder:
        wav = Path(folder) / "sample.wav"
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(voice.sample_rate)
            w.writeframes(pcm.tobytes())
        write_atomic(wav, target)
    return target
