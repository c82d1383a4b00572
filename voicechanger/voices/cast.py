"""Which voice says which speaker: the cast.

``voice: auto`` (the default) gives each speaker the speakers stage found a catalogue voice of their
gender, the one nearest their register, and never the same voice to two speakers while the catalogue
has another of that gender. A ``voices:`` mapping (or ``--voice "Speaker 1=olga,Speaker 2=pavel"``)
names the voice of some or all speakers; a name the user typed in a script (``<v Olga>``) can be
mapped too. Any single voice (``--voice olga``) says every phrase (the speakers are still found: the
subtitles name them, and each speaker's pitch is mapped from their own register).

The cast is a function of the speakers artifact and the settings only, so it is the same in every
chunk of a recording and on every rerun.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Union

from ..errors import VoiceError
from .catalogue import VoiceDef, catalogue, voice_setting

AUTO = "auto"
VoiceSpec = Union[str, VoiceDef]


def parse_mapping(text: str, source: str = "--voice") -> dict[str, str] | None:
    """``"Speaker 1=olga, Speaker 2=pavel"`` as {speaker: voice}; None for a text that is no mapping."""
    if "=" not in text:
        return None
    mapping: dict[str, str] = {}
    for part in text.split(","):
        speaker, sep, voice = (s.strip() for s in part.partition("="))
        if not sep or not speaker or not voice:
            raise VoiceError(f"{source} {text!r}: {part.strip()!r} is not SPEAKER=VOICE; write e.g. "
                             "\"Speaker 1=olga,Speaker 2=pavel\"")
        if speaker in mapping:
            raise VoiceError(f"{source} {text!r}: {speaker!r} is given two voices; give each speaker one")
        mapping[speaker] = voice
    return mapping


def resolve_mapping(mapping: Any, source: str, profile: Any = None) -> dict[str, VoiceSpec]:
    """A ``voices:`` mapping with each voice resolved as a ``voice:`` value is (catalogue, file, backend)."""
    if not isinstance(mapping, Mapping):
        raise VoiceError(f"{source}: voices must map speakers to voices (Speaker 1: olga), "
                         f"not {type(mapping).__name__}")
    return {str(k).strip(): voice_setting(v, profile) for k, v in mapping.items()}


def _f0(voice: VoiceSpec) -> float:
    return voice.median_f0 if isinstance(voice, VoiceDef) else 130.0


def _gender(voice: VoiceSpec) -> str:
    return voice.gender if isinstance(voice, VoiceDef) else "male"  # Festival's msu_ru_nsh is a man


def _nearest(speaker: Mapping[str, Any], used: Sequence[VoiceSpec]) -> VoiceDef:
    """The catalogue voice of the speaker's gender nearest their register, preferring voices not yet
    used (and then the least used)."""
    mine = [v for v in catalogue().values() if v.gender == speaker.get("gender")] or list(catalogue().values())
    target = max(float(speaker.get("median_f0") or 0.0), 1.0)
    return min(mine, key=lambda v: (used.count(v), abs(math.log(v.median_f0 / target)), v.name))


def cast_voices(speakers: Sequence[Mapping[str, Any]], voice: VoiceSpec, voices: Mapping[str, VoiceSpec],
                names: Sequence[str] = ()) -> dict[str, VoiceSpec]:
    """{speaker label: voice} for every detected speaker and every name in ``names`` (a script's).
    A mapped speaker gets their voice; with ``voice: auto`` the others get catalogue voices (_nearest),
    otherwise the single ``voice``. A mapping to a speaker that is neither detected nor named is an error."""
    labels = [s["label"] for s in speakers]
    known = set(labels) | set(names)
    strangers = [k for k in voices if k not in known]
    if strangers:
        found = ", ".join(sorted(known)) or "none"
        raise VoiceError(f"voice mapping: {', '.join(repr(s) for s in strangers)} is not a speaker of this "
                         f"recording (found: {found}); map those, e.g. --voice \"{labels[0] if labels else 'Speaker 1'}=olga\"")
    cast: dict[str, VoiceSpec] = {k: v for k, v in voices.items()}
    for speaker in speakers:
        label = speaker["label"]
        if label in cast:
            continue
        cast[label] = _nearest(speaker, list(cast.values())) if voice == AUTO else voice
    return cast


def register_of(voice: VoiceSpec) -> tuple[str, float]:
    """(gender, median F0 in Hz) the voice speaks at, for summaries."""
    return _gender(voice), _f0(voice)


def voice_name(voice: VoiceSpec) -> str:
    return voice.name if isinstance(voice, VoiceDef) else str(voice)




def speaker_at(turns: Sequence[Sequence[Any]], start: float, end: float) -> str | None:
    """The speaker holding most of [start, end] in the speakers stage's turns ([start, end, label]);
    the nearest turn's speaker when none overlaps; None without turns."""
    held: dict[str, float] = {}
    for t0, t1, label in turns:
        overlap = min(end, t1) - max(start, t0)
        if overlap > 0:
            held[label] = held.get(label, 0.0) + overlap
    if held:
        return max(held, key=lambda k: (held[k], k))
    if not turns:
        return None
    middle = (start + end) / 2
    return min(turns, key=lambda t: min(abs(t[0] - middle), abs(t[1] - middle)))[2]


__all__ = ["AUTO", "cast_voices", "parse_mapping", "register_of", "resolve_mapping", "speaker_at", "voice_name"]
