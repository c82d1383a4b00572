"""``voice convert --prefect``: hand a conversion to the runner registered as ``prefect``.

The runner lives in flows/ (flows/runner.py) and is found through voicechanger.runners, so the core
imports neither flows/ nor Prefect; the default CLI path never loads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import BUILTIN_PROFILES, Settings, load_settings
from .registry import load_runner


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def overrides_for(settings: Settings, profile: str | Path) -> dict[str, Any]:
    """The dotted settings in which ``settings`` differs from ``profile``: what the flow gets as overrides.
    A named voice goes whole (its every field), never field by field: the profile may name its voice as
    a string, which a part of a voice's fields would replace."""
    profile_settings = load_settings(profile)
    base = _flatten(profile_settings.model_dump(exclude={"voice"}))
    flat = {k: v for k, v in _flatten(settings.model_dump(exclude={"voice"})).items() if base.get(k) != v}
    if settings.voice != profile_settings.voice:
        voice = settings.voice
        flat["voice"] = voice if isinstance(voice, str) else voice.model_dump()
    return flat


def run_prefect(input: Path | str, output: Path | str, *, profile: str | Path, settings: Settings,
                cache_dir: Path | str, output_format: str = "mp3", script: Path | str | None = None) -> int:
    """Run the conversion through the ``prefect`` runner; return its exit code. A profile file is passed
    as an absolute path: the flow may resolve it from another folder."""
    name = str(profile)
    if name not in BUILTIN_PROFILES and Path(name).is_file():
        name = str(Path(name).resolve())
    runner = load_runner("prefect")
    return runner.run(input, output, profile=name, settings=settings, cache_dir=cache_dir,
                      output_format=output_format, script=script)
