"""What a successful run must still tell the user: a truncated input file, speech that a time limit
left out or that no phrase says, repetitions the recogniser invented, no speech at all, a voice
rushed to keep up with the speaker. Read from the artifacts' metadata, so a cached rerun says it too."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .stages import STAGES, contracts
from .stages.contracts import DecodeMeta, ProsodyMeta, TranscribeMeta
from .stages.prosody import RUSHED
from .store import Store

if TYPE_CHECKING:  # for types only: plan.py and config.py need not load with the notices
    from .config import Settings
    from .plan import Plan

# Decoded audio this much shorter than the container declares means a cut file (mp3 frames rounding,
# encoder padding and players' estimates stay well inside it).
SHORTFALL_S = 0.5
SHORTFALL_SHARE = 0.01
UNSAID_SHOWN = 10


@dataclass(frozen=True)
class Notice:
    """One thing a finished run tells the user, made here and shown as it is by every front end (the
    CLI prints ``warning: TEXT``, the flow logs it and lists it in its artifacts). ``code`` names the
    kind for programs; ``ranges`` are the input's seconds it is about, where it has any."""

    code: str
    text: str
    severity: str = "warning"
    ranges: tuple[tuple[float, float], ...] = ()

    def __str__(self) -> str:
        return self.text

    def __contains__(self, part: str) -> bool:  # `"truncated" in notice`, as of the text it shows
        return part in self.text

    def as_dict(self) -> dict[str, Any]:
        return {"severity": self.severity, "code": self.code, "text": self.text, "ranges": [list(r) for r in self.ranges]}


def truncated_input(input_path: Path, decode_meta: DecodeMeta) -> Notice | None:
    declared = decode_meta["source"].get("declared_duration")
    decoded = decode_meta["duration"]
    if not declared or declared - decoded <= max(SHORTFALL_S, SHORTFALL_SHARE * declared):
        return None
    return Notice("truncated", f"input {input_path}: only {decoded:.1f} s of the {declared:.1f} s its container "
                  "declares could be decoded; the file looks truncated, and the output covers what decoded",
                  ranges=((decoded, declared),))


def skipped_speech(input_path: Path, transcribe_meta: TranscribeMeta, rate: int) -> Notice | None:
    if not transcribe_meta.get("truncated"):
        return None
    first, last = transcribe_meta["span"]
    start = transcribe_meta.get("skipped_from") or first / rate
    return Notice("skipped-speech", f"input {input_path}: transcription of chunk {transcribe_meta['index'] + 1} "
                  f"stopped at its time limit; the speech from {start:.1f} s to {last / rate:.1f} s is not re-voiced "
                  "(raise whisper.max_seconds_per_audio_second, or use a faster profile or device)",
                  ranges=((round(start, 2), round(last / rate, 2)),))


def _ranges(spans: list[list[float]], shown: int = 6) -> str:
    text = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in spans[:shown])
    return text + (f" and {len(spans) - shown} more" if len(spans) > shown else "")


def speech_covered(transcribe_metas: list[TranscribeMeta]) -> float | None:
    """The share of the input's speech (Silero VAD) that the phrases' words cover; None when the
    transcriptions predate the measure or there is no speech."""
    found = [meta["coverage"] for meta in transcribe_metas if "coverage" in meta]
    speech = sum(c["speech"] for c in found)
    if len(found) < len(transcribe_metas) or speech <= 0:
        return None
    return min(1.0, sum(c["covered"] for c in found) / speech)


def percent(share: float | None) -> str:
    """A share as '97%' ('' when not measured)."""
    return "" if share is None else f"{share:.0%}"


def covered_text(share: float | None) -> str:
    """'speech covered 97%; ' for a run's summary line ('' when not measured)."""
    return "" if share is None else f"speech covered {percent(share)}; "


def uncovered_speech(input_path: Path, transcribe_metas: list[TranscribeMeta]) -> Notice | None:
    """Where the input has speech that no phrase says, after a second decoding heard nothing there."""
    spans = [span for meta in transcribe_metas for span in meta.get("coverage", {}).get("uncovered", [])]
    if not spans:
        return None
    share = speech_covered(transcribe_metas)
    return Notice("uncovered-speech", f"input {input_path}: {covered_text(share)}no phrase says the speech at "
                  f"{_ranges(spans)} (the recogniser heard no words there, twice); listen to it, and say it with "
                  "--script if it is speech", ranges=tuple((float(a), float(b)) for a, b in spans))


def loops_cut(input_path: Path, transcribe_metas: list[TranscribeMeta]) -> Notice | None:
    """The repetitions the recogniser wrote that the audio does not hold, which the voice says once."""
    loops = [loop for meta in transcribe_metas for loop in meta.get("loops", [])]
    if not loops:
        return None
    shown = "; ".join(f"at {loop['start']:.1f} s {loop['text']!r} x{loop['copies']}" for loop in loops[:4])
    more = f" and {len(loops) - 4} more" if len(loops) > 4 else ""
    return Notice("loops-cut", f"input {input_path}: the recogniser repeated {len(loops)} phrase(s) more often than "
                  f"the audio holds ({shown}{more}); the voice says each once",
                  ranges=tuple((float(loop["start"]), float(loop.get("end", loop["start"]))) for loop in loops))


def no_speech(input_path: Path, output_path: Path, duration: float, mix_mode: str = "replace") -> Notice:
    if mix_mode != "replace":  # gaps and voiceover keep the original wherever nobody speaks
        return Notice("no-speech", f"input {input_path}: no speech found; {output_path} is the original audio "
                      f"({duration:.1f} s)")
    return Notice("no-speech", f"input {input_path}: no speech found; {output_path} is {duration:.1f} s of silence, "
                  "as long as the input, so that it stays in sync")


def rushed_voice(input_path: Path, prosody_metas: list[ProsodyMeta]) -> Notice | None:
    """How many phrases the voice had to say much faster than its own pace (the prosody stage's
    ``squeeze`` meta: phrases beyond its RUSHED ratio, and the worst ratio)."""
    summaries = [meta["squeeze"] for meta in prosody_metas if "squeeze" in meta]
    rushed = sum(int(s["rushed"]) for s in summaries)
    if not rushed:
        return None
    total = sum(len(meta["phrases"]) for meta in prosody_metas)
    worst = max(float(s["worst"]) for s in summaries)
    return Notice("rushed-voice", f"input {input_path}: the voice is rushed in {rushed} of {total} phrases (squeezed "
                  f"beyond {RUSHED}x its own pace, the worst {worst:.1f}x): the speaker talks faster than the voice, "
                  "which may be hard to follow")


def unsaid_notice(input_path: Path, unsaid: list[dict[str, Any]]) -> Notice:
    """The phrases the voice could not say (outputs.unsaid_phrases), the first UNSAID_SHOWN of them."""
    shown = "; ".join(f"at {u['start']:.1f} s {u['text'][:80]!r}: {u['why']}" for u in unsaid[:UNSAID_SHOWN])
    more = f"; and {len(unsaid) - UNSAID_SHOWN} more" if len(unsaid) > UNSAID_SHOWN else ""
    return Notice("unsaid", f"input {input_path}: {len(unsaid)} phrase(s) not said (silent in the output): nothing in "
                  f"them the voice can read; respell them, or use --strict to fail instead: {shown}{more}",
                  ranges=tuple((float(u["start"]), float(u["start"])) for u in unsaid))


def _stream_name(stream: dict[str, Any]) -> str:
    """'#2 eng "Commentary"': a stream as a player lists it (its index, language and title when set)."""
    tags = stream.get("tags") or {}
    language = tags.get("language") if tags.get("language") != "und" else None  # "und": not set
    named = " ".join(x for x in (language, f'"{tags["title"]}"' if tags.get("title") else "") if x)
    return f"#{stream.get('index', '?')}" + (f" {named}" if named else "")


def dropped_streams(input_path: Path, streams: list[dict[str, Any]]) -> Notice | None:
    """The input's streams no output keeps (``streams``: ffprobe's): every audio track but the first
    (the one re-voiced, and the one kept with keep_original_audio), subtitle streams, and attachments
    (an mkv's fonts). A video output keeps every video stream and the chapters; the picture of a video
    sent to an audio output is what the user asked to drop, and data streams (an mp4's chapter text or
    timecode track) are not the user's content: neither is named."""
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    kinds = {"audio track": audio[1:],
             "subtitle stream": [s for s in streams if s.get("codec_type") == "subtitle"],
             "attachment": [s for s in streams if s.get("codec_type") == "attachment"]}
    parts = [f"{len(found)} {kind}{'s' if len(found) > 1 else ''} ({', '.join(_stream_name(s) for s in found)})"
             for kind, found in kinds.items() if found]
    if not parts:
        return None
    first = _stream_name(audio[0]) if audio else "the first"
    return Notice("dropped-streams", f"input {input_path}: the output leaves out {'; '.join(parts)}: only audio "
                  f"track {first} is re-voiced; to re-voice another track, extract it first (ffmpeg -i "
                  f"{shlex.quote(str(input_path))} -map 0:a:N -c copy track.mka)")


@dataclass(frozen=True)
class PhrasesSaid:
    """How many of a recording's phrases the voice said in this run, the rest coming from the cache."""

    said: int
    total: int
    cached: bool  # nothing at all ran

    def text(self) -> str:
        if self.cached:
            return "all from the cache"
        if self.said == 0:
            return f"no phrase said again ({self.total} from the cache)"
        if self.said == self.total:
            return f"all {self.total} phrases said"
        return f"{self.said} of {self.total} phrases said again"


def phrases_said(store: Store, plan: Plan, ran_keys: set[str], cached: bool) -> PhrasesSaid:
    """Read from the synthesize artifacts: a chunk's synthesis that this run computed (its key in
    ``ran_keys``) says how many phrases missed the per-phrase memo (``fresh``); one from the store
    said none. ``cached``: the run computed nothing at all."""
    said = total = 0
    for chain in plan.chains:
        found = store.get(chain.synthesize.name, chain.synthesize.key, verify=False)
        if found is None:
            continue
        meta = contracts.said(found)
        spoken = sum(1 for p in meta["phrases"] if p["length"] or p.get("error"))
        total += spoken
        if chain.synthesize.key in ran_keys:
            said += int(meta.get("fresh", spoken))
    return PhrasesSaid(said, total, cached)


def transcribe_metas(store: Store, plan: Plan) -> list[TranscribeMeta]:
    """The metadata of the recording's transcribed chunks (a scripted chunk has none)."""
    found = [store.get(chain.transcribe.name, chain.transcribe.key, verify=False) for chain in plan.chains
             if chain.transcribe.name == STAGES.transcribe.name]
    return [contracts.heard(artifact) for artifact in found if artifact is not None]


def recording_notices(store: Store, plan: Plan, input_path: Path, output_path: Path, phrases: int,
                      duration: float, mix_mode: str = "replace") -> list[Notice]:
    """The notices of one converted recording."""
    notices: list[Notice | None] = []
    decoded = store.get(plan.decode.name, plan.decode.key, verify=False)  # metadata only: no checksum of the audio
    if decoded is not None:
        notices.append(truncated_input(input_path, contracts.decoded(decoded)))
        rate = contracts.decoded(decoded)["sample_rate"]
        transcribed = transcribe_metas(store, plan)
        notices += [skipped_speech(input_path, meta, rate) for meta in transcribed]
        notices += [uncovered_speech(input_path, transcribed), loops_cut(input_path, transcribed)]
    prosodies = [store.get(chain.prosody.name, chain.prosody.key, verify=False) for chain in plan.chains]
    notices.append(rushed_voice(input_path, [contracts.placed(artifact) for artifact in prosodies if artifact is not None]))
    if phrases == 0:
        notices.append(no_speech(input_path, output_path, duration, mix_mode))
    return [notice for notice in notices if notice]


def recording_cast(store: Store, plan: Plan, settings: Settings, phrases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Who speaks in the recording and in which voice: one row per speaker (label, gender, median F0,
    share of the speech, voice), read from the speakers artifact; [] when one voice says everything."""
    from .voices.cast import cast_voices, voice_name

    found = store.get(plan.speakers.name, plan.speakers.key, verify=False) if plan.speakers is not None else None
    if found is None:
        return []
    table = contracts.speakers_found(found)["speakers"]
    names = sorted({p["speaker"] for p in phrases if p.get("speaker")} - {s["label"] for s in table})
    cast = cast_voices(table, settings.voice, settings.voices, names)
    total = sum(float(s["seconds"]) for s in table) or 1.0
    return [{"speaker": s["label"], "gender": s["gender"], "median_f0": round(float(s["median_f0"])),
             "share": round(float(s["seconds"]) / total, 3), "voice": voice_name(cast[s["label"]])} for s in table]


def cast_text(rows: list[dict[str, Any]]) -> str:
    """The cast in one line: ``speakers: Speaker 1 (female, 212 Hz, 62 %) → olga; ...``; "" without one."""
    if not rows:
        return ""
    return "speakers: " + "; ".join(f"{r['speaker']} ({r['gender']}, {r['median_f0']} Hz, {r['share']:.0%}) → "
                                    f"{r['voice']}" for r in rows)
