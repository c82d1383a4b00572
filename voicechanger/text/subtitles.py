"""Subtitle files: SRT and WebVTT, read and written by one small module.

Reading is strict, because a script the user edited by hand drives the voice: a malformed block
raises ScriptError naming the file and the line, instead of dropping a cue silently. Writing gives
files that common players, editors and ffmpeg accept (SRT: numbered blocks, ``HH:MM:SS,mmm``; WebVTT:
the ``WEBVTT`` header, ``HH:MM:SS.mmm``, NOTE blocks for comments).

Speakers (issue 24). A cue may name who says it (``Cue.speaker``: "Speaker 1", or a name the user
typed, kept verbatim but for runs of whitespace, which both formats collapse to one space).
- WebVTT: a W3C voice span, ``<v Speaker 1>text`` ('&', '<', '>' in the name as character
  references), on every cue that has a speaker. Read back from the cue's first ``<v>`` span, also
  with classes (``<v.loud Olga>``) and a closing ``</v>``; a cue is one phrase, said by one speaker.
- SRT has no voice spans; by convention the first line starts with ``Speaker 1: ``. Decided per
  file, never per cue: a file is labelled when at least half of its cues start with a name-like
  prefix (1-3 words, at most 40 characters, starting with a letter, without sentence punctuation,
  quotes or a colon, then ': ') and some name starts two or more of them. Read back, only a labelled
  file's prefixes are speakers (then each such cue's, a name used once included: ``Olga: ``), so
  ordinary text that opens with a word and a colon ("Итак: начнём", "Он сказал: нет.") stays text.
  Written only when the file will read back so: two or more distinct speakers, labelled as above;
  a single voice gets plain SRT, byte for byte as before (and so does a dialogue of one cue per
  speaker: WebVTT carries it). A name that would not read back (punctuation, as in ``Dr. Who``, more
  than 3 words) is not written to SRT; WebVTT carries any name. In a labelled file, a speaker-less
  cue whose text opens with a name-like word and a colon reads as that speaker.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import VoiceError
from ..media.audio import part_name
from ..paths import read_user_text

FORMATS = ("srt", "vtt")


class ScriptError(VoiceError):
    """A subtitle or script file that cannot be used as it is."""

    exit_code = 2


@dataclass(frozen=True)
class Cue:
    start: float  # seconds
    end: float
    text: str
    line: int = 0  # where the cue starts in the file it was read from (1-based; 0 when made here)
    speaker: str | None = None  # who says it ("Speaker 1", a name the user typed); None: not known


def speaker_name(name: str | None) -> str | None:
    """A speaker's name as both formats carry it: whitespace runs as one space (a WebVTT parser
    collapses them in a voice annotation), and no name (None) for an empty one."""
    name = " ".join((name or "").split())
    return name or None


_TIME = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{3})$")
_TIMING = re.compile(r"^(\S+)\s+-->\s+(\S+)(?:\s+.*)?$")
_TAG = re.compile(r"<[^>]*>")
# A WebVTT voice span's start tag: 'v', optional classes, whitespace, then the annotation (the name).
_VOICE = re.compile(r"<v(?:\.[^\s.>]+)*(?:[ \t\f]+([^>]*))?>")
# An SRT speaker prefix: up to 3 words of a name (no sentence punctuation, quotes or colon), then ': '.
_NAME_CHARS = r"[^\s:.,!?;…\"'«»“”„()\[\]{}<>]"
_PREFIX = re.compile(rf"^([^\W\d_]{_NAME_CHARS}*(?: {_NAME_CHARS}+){{0,2}}): (?=\S)")
_NAME_MAX = 40


def format_time(seconds: float, sep: str) -> str:
    millis = max(0, int(round(seconds * 1000)))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{millis:03d}"


def _parse_time(text: str) -> float | None:
    m = _TIME.match(text.strip())
    if m is None:
        return None
    hours, minutes, seconds, millis = (int(g) if g else 0 for g in m.groups())
    if minutes > 59 or seconds > 59:
        return None
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def _srt_name(cue: Cue) -> str | None:
    """The cue's speaker as an SRT prefix can carry it: a name that reads back as one (else the voice
    would say it), None for another."""
    name = speaker_name(cue.speaker)
    return name if name is not None and _prefix(f"{name}: x") == name else None


def _labels(names: list[str | None]) -> bool:
    """Whether the name prefixes of a file's cues (None: none) make it a speaker-labelled file: at
    least half of the cues have one, and some name is on two or more of them (a dialogue's speakers
    come back; "Он сказал: нет." and "Цитата: «да»" in a short file are not speakers)."""
    named = [name for name in names if name]
    return 2 * len(named) >= len(names) and len(named) > len(set(named))


def labelled(cues: list[Cue]) -> bool:
    """Whether an SRT file of ``cues`` carries the ``Name: `` prefixes: two or more distinct speakers,
    and the cues' names read back as labels (_labels)."""
    names = [_srt_name(c) for c in cues]
    return len({name for name in names if name}) >= 2 and _labels(names)


def format_srt(cues: list[Cue]) -> str:
    prefix = labelled(cues)
    blocks = [
        f"{n}\n{format_time(c.start, ',')} --> {format_time(c.end, ',')}\n{_srt_text(c, prefix)}\n"
        for n, c in enumerate(cues, 1)
    ]
    return "\n".join(blocks)


def _srt_text(cue: Cue, prefix: bool) -> str:
    name = _srt_name(cue) if prefix else None
    text = _lines(cue.text)
    return f"{name}: {text}" if name else text


def _escape(text: str) -> str:
    """WebVTT cue text: '&', '<' and '>' as character references (a raw '<' starts a tag), and no
    blank line inside a cue (it would end it)."""
    return _lines(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def _lines(text: str) -> str:
    """A cue's text without blank lines (a blank line ends a cue in both formats)."""
    return "\n".join(line for line in text.split("\n") if line.strip())


def _voice(cue: Cue) -> str:
    """The voice span's start tag of a cue with a speaker ('' without one): the whole cue is the span,
    so its end tag may be left out."""
    name = speaker_name(cue.speaker)
    return f"<v {_escape(name)}>" if name else ""


def format_vtt(cues: list[Cue], note: str = "") -> str:
    head = "WEBVTT\n\n" + (f"NOTE\n{note.strip()}\n\n" if note.strip() else "")
    blocks = [f"{format_time(c.start, '.')} --> {format_time(c.end, '.')}\n{_voice(c)}{_escape(c.text)}\n"
              for c in cues]
    return head + "\n".join(blocks)


def format_of(path: Path) -> str:
    """'srt' or 'vtt' from the file name; anything else is an error naming the file."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ScriptError(f"subtitles {path}: unknown format {path.suffix or '(no extension)'!r}; use .srt or .vtt")
    return suffix


def write_cues(cues: list[Cue], path: Path, fmt: str | None = None, note: str = "") -> Path:
    """Write ``cues`` to ``path`` as SRT or WebVTT (by ``fmt``, else by the extension), atomically:
    the file appears whole or not at all. ``note`` goes into a WebVTT NOTE block (SRT has none)."""
    path = Path(path)
    fmt = fmt or format_of(path)
    text = format_vtt(cues, note) if fmt == "vtt" else format_srt(cues)
    tmp = part_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _blocks(lines: list[str], first: int) -> list[tuple[int, list[str]]]:
    """(1-based line number, lines) of each blank-line separated block, from line index ``first``."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(lines[first:], first + 1):
        if line.strip():
            if not current:
                start = number
            current.append(line.rstrip())
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks


def _timing(path: Path, number: int, line: str) -> tuple[float, float]:
    m = _TIMING.match(line.strip())
    start = _parse_time(m.group(1)) if m else None
    end = _parse_time(m.group(2)) if m else None
    if start is None or end is None:
        raise ScriptError(f"{path} line {number}: expected a timing line 'HH:MM:SS,mmm --> HH:MM:SS,mmm', "
                          f"got {line.strip()[:60]!r}; fix that line")
    if end <= start:
        raise ScriptError(f"{path} line {number}: the cue ends ({line.split('-->')[1].strip()}) before it starts; "
                          "fix its times")
    return start, end


def _parse_srt(path: Path, lines: list[str]) -> list[Cue]:
    cues = []
    for number, block in _blocks(lines, 0):
        if "-->" in block[0]:  # the index line is optional for many tools; accept its absence
            timing_at, text = 0, block[1:]
        elif len(block) >= 2 and block[0].strip().isdigit():
            timing_at, text = 1, block[2:]
        else:
            raise ScriptError(f"{path} line {number}: expected a cue number and a timing line, "
                              f"got {block[0].strip()[:60]!r}; fix that block")
        start, end = _timing(path, number + timing_at, block[timing_at])
        cues.append(Cue(start, end, "\n".join(text).strip(), number))
    return _srt_speakers(cues)


def _prefix(text: str) -> str | None:
    """The name of a cue text's speaker prefix ('Speaker 1: ...'), None when it has none."""
    m = _PREFIX.match(text)
    return m.group(1) if m is not None and len(m.group(1)) <= _NAME_MAX else None


def _srt_speakers(cues: list[Cue]) -> list[Cue]:
    """The cues with their ``Name: `` prefixes read as speakers when the file reads as labelled as a
    whole (_labels); else as they are: a cue opening with a word and a colon is ordinary text."""
    names = [_prefix(c.text) for c in cues]
    if not _labels(names):
        return cues
    return [c if name is None else replace(c, text=c.text[len(name) + 2 :].strip(), speaker=speaker_name(name))
            for c, name in zip(cues, names)]


def _parse_vtt(path: Path, lines: list[str]) -> list[Cue]:
    if not lines or not lines[0].lstrip("\ufeff").startswith("WEBVTT"):
        raise ScriptError(f"{path} line 1: a WebVTT file starts with 'WEBVTT'; add that line")
    cues = []
    for number, block in _blocks(lines, 1):
        head = block[0].strip()
        if head.startswith(("NOTE", "STYLE", "REGION")) and "-->" not in head:
            continue
        timing_at = 0 if "-->" in block[0] else 1  # an optional cue identifier comes first
        if timing_at >= len(block) or "-->" not in block[timing_at]:
            raise ScriptError(f"{path} line {number}: expected a timing line 'HH:MM:SS.mmm --> HH:MM:SS.mmm', "
                              f"got {head[:60]!r}; fix that block")
        start, end = _timing(path, number + timing_at, block[timing_at])
        raw = "\n".join(block[timing_at + 1 :])
        text = html.unescape(_TAG.sub("", raw))
        cues.append(Cue(start, end, text.strip(), number, _vtt_speaker(raw)))
    return cues


def _vtt_speaker(raw: str) -> str | None:
    """The name in a cue's first voice span (``<v Name>``, ``<v.class Name>``), None without one."""
    m = _VOICE.search(raw)
    return speaker_name(html.unescape(m.group(1) or "")) if m is not None else None


def read_cues(path: Path) -> list[Cue]:
    """The cues of an SRT or WebVTT file (by its extension, or by a WEBVTT header), in file order."""
    path = Path(path)
    content = read_user_text(path, "script", ScriptError)
    lines = content.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    is_vtt = path.suffix.lower() == ".vtt" or (lines and lines[0].startswith("WEBVTT"))
    return _parse_vtt(path, lines) if is_vtt else _parse_srt(path, lines)


def phrase_cues(phrases: list[dict], duration: float) -> list[Cue]:
    """One cue per phrase with words, at its time, as viewers read it (no stress marks): times rounded
    to the millisecond, increasing, without overlap, within [0, duration]; said by the phrase's
    "speaker" when it has one."""
    cues: list[Cue] = []
    previous_end = 0.0
    for phrase in phrases:
        text = " ".join(phrase["text"].replace("+", "").replace("\u0301", "").split())
        start = round(max(phrase["start"], previous_end, 0.0), 3)
        end = round(min(phrase["end"], duration), 3)
        if not text or end <= start:
            continue
        cues.append(Cue(start, end, text, speaker=speaker_name(phrase.get("speaker"))))
        previous_end = end
    return cues


def shifted(cues: list[Cue], seconds: float) -> list[Cue]:
    """The cues ``seconds`` later (onto a video's timeline, where the audio starts that late)."""
    return [replace(c, start=round(c.start + seconds, 3), end=round(c.end + seconds, 3)) for c in cues] if seconds \
        else cues
