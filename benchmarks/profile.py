"""Where the time of one conversion goes: py-spy samples a cold pipeline run (a fresh store) and the
samples are summarised per stage and, inside each stage, per call out of voicechanger's own code.

    python -m benchmarks.profile [--minutes 3] [--profile normal] [--no-native] [--rate 50]

Needs py-spy (`pip install py-spy`; not a project dependency). It samples every Python thread of the
conversion process, idle ones included (--idle), so a thread waiting for Festival or for a lock counts
as that wait: the per-stage figures are thread-seconds of wall time, like Result.stage_seconds. The
work Festival does in its own processes shows up as the Python side waiting in ``select``; its CPU
time is reported from the process tree (``cpu_s_by_process``). Writes the raw collapsed stacks (for
flamegraph.pl or speedscope) and a JSON summary to benchmarks/work/profile/.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import inputs
from .measure import run_measured

STAGE_FILES = ("decode", "chunk", "transcribe", "stress", "synthesize", "prosody", "transcript", "concat")
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

console = Console()
if not console.is_terminal:
    console = Console(width=max(console.width, 170))


def parse_raw(path: Path) -> list[tuple[str, list[str], int]]:
    """(thread name, frames root->leaf, samples) per line of py-spy's raw (collapsed) output."""
    stacks = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        body, _, count = line.rpartition(" ")
        if not body or not count.isdigit():
            continue
        frames = body.split(";")
        thread = frames[0].split(": ", 1)[1] if ": " in frames[0] else frames[0]
        stacks.append((thread, frames[1:], int(count)))
    return stacks


def _where(frame: str) -> tuple[str, str]:
    m = FRAME.match(frame)
    return (m.group("func"), m.group("file") or "") if m else (frame, "")


def stage_of(frames: list[str]) -> str | None:
    for frame in reversed(frames):
        _, file = _where(frame)
        for stage in STAGE_FILES:
            if file.endswith(f"stages/{stage}.py"):
                return stage
    return None


def boundary(frames: list[str]) -> str:
    """The first call out of voicechanger (the library call that the project's code is waiting on),
    or the leaf when the project's own code is running."""
    last_own = -1
    for i, frame in enumerate(frames):
        if "voicechanger/" in _where(frame)[1]:
            last_own = i
    if last_own < 0:
        return _short(frames[-1]) if frames else "?"
    if last_own == len(frames) - 1:
        return _short(frames[last_own]) + " [own code]"
    return f"{_short(frames[last_own])} -> {_short(frames[last_own + 1])}"


def leaf(frames: list[str]) -> str:
    return _short(frames[-1]) if frames else "?"


def _short(frame: str) -> str:
    func, file = _where(frame)
    if not file:
        return func
    parts = Path(file).parts
    for anchor in ("voicechanger", "faster_whisper", "ctranslate2", "torch", "silero_stress", "parselmouth",
                   "numpy", "scipy", "pyloudnorm", "concurrent", "threading.py", "subprocess.py"):
        if anchor in parts or parts[-1] == anchor:
            index = parts.index(anchor) if anchor in parts else len(parts) - 1
            return f"{func} ({'/'.join(parts[index:])})"
    return f"{func} ({parts[-1]})"


# What dominates inside a stage: the first rule whose text occurs in the joined stack names it.
PARTS = {
    "transcribe": [("find_alignment", "word timestamps (find_alignment)"), ("WhisperModel.encode", "encoder"),
                   ("generate_segment_batched", "decoder (batched)"), ("generate_with_fallback", "decoder"),
                   ("vad.py", "VAD"), ("load_model", "model load / waiting for it"),
                   ("feature_extractor", "features")],
    "stress": [("load_accentor", "silero-stress load (unpickling, 1489 regexes)"),
               ("_load_model", "waiting for the other thread's load"),
               ("_find_and_load", "importing torch"), ("SileroStress.__call__", "inference"),
               ("normalize", "normalisation")],
    "synthesize": [("select", "waiting for Festival"), ("_Process.__init__", "starting Festival")],
    "prosody": [("pitch_contour", "Praat pitch analysis"), ("transfer", "PSOLA and the rest of transfer")],
    "concat": [("_find_and_load", "importing pyloudnorm/scipy"), ("integrated_loudness", "loudness"),
               ("encode", "ffmpeg encode"), ("Store.put", "store write")],
}


def part_of(stage: str, frames: list[str]) -> str:
    joined = ";".join(frames)
    for needle, name in PARTS.get(stage, []):
        if needle in joined:
            return name
    return "other"


def summarise(stacks: list[tuple[str, list[str], int]], rate: float, top: int) -> dict:
    per_stage: Counter = Counter()
    per_thread: Counter = Counter()
    calls: dict[str, Counter] = defaultdict(Counter)
    leaves: dict[str, Counter] = defaultdict(Counter)
    parts: dict[str, Counter] = defaultdict(Counter)
    for thread, frames, count in stacks:
        stage = stage_of(frames)
        name = stage or ("idle/other: " + thread.split("_")[0])
        per_stage[name] += count
        if stage:
            parts[stage][part_of(stage, frames)] += count
        per_thread[thread] += count
        calls[name][boundary(frames)] += count
        leaves[name][leaf(frames)] += count
    seconds = lambda n: round(n / rate, 2)  # noqa: E731
    return {
        "rate_hz": rate,
        "thread_seconds": {k: seconds(v) for k, v in per_thread.most_common()},
        "stages": {
            stage: {
                "thread_seconds": seconds(n),
                "parts": [[part, seconds(c)] for part, c in parts[stage].most_common()],
                "calls": [[call, seconds(c)] for call, c in calls[stage].most_common(top)],
                "leaves": [[lf, seconds(c)] for lf, c in leaves[stage].most_common(top)],
            }
            for stage, n in per_stage.most_common()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--profile", default="normal")
    parser.add_argument("--rate", type=int, default=50, help="samples per second (default 50)")
    parser.add_argument("--no-native", action="store_true", help="Python frames only (no C/C++ frames)")
    parser.add_argument("--top", type=int, default=6)
    args = parser.parse_args(argv)

    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        console.print("py-spy is not installed: pip install py-spy")
        return 2
    source = inputs.speech(args.minutes)
    work = inputs.WORK / "profile"
    work.mkdir(parents=True, exist_ok=True)
    name = f"{args.profile}-{args.minutes:g}m"
    raw = work / f"{name}.raw.txt"
    store = Path(tempfile.mkdtemp(prefix="store-profile-", dir=inputs.WORK))
    spec = {"kind": "pipeline", "input": str(source.path), "output": str(work / f"{name}.mp3"),
            "profile": args.profile, "overrides": {}, "store": str(store)}
    spec_path, result_path = work / f"{name}.spec.json", work / f"{name}.result.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    argv_spy = [spy, "record", "--idle", "--threads", "-r", str(args.rate), "-f", "raw", "-o", str(raw)]
    if not args.no_native:
        argv_spy.append("--native")
    console.print(f"profiling {args.profile} on {source.seconds / 60:.1f} min ({source.path.name}) ...")
    measured = run_measured([*argv_spy, "--", sys.executable, "-m", "benchmarks.case", str(spec_path),
                             str(result_path)], work / f"{name}.log", result_path)
    shutil.rmtree(store, ignore_errors=True)
    if measured.returncode != 0 or not raw.is_file():
        console.print(f"[red]failed[/] (exit {measured.returncode}):\n{measured.log[-2000:]}")
        return 1
    summary = summarise(parse_raw(raw), args.rate, args.top)
    summary["result"] = measured.result
    summary["tree"] = measured.figures()
    (work / f"{name}.summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8")

    result = measured.result
    console.print(f"convert() wall {result.get('seconds', 0):.1f} s for {result.get('audio_s', 0):.0f} s of audio; "
                  f"stage seconds {result.get('stage_seconds')}; CPU s by process {measured.cpu_by_process} "
                  "(py-spy slows the sampled process a little)")
    table = Table(title=f"py-spy: thread-seconds per stage, and the calls out of voicechanger that take them "
                        f"({name}, {args.rate:g} Hz, idle included)", header_style="bold")
    for column in ("stage", "thread s", "parts (s)", "top calls out of voicechanger (s)"):
        table.add_column(column, overflow="fold")
    for stage, info in summary["stages"].items():
        table.add_row(stage, f"{info['thread_seconds']:.1f}",
                      "\n".join(f"{s:6.1f}  {part}" for part, s in info["parts"]),
                      "\n".join(f"{s:6.1f}  {call}" for call, s in info["calls"]))
    console.print(table)
    console.print(f"raw stacks: {raw}\nsummary: {work / f'{name}.summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
