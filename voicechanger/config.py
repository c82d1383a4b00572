"""Quality profiles: YAML files (ruamel.yaml) validated into typed settings, with CLI overrides.

A profile is a built-in name (``fast``, ``normal``, ``high``: files in ``configs/``) or the path of
a user's YAML file. Keys a profile leaves out take the defaults of the typed settings below, which
mirror ``configs/normal.yaml``. Errors name the file, the key and the allowed values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from .errors import VoiceError
from .voices.catalogue import VoiceDef, voice_setting

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
BUILTIN_PROFILES = ("fast", "normal", "high")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WhisperSettings(_Strict):
    model: str = "base"
    language: str = "ru"
    beam_size: int = Field(1, ge=1, le=10)
    batch_size: int = Field(4, ge=0, le=64)
    compute_type: Literal["auto", "int8", "int8_float32", "float16", "float32", "int8_float16"] = "auto"
    max_seconds_per_audio_second: float = Field(2.0, gt=0)


class ProsodySettings(_Strict):
    mode: Literal["duration", "full"] = "full"
    fit_rate: bool = True
    max_squeeze: float = Field(2.0, ge=1.0, le=20.0)


class OutputSettings(_Strict):
    loudness_lufs: float = Field(-16.0, ge=-40, le=-5)
    peak_dbfs: float = Field(-1.0, ge=-20, le=0)
    crossfade_ms: float = Field(10.0, ge=0, le=200)
    mp3_kbps: int = Field(128, ge=32, le=320)
    # A video output also carries the input's own audio as a second track ("original").
    keep_original_audio: bool = False


class MixSettings(_Strict):
    """How the new voice meets the original's audio (the mix stage)."""

    mode: Literal["replace", "gaps", "voiceover"] = "replace"
    duck_db: float = Field(15.0, ge=0, le=60)        # voiceover: the original's level under the voice
    attack_ms: float = Field(200.0, ge=0, le=2000)    # voiceover: the duck's fall before a phrase
    release_ms: float = Field(400.0, ge=0, le=3000)   # voiceover: its rise after the phrase
    crossfade_ms: float = Field(30.0, ge=0, le=500)   # gaps: the original fades out/in at phrase edges
    # gaps, voiceover: the voice's loudness (LUFS); None: that of the original speech it replaces
    voice_lufs: float | None = Field(None, ge=-60, le=-5)


class SpeakerSettings(_Strict):
    """Who speaks each phrase (the speakers stage)."""

    count: Literal["auto"] | int = "auto"  # auto: found from the recording

    @field_validator("count", mode="before")
    @classmethod
    def _auto_or_a_number(cls, value: Any) -> Any:
        if value == "auto" or (type(value) is int and 1 <= value <= 12):
            return value
        raise ValueError("must be auto or a number of speakers from 1 to 12")


class Settings(_Strict):
    """Every knob of one conversion. Stages read only the fields they declare."""

    chunk_minutes: float = Field(2.0, gt=0, le=60)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    whisper: WhisperSettings = WhisperSettings()
    stress: bool = True
    # backend:name as typed; a catalogue voice or a voice file as its definition (voices.py), so that
    # its fields, not its name, key the synthesize stage
    voice: str | VoiceDef = "festival:msu_ru_nsh"
    # speaker label (or a script's name) -> voice, over ``voice`` (cast.py); also --voice "Speaker 1=olga"
    voices: dict[str, str | VoiceDef] = Field(default_factory=dict)
    speakers: SpeakerSettings = SpeakerSettings()
    prosody: ProsodySettings = ProsodySettings()
    output: OutputSettings = OutputSettings()
    mix: MixSettings = MixSettings()
    workers: int = Field(1, ge=1, le=64)
    runner: Literal["threads", "processes", "dask"] = "threads"
    dask_address: str = ""
    strict: bool = False  # a phrase the voice cannot say fails the recording (no stage reads it)
    subtitles: Literal["srt", "vtt", "none"] = "srt"
    # word or phrase -> how to say it; a profile or --lexicon names a YAML file (see lexicon.py)
    lexicon: dict[str, str] = Field(default_factory=dict)

    @property
    def voice_catalogue(self) -> list[str]:
        """The catalogue's voices (their specs) when ``voice`` is auto: the cast picks among them, so
        they key the synthesize stage; [] otherwise."""
        from .voices.catalogue import catalogue

        return [v.spec for v in catalogue().values()] if self.voice == "auto" else []

    def get(self, dotted: str) -> Any:
        """Value of a dotted field name such as ``whisper.model``."""
        value: Any = self
        for part in dotted.split("."):
            value = getattr(value, part)
        return value


def _profile_path(profile: str | Path) -> Path:
    text = str(profile)
    if text in BUILTIN_PROFILES:
        return CONFIG_DIR / f"{text}.yaml"
    path = Path(text).expanduser()
    if not path.is_file():
        raise VoiceError(
            f"profile {text!r}: no such file; use one of {', '.join(BUILTIN_PROFILES)} or the path of a YAML file"
        )
    return path


def _read_yaml(path: Path) -> dict[str, Any]:
    from ruamel.yaml import YAML, YAMLError

    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise VoiceError(f"profile {path}: cannot read it ({exc}); check the file") from None
    except YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise VoiceError(f"profile {path}: not valid YAML{line}; fix the syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise VoiceError(f"profile {path}: must be a mapping of keys to values, not {type(data).__name__}")
    return data


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _nest(overrides: dict[str, Any]) -> dict[str, Any]:
    """{"whisper.model": "small"} -> {"whisper": {"model": "small"}}; None values are dropped."""
    nested: dict[str, Any] = {}
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = nested
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def _describe(error: ErrorDetails) -> str:
    key = ".".join(str(p) for p in error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"key {key!r} is not a setting; remove it (see configs/normal.yaml for the keys)"
    if kind == "literal_error":
        allowed = error.get("ctx", {}).get("expected", "")
        return f"key {key!r} must be one of {allowed} (got {error.get('input')!r})"
    message = error["msg"].removeprefix("Value error, ")
    return f"key {key!r}: {message} (got {error.get('input')!r})"


def _lexicon(value: Any, profile: Path) -> dict[str, str]:
    """A profile's or the command line's ``lexicon``: a YAML file's path (relative to the working
    folder, else to the profile's folder) or an inline mapping."""
    from .text.lexicon import load_lexicon, parse_lexicon

    if isinstance(value, (str, Path)):
        path = Path(value).expanduser()
        if not path.is_absolute() and not path.exists() and (profile.parent / path).exists():
            path = profile.parent / path
        return load_lexicon(path)
    return parse_lexicon(value, str(profile))


def _voices(merged: dict[str, Any], profile: Path) -> None:
    """Resolve ``voice`` and ``voices`` in place; a ``voice`` that is a mapping ("Speaker 1=olga, ...")
    becomes ``voices`` over ``voice: auto``."""
    from .voices.cast import AUTO, parse_mapping, resolve_mapping

    mapping = parse_mapping(merged["voice"]) if isinstance(merged.get("voice"), str) else None
    if mapping is not None:
        merged["voice"] = AUTO
        merged["voices"] = {**(merged.get("voices") or {}), **mapping}
    if "voice" in merged:
        merged["voice"] = voice_setting(merged["voice"], profile)
    if merged.get("voices") is not None:
        merged["voices"] = resolve_mapping(merged["voices"], f"profile {profile}", profile)


def load_settings(profile: str | Path = "normal", overrides: dict[str, Any] | None = None) -> Settings:
    """Read a profile and apply dotted-key overrides (CLI flags). Raises VoiceError on any problem."""
    path = _profile_path(profile)
    data = _read_yaml(path)
    merged = _merge(data, _nest(overrides or {}))
    if "lexicon" in merged:
        merged["lexicon"] = _lexicon(merged["lexicon"], path)
    _voices(merged, path)
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        dotted = ".".join(str(p) for p in first["loc"])
        given = {k for k, v in (overrides or {}).items() if v is not None}
        source = "command line" if dotted in given else str(path)
        raise VoiceError(f"profile {source}: {_describe(first)}") from None
