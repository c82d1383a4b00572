"""What a successful run must still tell the user: a truncated input file, speech that a time limit
left out, no speech at all, a voice rushed to keep up with the speaker. Read from the artifacts' metadata, so a cached rerun says it too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .stages.prosody import RUSHED
from .store import Store

# Decoded audio this much shorter than the container declares means a cut file (mp3 frames rounding,
# encoder padding and players' estimates stay well inside it).
SHORTFALL_S = 0.5
SHORTFALL_SHARE = 0.01


def truncated_input(input_path: Path, decode_meta: dict[str, Any]) -> str | None:
    declared = decode_meta["source"].get("declared_duration")
    decoded = decode_meta["duration"]
    if not declared or declared - decoded <= max(SHORTFALL_S, SHORTFALL_SHARE * declared):
        return None
    return (f"input {input_path}: only {decoded:.1f} s of the {declared:.1f} s its container declares could be "
            "decoded; the file looks truncated, and the output covers what decoded")


def skipped_speech(input_path: Path, transcribe_meta: dict[str, Any], rate: int) -> str | None:
    if not transcribe_meta.get("truncated"):
        return None
    first, last = transcribe_meta["span"]
    start = transcribe_meta.get("skipped_from") or first / rate
    return (f"input {input_path}: transcription of chunk {transcribe_meta['index'] + 1} stopped at its time limit; "
            f"the speech from {start:.1f} s to {last / rate:.1f} s is not re-voiced "
            "(raise whisper.max_seconds_per_audio_second, or use a faster profile or device)")


def no_speech(input_path: Path, output_path: Path, duration: float, mix_mode: str = "replace") -> str:
    if mix_mode != "replace":  # gaps and voiceover keep the original wherever nobody speaks
        return f"input {input_path}: no speech found; {output_path} is the original audio ({duration:.1f} s)"
    return (f"input {input_path}: no speech found; {output_path} is {duration:.1f} s of silence, as long as the "
            "input, so that it stays in sync")


def rushed_voice(input_path: Path, prosody_metas: list[dict[str, Any]]) -> str | None:
    """How many phrases the voice had to say much faster than its own pace (the prosody stage's
    ``squeeze`` meta: phrases beyond its RUSHED ratio, and the worst ratio)."""
    summaries = [meta["squeeze"] for meta in prosody_metas if "squeeze" in meta]
    rushed = sum(int(s["rushed"]) for s in summaries)
    if not rushed:
        return None
    total = sum(len(meta["phrases"]) for meta in prosody_metas)
    worst = max(float(s["worst"]) for s in summaries)
    return (f"input {input_path}: the voice is rushed in {rushed} of {total} phrases (squeezed beyond {RUSHED}x its "
            f"own pace, the worst {worst:.1f}x): the speaker talks faster than the voice, which may be hard to follow")


def recording_notices(store: Store, plan: Any, input_path: Path, output_path: Path, phrases: int,
                      duration: float, mix_mode: str = "replace") -> list[str]:
    """The notices of one converted recording (``plan`` is its plan.Plan)."""
    notices = []
    decoded = store.get("decode", plan.decode.key, verify=False)  # metadata only: no checksum of the audio
    if decoded is not None:
        notices.append(truncated_input(input_path, decoded.meta))
        rate = decoded.meta["sample_rate"]
        for chain in plan.chains:
            transcribed = store.get("transcribe", chain[0].key, verify=False)
            if transcribed is not None:
                notices.append(skipped_speech(input_path, transcribed.meta, rate))
    prosodies = [store.get("prosody", chain[3].key, verify=False) for chain in plan.chains]
    notices.append(rushed_voice(input_path, [artifact.meta for artifact in prosodies if artifact is not None]))
    if phrases == 0:
        notices.append(no_speech(input_path, output_path, duration, mix_mode))
    return [notice for notice in notices if notice]
