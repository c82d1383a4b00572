"""A tiny stand-in for a Silero TTS model, exported with torch.package like the real files, so the real
loading code (torch.package.PackageImporter -> apply_tts) runs in tests without the real weights."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
import warnings
from pathlib import Path

FAKE_SOURCE = textwrap.dedent('''
    """A stand-in with Silero's apply_tts interface: a tone per character, slower for slower SSML rates."""
    import math
    import re

    import torch

    FACTORS = {"x-slow": 2.0, "slow": 4 / 3, "medium": 1.0, "fast": 0.8, "x-fast": 2 / 3}


    class FakeTTS(torch.nn.Module):
        speakers = ["aidar", "baya", "kseniya", "xenia", "eugene", "random"]

        def __init__(self):
            super().__init__()
            self.base = torch.nn.Parameter(torch.tensor(200.0), requires_grad=False)
            self.calls = []

        def apply_tts(self, text=None, ssml_text=None, speaker="xenia", sample_rate=48000,
                      put_accent=True, put_yo=True):
            if speaker not in self.speakers:
                raise ValueError(f"no speaker {speaker}")
            rate = "medium"
            if ssml_text is not None:
                m = re.search(r'rate="([^"]+)"', ssml_text)
                rate = m.group(1) if m else "medium"
                text = re.sub(r"<[^>]+>", "", ssml_text)
            if len(text) > 1000:
                raise ValueError("Too long text")
            self.calls.append({"text": text, "ssml_text": ssml_text, "speaker": speaker,
                               "sample_rate": sample_rate, "put_accent": put_accent, "put_yo": put_yo})
            per_char = int(0.05 * FACTORS[rate] * sample_rate)
            codes = torch.tensor([ord(ch) % 20 for ch in text.replace("+", "")], dtype=torch.float32)
            f = (self.base + 10 * codes).repeat_interleave(per_char)
            t = torch.arange(len(f)) / sample_rate
            return 0.3 * torch.sin(2 * math.pi * f * t)
''')



def build_fake_silero(models_dir: Path, scratch: Path) -> Path:
    """Write models_dir/silero/v4_ru.pt holding FakeTTS under ("tts_models", "model")."""
    import torch

    source = scratch / "fake_silero_tts.py"
    source.write_text(FAKE_SOURCE)
    # torch.package finds the module by name and reads its source from __file__: registering it in
    # sys.modules for the export is enough (sys.path stays as it is).
    spec = importlib.util.spec_from_file_location("fake_silero_tts", source)
    fake_silero_tts = importlib.util.module_from_spec(spec)
    sys.modules["fake_silero_tts"] = fake_silero_tts
    try:
        spec.loader.exec_module(fake_silero_tts)
        path = models_dir / "silero" / "v4_ru.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings(), torch.package.PackageExporter(str(path)) as exporter:
            warnings.simplefilter("ignore", UserWarning)   # torch's own TypedStorage deprecation notice
            exporter.intern("fake_silero_tts")
            exporter.extern(["torch", "torch.**"])
            exporter.save_pickle("tts_models", "model", fake_silero_tts.FakeTTS())
    finally:
        sys.modules.pop("fake_silero_tts", None)   # the voice must load it from the package, not from here
    return path
