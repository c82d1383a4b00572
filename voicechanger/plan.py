"""The plan of one recording: which nodes it has and how they depend on each other, declared once.

    decode → chunk → per chunk: transcribe → stress → synthesize → prosody → concat [→ mix]
      └──→ speakers ───────────────────────────┴───────┴──────────┘
                                         └──────────→ transcript (JSON + Parquet)

speakers (who speaks when, over the whole recording) reads only the decoded audio: stress labels and
splits the phrases by it (so the subtitles and the script name the speakers, whatever the voice),
synthesize casts a voice per speaker (cast.py), prosody maps each speaker's pitch into their voice. A
change of voice therefore reruns only synthesize and what follows it.

A chunk whose phrases come from a user's script takes them from a ``script`` node instead of
``transcribe``. mix (the voice at 48 kHz with the original's audio) runs for video outputs and the gaps
and voiceover modes; an audio output in replace mode is concat's file. A video output is muxed by the
final write.

Keys are known before any expensive stage runs: decode's key follows from the input's bytes, chunk's
from decode's, and the per-chunk keys from chunk's small output. The runners (local.py for one
recording, batch.py for a folder, flows/ for Prefect) all execute this plan; they differ only in how
they schedule its nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

from .config import Settings
from .graph import Graph, Node, make_node
from .media.video import AUDIO_FORMAT, is_video
from .stages import STAGES, Stages, contracts
from .store import sha256_file
from .text.phrases import Phrase, bare_phrase


class Chain(NamedTuple):
    """The nodes of one chunk, in order; ``transcribe`` is a ``script`` node for a scripted chunk."""

    transcribe: Node
    stress: Node
    synthesize: Node
    prosody: Node


@dataclass
class Plan:
    """All nodes of one recording once the chunk spans are known."""

    decode: Node
    chunk: Node
    chains: list[Chain]
    concat: Node
    transcript: Node
    mix: Node | None = None  # the voice with the original's audio; None: concat's file is the output
    speakers: Node | None = None  # who speaks when (plan_from_spans always makes it)

    @property
    def final(self) -> Node:
        """The node whose file becomes the output (muxed into the video for a video output)."""
        return self.mix or self.concat

    def nodes(self) -> list[Node]:
        return [self.decode, self.chunk, *([self.speakers] if self.speakers else []),
                *[n for chain in self.chains for n in chain], self.transcript, self.concat,
                *([self.mix] if self.mix else [])]


def front_nodes(settings: Settings, path: Path, root_key: str, stages: Stages = STAGES) -> tuple[Node, Node]:
    decode = make_node(stages.decode, settings, root=root_key, path=str(path))
    chunk = make_node(stages.chunk, settings, (decode,))
    return decode, chunk


def plan_from_spans(settings: Settings, decode: Node, chunk: Node, spans: list[list[int]], fmt: str,
                    root_key: str, scripted: list[list[Phrase] | None] | None = None, stages: Stages = STAGES) -> Plan:
    """Every node of a recording. ``scripted``: each chunk's phrases from a user's script, which it then
    takes from a ``script`` node instead of Whisper; None for a chunk that keeps its transcription."""
    chains = []
    speakers = make_node(stages.speakers, settings, (decode,))
    who = (speakers,)
    for index, span in enumerate(spans):
        label = f"[{index + 1}/{len(spans)}]"
        if scripted is None or scripted[index] is None:
            transcribe = make_node(stages.transcribe, settings, (decode,), label=label, index=index, span=list(span))
        else:
            transcribe = make_node(stages.script, settings, root=decode.key, label=label, index=index, span=list(span),
                                   phrases=scripted[index])
        stress = make_node(stages.stress, settings, (transcribe, *who), label=label)
        synthesize = make_node(stages.synthesize, settings, (stress, *who), label=label)
        prosody = make_node(stages.prosody, settings, (decode, stress, synthesize, *who), label=label)
        chains.append(Chain(transcribe, stress, synthesize, prosody))
    prosodies, stresses = tuple(c.prosody for c in chains), tuple(c.stress for c in chains)
    mixed = is_video(fmt) or settings.mix.mode != "replace"
    # The mix reads the voice losslessly (wav); an audio output in replace mode keeps today's concat.
    concat = make_node(stages.concat, settings, (decode, *prosodies), format="wav" if mixed else fmt)
    mix = (make_node(stages.mix, settings, (decode, concat, *prosodies, *stresses), format=AUDIO_FORMAT.get(fmt, fmt),
                     path=decode.param_dict()["path"]) if mixed else None)
    transcript = make_node(stages.transcript, settings, stresses, recording=root_key)
    return Plan(decode, chunk, chains, concat, transcript, mix, speakers)


def plan_recording(graph: Graph, path: Path, fmt: str, before_chunk: Callable[[Node], None] | None = None,
                   stages: Stages = STAGES) -> Plan:
    """Hash the input, make sure decode and chunk exist, and declare every node. ``before_chunk`` is
    called with the chunk node before it is made (the local runner starts loading Whisper there)."""
    root_key = sha256_file(path)
    decode, chunk = front_nodes(graph.settings, path, root_key, stages)
    if before_chunk is not None:
        before_chunk(chunk)
    spans = contracts.chunked(graph.ensure(chunk))["spans"]
    return plan_from_spans(graph.settings, decode, chunk, spans, fmt, root_key, stages=stages)


def plan_script(graph: Graph, path: Path, fmt: str, script: Path, stages: Stages = STAGES) -> Plan:
    """The plan of a recording whose phrases come from ``script`` (an SRT or WebVTT file). Each cue is
    matched with the phrase transcribed at the same times when that transcription is in the store: an
    unedited cue then keeps its cache keys, and only edited cues are said again."""
    from .text.script import chunk_cues, load_script, script_phrases

    root_key = sha256_file(path)
    decode, chunk = front_nodes(graph.settings, path, root_key, stages)
    chunked = graph.ensure(chunk)
    spans, rate = contracts.chunked(chunked)["spans"], contracts.chunked(chunked)["sample_rate"]
    cues = load_script(script, spans[-1][1] / rate if spans else 0.0)
    heard = plan_from_spans(graph.settings, decode, chunk, spans, fmt, root_key, stages=stages)
    audio = graph.ensure(decode).raw_f32("audio.f32")
    scripted: list[list[Phrase] | None] = []
    for chain, here in zip(heard.chains, chunk_cues(cues, spans, rate)):
        known = (graph.store.get(chain.stress.name, chain.stress.key)
                 or graph.store.get(chain.transcribe.name, chain.transcribe.key))
        known_phrases: list[Phrase] = contracts.heard(known)["phrases"] if known is not None else []
        heard_phrases = [bare_phrase(p) for p in known_phrases] if known is not None else None
        phrases = script_phrases(here, known_phrases, audio, rate)
        # A chunk whose cues all read as transcribed keeps the transcription's chain, all of it in the
        # store: only chunks with an edit rerun their nodes (and in them only the edited phrases).
        scripted.append(None if phrases == heard_phrases else phrases)
    return plan_from_spans(graph.settings, decode, chunk, spans, fmt, root_key, scripted, stages)


def check_mapping(graph: Graph, plan: Plan) -> None:
    """A ``voices`` mapping that names a speaker the recording does not have fails now, before any
    transcription: the speakers stage (a few seconds) runs first for it. A script's typed names count."""
    from .voices.cast import cast_voices

    if not graph.settings.voices or plan.speakers is None:
        return
    table = contracts.speakers_found(graph.ensure(plan.speakers))["speakers"]
    names = [p["speaker"] for chain in plan.chains if chain.transcribe.name == STAGES.script.name
             for p in chain.transcribe.param_dict()["phrases"] if p.get("speaker")]
    cast_voices(table, graph.settings.voice, graph.settings.voices, names)
