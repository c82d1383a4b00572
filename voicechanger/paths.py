"""Where models, the store and scratch files live by default."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def models_dir() -> Path:
    """$VOICECHANGER_MODELS, else ./models in a checkout, else ~/.cache/voicechanger/models."""
    env = os.environ.get("VOICECHANGER_MODELS")
    if env:
        return Path(env).expanduser()
    if (PROJECT_ROOT / "configs").is_dir():
        return PROJECT_ROOT / "models"
    return Path.home() / ".cache" / "voicechanger" / "models"


def default_cache_dir() -> Path:
    """$VOICECHANGER_CACHE, else ./cache (relative to where the command runs)."""
    return Path(os.environ.get("VOICECHANGER_CACHE", "cache")).expanduser()
