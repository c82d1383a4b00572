"""Where models, the store and scratch files live by default."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import VoiceError

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


def read_user_text(path: Path, what: str, error: type[VoiceError] = VoiceError) -> str:
    """A file the user names (a script, a lexicon) as UTF-8 text; a missing or unreadable one raises
    ``error`` with one line naming it (``what``: script, lexicon)."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise error(f"{what} {path}: no such file; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{what} {path}: cannot read it as UTF-8 text ({exc}); save it as UTF-8") from None
