"""Named voices: a backend voice plus a transform (formants, register, rate, spectral tilt).

The catalogue ships with the package (voicechanger/voices/voices.yaml); a user's own voice is a YAML file
with the same fields (``--voice my-voice.yaml``, or a profile's ``voice:`` key)::

    name: vera
    title: Вера
    gender: female
    base: festival:msu_ru_nsh
    formant_ratio: 1.15     # >1 a shorter vocal tract (a woman's, a child's), <1 a longer one
    median_f0: 205          # the register: the voice's median pitch, Hz
    pitch_range: 1.1        # its pitch range, as a factor of the base voice's
    rate: 1.0               # speaking rate, as a factor (1.1 = 10 % faster)
    tilt_db: 0              # the top of the spectrum against the bottom: + brighter, - darker

A name or a file is resolved when the settings are read (``voice_setting``), into a ``VoiceDef``: its
fields, not its name, enter the synthesize stage's key, so editing a voice file re-synthesizes. This
module only reads and checks definitions; engines/tts/changed.py says them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import VoiceError
from ..paths import read_user_text

CATALOGUE = Path(__file__).resolve().parent / "voices.yaml"
# The transform's own version (engines/tts/changed.py): in every voice's spec, so that a change of how
# a voice is said re-synthesizes it rather than replaying the store. 2: our TD-PSOLA, not Change gender.
TRANSFORM_VERSION = 2
_FILE_SUFFIXES = (".yaml", ".yml")


class VoiceDef(BaseModel):
    """One named voice: a backend voice and what is done to its audio."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    title: str = ""                                       # how a person would call it: Ольга
    gender: Literal["female", "male"]
    base: str = Field(pattern=r"^[a-z]+:[\w.-]+$")          # a backend voice, backend:name
    formant_ratio: float = Field(1.0, ge=0.8, le=1.3)
    median_f0: float = Field(ge=60, le=350)
    pitch_range: float = Field(1.0, ge=0.5, le=2.0)
    rate: float = Field(1.0, ge=0.7, le=1.4)
    tilt_db: float = Field(0.0, ge=-12, le=12)
    description: str = ""

    @property
    def spec(self) -> str:
        """The voice's identity wherever a voice spec keys something (the per-phrase memos): every
        field that changes its audio, so two voices that sound different never share a memo."""
        return (f"{self.name}={self.base}|formants {self.formant_ratio:g}|f0 {self.median_f0:g}|"
                f"range {self.pitch_range:g}|rate {self.rate:g}|tilt {self.tilt_db:g}|transform {TRANSFORM_VERSION}")

    def __str__(self) -> str:  # what stable_key renders for the synthesize stage's key
        return self.spec


def is_backend_spec(text: str) -> bool:
    """``backend:name`` (festival:msu_ru_nsh), as opposed to a catalogue name or a voice file."""
    return ":" in text and not text.lower().endswith(_FILE_SUFFIXES)


def _error_line(source: str, exc: ValidationError) -> str:
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    fields = ", ".join(VoiceDef.model_fields)
    if first["type"] == "extra_forbidden":
        return f"{source}: key {key!r} is not a voice setting; use {fields}"
    if first["type"] == "missing":
        return f"{source}: key {key!r} is missing; add it (e.g. base: festival:msu_ru_nsh)"
    if first["type"] == "string_pattern_mismatch":  # only base has a pattern
        return (f"{source}: key {key!r} must name a backend voice, backend:name (festival:msu_ru_nsh), "
                f"not {first.get('input')!r}")
    return f"{source}: key {key!r}: {first['msg']} (got {first.get('input')!r}); fix it"


def parse_voice(data: Any, source: str, default_name: str) -> VoiceDef:
    """Validate one voice's mapping; errors are one line naming ``source`` and the key."""
    if not isinstance(data, dict):
        raise VoiceError(f"{source}: must be a mapping of voice settings (base, gender, median_f0, ...), "
                         f"not {type(data).__name__}")
    try:
        return VoiceDef.model_validate({"name": default_name, **data})
    except ValidationError as exc:
        raise VoiceError(_error_line(source, exc)) from None


def _load_yaml(text: str, source: str) -> Any:
    from ruamel.yaml import YAML, YAMLError

    try:
        return YAML(typ="safe").load(text)
    except YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise VoiceError(f"{source}: not valid YAML{line}; fix the syntax") from None


def load_voice_file(path: Path) -> VoiceDef:
    """A user's voice file (its name defaults to the file's stem)."""
    source = f"voice file {path}"
    return parse_voice(_load_yaml(read_user_text(path, "voice file"), source), source, path.stem)


@lru_cache(maxsize=1)
def catalogue() -> dict[str, VoiceDef]:
    """The voices shipped with the package, by name (the YAML's top-level keys)."""
    source = f"voice catalogue {CATALOGUE}"
    data = _load_yaml(CATALOGUE.read_text(encoding="utf-8"), source)
    return {name: parse_voice(entry, f"{source}: {name}", name) for name, entry in data.items()}


def _file_path(text: str, profile: Path | None) -> Path:
    """A voice file's path: as given (relative to the working folder), else next to the profile."""
    path = Path(text).expanduser()
    if not path.is_absolute() and not path.exists() and profile is not None and (profile.parent / path).exists():
        path = profile.parent / path
    return path.resolve()


def voice_setting(value: Any, profile: Path | None = None) -> Any:
    """A ``voice`` setting as the settings hold it: a backend spec as it is; a catalogue name (olga, or
    its title, Ольга), a voice file or an inline mapping as its VoiceDef. An unknown name stays a string: the voice check before
    any work (get_voice) names it and lists the voices."""
    if isinstance(value, dict):
        return parse_voice(value, f"the voice in {profile or 'the settings'}", "custom")
    if not isinstance(value, (str, Path)):
        return value
    text = str(value).strip()
    if is_backend_spec(text):
        return text
    if text.lower().endswith(_FILE_SUFFIXES) or Path(text).expanduser().is_file():
        return load_voice_file(_file_path(text, profile))
    wanted = text.casefold()
    return next((v for name, v in catalogue().items() if wanted in (name, v.title.casefold())), text)


__all__ = ["CATALOGUE", "VoiceDef", "catalogue", "is_backend_spec", "load_voice_file", "parse_voice", "voice_setting"]
