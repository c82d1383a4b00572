"""``voice convert --prefect``: hand a conversion to the runner registered as ``prefect``.

The runner lives in flows/ (flows/runner.py) and is found through voicechanger.runners, so the core
imports neither flows/ nor Prefect; the default CLI path never loads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import BUILTIN_PROFILES, Settings, load_settings
from .runners import load_runner


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def overrides_for(settings: Settings, profile: str | Path) -> dict[str, Any]:
    """The dotted settings in which ``settings`` differs from ``profile``: what the flow gets as overrides."""
    base = _flatten(load_settings(profile).model_dump())
    return {k: v for k, v in _flatten(settings.model_dump()).items() if base.get(k) != v}


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
