"""One measured case, run in a fresh interpreter by benchmarks.measure:

    python -m benchmarks.case SPEC.json RESULT.json

kind "asr": faster-whisper alone on the whole input (the floor). The audio is decoded to 16 kHz first
and the model is loaded once (both timed apart from transcription); then each variant transcribes the
whole input with the decoding options voicechanger.engines.asr.transcribe uses (word timestamps, VAD,
no conditioning on previous text, the same gates), consuming every segment.

kind "pipeline": one voicechanger.pipeline.convert() of the input with a profile and dotted overrides
into the given store. ``seconds`` is convert()'s own wall clock: it includes loading every model and
starting Festival (nothing is preloaded), not the interpreter start or importing voicechanger.

kind "studio": `voice studio`'s re-dub of a one-word edit (benchmarks/run.py, case studio).

kind "speakers": the speakers stage alone on the whole input, as the pipeline runs it (its node over the
decode node, in a fresh store): ``seconds`` is the stage's wall clock with its encoder's load, the
decoding done and timed apart, on a machine doing nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from voicechanger.engines.asr import decoding_options
from voicechanger.runtime.memory import with_huge_page_malloc

RATE = 16000

# The pipeline's own decoding options, so the floor decodes what the pipeline decodes.
ASR_OPTIONS: dict[str, Any] = decoding_options("ru", 1)


def decode(path: str) -> np.ndarray:
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-ac", "1", "-ar", str(RATE), "-f", "f32le", "-"],
        capture_output=True, check=True,
    ).stdout
    return np.frombuffer(raw, dtype="<f4").copy()


def run_asr(spec: dict[str, Any]) -> dict[str, Any]:
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from voicechanger.engines.asr import resolve_model

    started = time.perf_counter()
    audio = decode(spec["input"])
    decode_s = time.perf_counter() - started
    threads = int(spec.get("cpu_threads", 2))
    started = time.perf_counter()
    model = WhisperModel(str(resolve_model(spec.get("model", "base"))), device="cpu", compute_type="int8",
                         cpu_threads=threads, num_workers=1)
    load_s = time.perf_counter() - started
    variants = {}
    for variant in spec["variants"]:
        options = {**ASR_OPTIONS, "beam_size": variant.get("beam_size", 1),
                   "word_timestamps": variant.get("word_timestamps", True)}
        started, cpu_started = time.perf_counter(), time.process_time()
        if variant["batch_size"] > 0:
            segments, info = BatchedInferencePipeline(model).transcribe(audio, batch_size=variant["batch_size"],
                                                                        **options)
        else:
            segments, info = model.transcribe(audio, **options)
        segments = list(segments)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        words = sum(len(s.text.split()) for s in segments)
        variants[variant["name"]] = {**variant, "seconds": round(seconds, 3), "cpu_s": round(cpu, 2), "segments": len(segments),
                                     "words": words}
        print(f"{variant['name']}: {seconds:.1f} s, {len(segments)} segments, {words} words", flush=True)
    return {"audio_s": len(audio) / RATE, "decode_s": round(decode_s, 3), "load_s": round(load_s, 3),
            "cpu_threads": threads, "variants": variants}


class Timeline:
    """Graph events -> [stage, label, thread, start s, end s] for every node computed (times from t0)."""

    def __init__(self) -> None:
        import threading

        self.t0 = time.perf_counter()
        self.open: dict[tuple[str, str], float] = {}
        self.spans: list[list[Any]] = []
        self.lock = threading.Lock()

    def planned(self, nodes: list) -> None:
        pass

    def started(self, node: Any) -> None:
        with self.lock:
            self.open[(node.name, node.key)] = time.perf_counter() - self.t0

    def finished(self, node: Any, seconds: float, cached: bool) -> None:
        import threading

        if cached:
            return
        end = time.perf_counter() - self.t0
        with self.lock:
            start = self.open.pop((node.name, node.key), end - seconds)
            self.spans.append([node.name, node.label, threading.current_thread().name, round(start, 3),
                               round(end, 3)])


def run_pipeline(spec: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    from voicechanger.config import load_settings
    from voicechanger.pipeline import convert
    from voicechanger.store import Store

    import_s = time.perf_counter() - started
    settings = load_settings(spec["profile"], spec.get("overrides") or {})
    store = Store(spec["store"])
    timeline = Timeline()
    result = convert(Path(spec["input"]), Path(spec["output"]), settings, store, events=timeline)
    ran: dict[str, int] = {}
    for stage in result.ran:
        ran[stage] = ran.get(stage, 0) + 1
    return {
        "seconds": round(result.seconds, 3),
        "import_s": round(import_s, 3),
        "audio_s": round(result.duration, 3),
        "stage_seconds": {k: round(v, 3) for k, v in result.stage_seconds.items()},
        "ran": ran,
        "chunks": len(result.plan.chains),
        "cached": result.cached,
        "timeline": sorted(timeline.spans, key=lambda span: span[3]),
        "settings": {"chunk_minutes": settings.chunk_minutes, "whisper": settings.whisper.model_dump(),
                     "prosody": settings.prosody.model_dump(), "voice": settings.voice},
    }


def run_speakers(spec: dict[str, Any]) -> dict[str, Any]:
    from voicechanger.config import load_settings
    from voicechanger.graph import Graph, make_node
    from voicechanger.plan import front_nodes
    from voicechanger.stages import STAGES
    from voicechanger.store import Store, sha256_file

    settings = load_settings(spec["profile"], spec.get("overrides") or {})
    graph = Graph(Store(spec["store"]), settings)
    source = Path(spec["input"])
    decode, _chunk = front_nodes(settings, source, sha256_file(source))
    started = time.perf_counter()
    decoded = graph.ensure(decode)
    decode_s = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    found = graph.ensure(make_node(STAGES.speakers, settings, (decode,)))
    return {"seconds": round(time.perf_counter() - started, 3), "stage_cpu_s": round(time.process_time() - cpu, 3),
            "decode_s": round(decode_s, 3), "audio_s": round(decoded.meta["duration"], 3),
            "speakers": len(found.meta["speakers"])}


def run_studio(spec: dict[str, Any]) -> dict[str, Any]:
    """The studio's code path (voicechanger.studio.session, what POST /api/redub runs): open the
    recording (everything cached), then re-dub one word of the middle phrase, then of two more phrases
    (a user re-dubs several in one session); ``seconds`` is the median of the three re-dubs."""
    from statistics import median

    from voicechanger.store import Store
    from voicechanger.studio.session import Edit, Session, profile_settings

    session = Session(Path(spec["input"]), Path(spec["output"]), Store(spec["store"]), profile_settings(spec["profile"]))
    started = time.perf_counter()
    session.open()
    open_s = time.perf_counter() - started
    if session.run.result is None:
        raise RuntimeError(f"the studio could not open the recording: {session.run.error}")
    rows = session.run.rows
    runs = []
    for row in (rows[len(rows) // 2], rows[len(rows) // 3], rows[2 * len(rows) // 3]):
        session.warm.wait(60)  # the studio loads the voice for the next re-dub while the user edits
        edit = Edit(row["id"], " ".join(row["text"].split()[:-1] + [spec["word"] + "."]))
        started = time.perf_counter()
        if not session.redub([edit]):
            raise RuntimeError(f"the re-dub failed: {session.run.error}")
        runs.append(round(time.perf_counter() - started, 3))
        print(f"re-dub of phrase {row['index']}: {runs[-1]:.2f} s, {session.run.result.said_text()}", flush=True)
    result = session.run.result
    return {"seconds": median(runs), "runs_s": runs, "open_s": round(open_s, 3), "audio_s": round(result.duration, 3),
            "said": result.said_text(), "phrases": len(rows)}


def main() -> None:
    with_huge_page_malloc()  # as the `voice` command runs (memory.py): the floor and the pipeline alike
    spec_path, result_path = Path(sys.argv[1]), Path(sys.argv[2])
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    os.environ.setdefault("DO_NOT_TRACK", "1")
    kinds = {"asr": run_asr, "pipeline": run_pipeline, "speakers": run_speakers, "studio": run_studio}
    result = kinds[spec["kind"]](spec)
    tmp = result_path.with_name(result_path.name + ".part")
    tmp.write_text(json.dumps(result, indent=1), encoding="utf-8")
    tmp.replace(result_path)


if __name__ == "__main__":
    main()
