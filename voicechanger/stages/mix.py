"""mix: the new voice at 48 kHz with the original's audio as ``mix.mode`` says, encoded.

Runs after concat for video outputs and for the ``gaps`` and ``voiceover`` modes (an audio output in
``replace`` mode is concat's file, unchanged). Reads concat's voice (16 kHz mono wav, normalised), the
phrases (stress: as the speaker said them; prosody: where the voice sounds), and the input itself,
decoded again at 48 kHz with its stereo kept: the 16 kHz mono analysis copy is not fit to be heard.

replace: the voice alone, normalised to output.loudness_lufs as concat does. gaps and voiceover: the
original keeps its own level (no normalisation of the whole), muted or ducked where its speaker's
voice really is (activity.py); the voice is set to the loudness of that speech. Two passes over raw
scratch files, so memory does not grow with length: first the voice and the ducked original apart
(and how far the voice may go before the sum passes the peak), then their sum, encoded.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Iterator

import numpy as np

from ..media.audio import PcmStream
from ..media.mix import MIX_RATE, Ducking, mixed_blocks, peak_room, sounding_span, voice_gain
from ..signal.activity import merge, speaker_spans
from ..signal.blockaudio import LoudnessMeter, channels_loudness, encode_blocks, loudness_gain
from ..store import Artifact
from . import contracts
from .base import Context, Output, Stage
from .concat import BLOCK, pieces, read_blocks
from .contracts import MixFacts, MixMeta


def said_spans(prosodies: list[Artifact]) -> list[tuple[float, float] | None]:
    """Per phrase, in chunk and phrase order: (start, end) in seconds on the output's timeline of where
    the new voice is heard saying it; None for a phrase it does not say."""
    spans: list[tuple[float, float] | None] = []
    for artifact in prosodies:
        rate, audio = contracts.placed(artifact)["sample_rate"], artifact.array("audio")
        for piece in pieces([artifact], rate):
            heard = sounding_span(audio[piece.offset : piece.offset + piece.length], rate)
            spans.append(None if heard is None else ((piece.start + heard[0]) / rate, (piece.start + heard[1]) / rate))
    return spans


def voice_spans(prosodies: list[Artifact]) -> list[tuple[float, float]]:
    """(start, end) in seconds on the output's timeline of where the new voice is heard, sorted."""
    return sorted(span for span in said_spans(prosodies) if span is not None)


def phrase_spans(stresses: list[Artifact]) -> list[tuple[float, float]]:
    """(start, end) in seconds of every phrase of the transcript (or script), as the speaker said it."""
    return sorted((p["start"], p["end"]) for artifact in stresses for p in contracts.stressed(artifact)["phrases"])


def speech_loudness(audio: np.ndarray, rate: int, spans: list[tuple[float, float]]) -> float | None:
    """LUFS of the original over its speech (the spans joined end to end); None without any."""
    meter = LoudnessMeter(rate)
    for start, end in spans:
        for first in range(int(start * rate), min(len(audio), int(end * rate)), BLOCK):
            meter.feed(audio[first : min(first + BLOCK, int(end * rate))])
    loudness = meter.integrated() if meter.samples >= meter.rate // 2 else float("-inf")
    return float(loudness) if np.isfinite(loudness) else None


def _streams(ctx: Context, stack: ExitStack, channels: int, keep: bool) -> tuple[PcmStream, PcmStream | None]:
    """The voice (concat's file) and, in gaps and voiceover modes, the input itself, both at 48 kHz."""
    voice = ctx.one("concat")
    speech = stack.enter_context(PcmStream(voice.file(contracts.concatenated(voice)["file"]), MIX_RATE, 1, ctx.scratch / "voice.log"))
    source = (stack.enter_context(PcmStream(Path(ctx.params["path"]), MIX_RATE, channels, ctx.scratch / "in.log"))
              if keep else None)
    return speech, source


def _replace(ctx: Context, target: Path) -> MixFacts:
    """The voice alone, normalised to output.loudness_lufs (capped at the peak) as concat does."""
    output = ctx.settings.output
    raw = ctx.scratch / "voice.f32"
    meter, peak, silent = LoudnessMeter(MIX_RATE), 0.0, True
    with ExitStack() as stack, open(raw, "wb") as handle:
        speech, _none = _streams(ctx, stack, 1, keep=False)
        for said, _bed in mixed_blocks(speech, None, [], Ducking.of(ctx.settings.mix), 1):
            said.tofile(handle)
            meter.feed(said)
            peak = max(peak, float(np.max(np.abs(said))))
            silent = silent and not np.any(said)
    gain, lufs = loudness_gain(meter, peak, silent, output.loudness_lufs, output.peak_dbfs)
    encode_blocks(read_blocks(raw, gain, BLOCK), MIX_RATE, target, ctx.params["format"], mp3_kbps=output.mp3_kbps)
    raw.unlink()
    return {"channels": 1, "samples": meter.samples, "lufs": round(lufs, 2) if np.isfinite(lufs) else None}


def _sum_blocks(voice_raw: Path, bed_raw: Path, voice_gain: float, channels: int) -> Iterator[np.ndarray]:
    """The voice (times ``voice_gain``, on every channel) plus the bed, block by block from the raw files."""
    for said, bed in zip(read_blocks(voice_raw, None, BLOCK), read_blocks(bed_raw, None, BLOCK * channels)):
        yield (bed.reshape(-1, channels) + (said * voice_gain)[:, None]).astype(np.float32)


def _keep(ctx: Context, target: Path, channels: int) -> MixFacts:
    """gaps, voiceover: the original at its own level, given way where its speaker speaks (and, in
    voiceover, under the voice); the voice at the loudness of that speech (or mix.voice_lufs), lowered
    as a whole where it would push the sum over output.peak_dbfs. No normalisation of the whole."""
    decoded, voice = ctx.one("decode"), ctx.one("concat")
    settings, output = ctx.settings.mix, ctx.settings.output
    rate, audio = contracts.decoded(decoded)["sample_rate"], decoded.raw_f32("audio.f32")
    speaker = speaker_spans(audio, rate, phrase_spans(ctx.all("stress")))
    voiced = voice_spans(ctx.all("prosody"))
    # In voiceover the voice is heard over a ducked original wherever it sounds, its spill into a pause
    # included: the duck is what keeps it clear. In gaps a spill has the original's background under it.
    under = speaker if settings.mode == "gaps" else merge([*speaker, *voiced])
    original_speech = speech_loudness(audio, rate, speaker)
    # Both are loudness in the output: the mono voice is on every channel there (BS.1770 sums them, +3 dB
    # in stereo), while the mono analysis copy of a stereo original reads as loud as the stereo does
    # (ffmpeg's downmix keeps the power of what both channels share: -17.06 LUFS mono, -16.91 stereo).
    wanted = settings.voice_lufs if settings.voice_lufs is not None else original_speech
    wanted = None if wanted is None else wanted - 10 * np.log10(channels)
    gain = voice_gain(contracts.concatenated(voice)["lufs"], wanted)
    limit = 10 ** (output.peak_dbfs / 20)
    voice_raw, bed_raw = ctx.scratch / "voice.f32", ctx.scratch / "bed.f32"
    room, frames = float("inf"), 0
    with ExitStack() as stack, open(voice_raw, "wb") as voice_file, open(bed_raw, "wb") as bed_file:
        speech, source = _streams(ctx, stack, channels, keep=True)
        for said, bed in mixed_blocks(speech, source, under, Ducking.of(settings), channels):
            assert bed is not None
            said = (said * gain).astype(np.float32)
            said.tofile(voice_file)
            bed.tofile(bed_file)
            room = min(room, peak_room(said, bed, limit))
            frames += len(said)
    lowered = min(1.0, room)
    meters = [LoudnessMeter(MIX_RATE) for _ in range(channels)]

    def metered() -> Iterator[np.ndarray]:
        for block in _sum_blocks(voice_raw, bed_raw, lowered, channels):
            for channel, meter in enumerate(meters):
                meter.feed(block[:, channel])
            yield block

    encode_blocks(metered(), MIX_RATE, target, ctx.params["format"], mp3_kbps=output.mp3_kbps, channels=channels)
    voice_raw.unlink()
    bed_raw.unlink()
    lufs = float(channels_loudness(meters)) if frames >= MIX_RATE // 2 else float("-inf")
    return {
        "channels": channels,
        "samples": frames,
        "lufs": round(lufs, 2) if np.isfinite(lufs) else None,
        "original_speech_lufs": None if original_speech is None else round(original_speech, 2),
        "voice_gain_db": round(float(20 * np.log10(gain * lowered)), 2) if gain * lowered > 0 else None,
        "voice_lowered_db": round(float(20 * np.log10(lowered)), 2) if lowered > 0 else None,
        "speaker": [[round(a, 3), round(b, 3)] for a, b in speaker],
    }


def run(ctx: Context) -> Output:
    decoded, voice = ctx.one("decode"), ctx.one("concat")
    mode = ctx.settings.mix.mode
    fmt = ctx.params["format"]
    target = ctx.scratch / f"output.{fmt}"
    if mode == "replace":
        facts = _replace(ctx, target)
    else:
        facts = _keep(ctx, target, min(2, max(1, int(contracts.decoded(decoded)["source"]["channels"] or 1))))
    meta: MixMeta = {
        "format": fmt,
        "file": target.name,
        "mode": mode,
        "sample_rate": MIX_RATE,
        **facts,
        "duration": facts["samples"] / MIX_RATE,
        "phrase_count": contracts.concatenated(voice)["phrase_count"],
        "spans": [[round(a, 3), round(b, 3)] for a, b in voice_spans(ctx.all("prosody"))],
    }
    return Output(meta, files={target.name: target})


# 2: gaps and voiceover keep the original's level and give way where its speaker really speaks
# (speech activity, not the cue times); reads the stress artifacts' phrases.
STAGE = Stage(
    "mix", 3,
    ("mix.mode", "mix.duck_db", "mix.attack_ms", "mix.release_ms", "mix.crossfade_ms", "mix.voice_lufs",
     "output.loudness_lufs", "output.peak_dbfs", "output.mp3_kbps"),
    run, key_params=("format",),
)
