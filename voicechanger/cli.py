"""The `voice` command: convert a file or a folder, inspect the cache, list voices.

The local runner is the default (no Prefect import on that path); ``--prefect`` hands the same
graph to the Prefect flow in flows/.
"""

from __future__ import annotations

import logging
import math
import os
import shlex
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__, interrupt
from .config import Settings
from .errors import BAD_SETTING, Interrupted, VoiceError, error_message, exit_help

if TYPE_CHECKING:  # imported where used: `voice --help` loads no pipeline
    from .lifecycle import Result
    from .notices import Notice

EXIT_HELP = exit_help()
DEFAULTS = Settings()  # what every built-in profile leaves these at


def _version(value: bool) -> None:
    if value:
        out.print(f"voice {__version__}")
        raise typer.Exit()


app = typer.Typer(add_completion=False, no_args_is_help=True, help="Re-voice Russian speech recordings.")
cache_app = typer.Typer(no_args_is_help=True, help="Inspect or prune the artifact store.")
CACHE_DIR_HELP = "The artifact store (default ./cache, or $VOICECHANGER_CACHE)."
app.add_typer(cache_app, name="cache")
# Paths and recognised text are user data: never wrapped (scripts read the output path from stdout) and
# escaped wherever a line also carries markup, so "talk [draft].mp3" prints as it is.
console = Console(stderr=True, soft_wrap=True, highlight=False)
out = Console(soft_wrap=True, highlight=False)

class ProgressEvents:
    """Draws one bar per stage from the runner's events (thread-safe)."""

    def __init__(self, progress: Progress) -> None:
        from .stages import STAGES

        self.progress = progress
        self.tasks: dict[str, Any] = {}
        self.totals: dict[str, int] = {}
        self.lock = threading.Lock()
        for stage in STAGES.names():
            self.tasks[stage] = progress.add_task(stage, total=None, visible=False)

    def planned(self, nodes: list) -> None:
        from .stages import STAGES

        with self.lock:
            for stage in STAGES.names():
                count = sum(1 for n in nodes if n.name == stage)
                self.totals[stage] = self.totals.get(stage, 0) + count
                done = self.progress.tasks[self.tasks[stage]].completed
                self.progress.update(self.tasks[stage], total=max(self.totals[stage], done), visible=True)

    def started(self, node: Any) -> None:
        self.progress.update(self.tasks[node.name], description=escape(f"{node.name} {node.label if node.label != node.name else ''}"))

    def finished(self, node: Any, seconds: float, cached: bool) -> None:
        with self.lock:
            task = self.progress.tasks[self.tasks[node.name]]
            if task.total is None or task.completed < task.total:
                self.progress.advance(self.tasks[node.name])
            label = f"{node.name} (cached)" if cached else node.name
            self.progress.update(self.tasks[node.name], description=label, visible=True)


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Re-voice Russian speech recordings."""


def _profile(profile: Optional[str], quality: Optional[str]) -> str:
    """--quality is another spelling of --profile: giving both (even equal) is refused, not resolved."""
    if profile is not None and quality is not None:
        raise VoiceError(f"--profile {profile} and --quality {quality}: give one of them (--quality is an alias)")
    return profile or quality or "normal"


def _settings(profile: str, **overrides: Any):
    from .config import load_settings

    return load_settings(profile, overrides)


def _fail(exc: BaseException, debug: bool) -> None:
    if debug:
        console.print_exception()
    message = error_message(exc)
    if not isinstance(exc, VoiceError):
        message += "; rerun with --debug for details"
    console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(exc.exit_code if isinstance(exc, VoiceError) else 1)


@contextmanager
def _one_line_errors(debug: bool) -> Iterator[None]:
    """A command's body: any failure is one line and its exit code, Ctrl-C a clean stop."""
    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt as exc:
        _interrupted(exc)
    except Exception as exc:
        _fail(exc, debug)


def _summary(result: Result) -> None:
    from .notices import cast_text, covered_text
    from .stages import STAGES

    table = Table(title=escape(f"{result.input.name} → {result.output}"), show_header=True, header_style="bold")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage in STAGES.names():
        if stage in result.stage_seconds:
            table.add_row(stage, f"{result.stage_seconds[stage]:.1f}")
    table.add_row("[bold]total[/]", f"{result.seconds:.1f}")
    console.print(table)
    speed = result.duration / result.seconds if result.seconds > 0 else float("inf")
    pace = "" if result.cached else f"{speed:.1f}× real time; "
    said = result.said.text() if result.said is not None else ""
    console.print(f"audio {result.duration:.1f} s; {covered_text(result.speech_covered)}{pace}{said}; "
                  f"transcript: {result.transcript}", markup=False)
    if result.cast:
        console.print(cast_text(result.cast), markup=False)
    _notices(result.notices)


def _notices(notices: list[Notice]) -> None:
    for notice in notices:
        console.print(f"[bold yellow]{notice.severity}:[/] {escape(notice.text)}")


@app.command(epilog=EXIT_HELP)
def convert(
    input: Path = typer.Argument(..., help="A recording, or a folder of recordings."),
    output: Path = typer.Argument(..., help="The output file (.mp3/.wav/.flac/...), or a folder for a folder."),
    profile: Optional[str] = typer.Option(None, "--profile", "-p", help="fast, normal, high, or a YAML file.",
                                          show_default="normal"),
    quality: Optional[str] = typer.Option(None, "--quality", help="Alias of --profile (fast|normal|high)."),
    voice: Optional[str] = typer.Option(None, "--voice", help="auto (a voice of each speaker's gender and "
                                        "register), one voice for all (olga, backend:name, my-voice.yaml), or by "
                                        "speaker: \"Speaker 1=olga,Speaker 2=pavel\"; see `voice voices`.",
                                        show_default=str(DEFAULTS.voice)),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu or cuda.", show_default=DEFAULTS.device),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", help="Recordings converted at once.",
                                          show_default=str(DEFAULTS.workers)),
    chunk_minutes: Optional[float] = typer.Option(None, "--chunk-minutes", help="Chunk length in minutes.",
                                                  show_default=str(DEFAULTS.chunk_minutes)),
    model: Optional[str] = typer.Option(None, "--model", help="Whisper model name or folder.",
                                        show_default=DEFAULTS.whisper.model),
    language: Optional[str] = typer.Option(None, "--language", help="Spoken language code.",
                                           show_default=DEFAULTS.whisper.language),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=CACHE_DIR_HELP),
    temp_dir: Optional[Path] = typer.Option(None, "--temp-dir", help="Folder for temporary files.",
                                            show_default="$TMPDIR or /tmp"),
    output_format: Optional[str] = typer.Option(None, "--format", show_default="mp3",
                                                help="Output extension for a folder: mp3, wav, flac, mp4, mkv... (a file's "
                                                     "output takes its own extension)"),
    mix: Optional[str] = typer.Option(None, "--mix", help="replace (voice on silence), gaps (original between "
                                      "phrases) or voiceover (original ducked under the voice).",
                                      show_default=DEFAULTS.mix.mode),
    duck_db: Optional[float] = typer.Option(None, "--duck-db", help="voiceover: the original's level under the voice, dB down.",
                                            show_default=str(DEFAULTS.mix.duck_db)),
    keep_original_audio: Optional[bool] = typer.Option(None, "--keep-original-audio/--no-original-audio",
                                                       help="A video output also keeps the original audio track.",
                                                       show_default="--keep-original-audio" if DEFAULTS.output.keep_original_audio
                                                       else "--no-original-audio"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write a PNG of pitch and timing, input vs output."),
    strict: bool = typer.Option(False, "--strict", help="A phrase the voice cannot say is an error (no output)."),
    script: Optional[Path] = typer.Option(None, "--script", help="An edited script (.srt/.vtt, see `voice script`): "
                                          "its cues are what is said, and when; Whisper does not run."),
    lexicon: Optional[Path] = typer.Option(None, "--lexicon", help="A YAML file of 'word: how to say it' (зам+ок)."),
    subtitles: Optional[str] = typer.Option(None, "--subtitles", help="Subtitles beside the output: srt, vtt or none.",
                                            show_default=DEFAULTS.subtitles),
    prefect: bool = typer.Option(False, "--prefect", help="Run through the Prefect flow `voice`."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Convert INPUT to OUTPUT in another voice, keeping timing and intonation.

    Defaults shown are those of every built-in profile; an option given here overrides the profile.
    """
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(message)s")
    interrupt.install()  # SIGINT and SIGTERM: stop cleanly, store nothing unfinished, write no output
    try:
        from .paths import default_cache_dir

        profile_name = _profile(profile, quality)
        folder_mode = input.is_dir()
        if input.is_file() and output.is_dir():
            suggestion = shlex.quote(str(output / f"{input.stem}.voice.mp3"))
            raise VoiceError(f"output {output}: is a folder, and the input {input.name} is one file; give the output "
                             f"file's name, e.g. {suggestion}")
        if output_format is not None and input.exists() and not folder_mode:
            raise VoiceError(f"--format {output_format}: applies to a folder input only; for a file, the output's "
                             f"extension sets the format ({output.name})")
        settings = _settings(
            profile_name,
            **{"voice": voice, "device": device, "workers": workers, "chunk_minutes": chunk_minutes,
               "whisper.model": model, "whisper.language": language, "mix.mode": mix, "mix.duck_db": duck_db,
               "output.keep_original_audio": keep_original_audio, "strict": strict or None,
               "subtitles": subtitles, "lexicon": str(lexicon) if lexicon is not None else None},
        )
        store_root = cache_dir or default_cache_dir()
        _check_places(store_root, temp_dir, plot)
        if temp_dir is not None:
            temp_dir.mkdir(parents=True, exist_ok=True)
            os.environ["TMPDIR"] = str(temp_dir.resolve())
        from .script import check_one_recording

        check_one_recording(script, input)
        fmt = output_format or "mp3"
        if prefect:
            from .handoff import run_prefect
            from .local import preflight

            preflight(settings, whisper=script is None)  # a bad voice or model fails before Prefect starts

            code = run_prefect(input, output, profile=profile_name, settings=settings, cache_dir=store_root,
                               output_format=fmt, script=script)
            raise typer.Exit(code)
        from .store import Store

        store = Store(store_root)
        if folder_mode:
            code = _convert_folder(input, output, settings, store, fmt, debug)
            raise typer.Exit(code)
        _convert_file(input, output, settings, store, plot, script)
    except typer.Exit:
        raise
    except KeyboardInterrupt as exc:
        _interrupted(exc)
    except Exception as exc:  # one line for the user, the traceback only with --debug
        if interrupt.stopping():  # a consequence of the stop (a C extension turned it into an ImportError)
            _interrupted(Interrupted(interrupt.signal_number()))
        _fail(exc, debug)


def _check_places(store_root: Path, temp_dir: Optional[Path], plot: Optional[Path]) -> None:
    """Everything the run will write to must be writable: checked before any work."""
    from .checks import check_writable_file, check_writable_folder

    check_writable_folder(store_root, "cache folder")
    if temp_dir is not None:
        check_writable_folder(temp_dir, "temp folder")
    if plot is not None:
        check_writable_file(plot, "plot")


def _interrupted(exc: KeyboardInterrupt) -> None:
    console.print(f"[bold red]{escape(str(exc) or 'interrupted')}[/]: no output written, nothing unfinished stored; "
                  "rerun to resume from the finished stages")
    raise typer.Exit(getattr(exc, "exit_code", 130))


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False, disable=not console.is_terminal and os.environ.get("VOICE_PROGRESS") != "1",
    )


def _convert_file(input: Path, output: Path, settings: Any, store: Any, plot: Optional[Path],
                  script: Optional[Path] = None) -> None:
    from .local import convert as run_convert
    from .script import UNSURE, unsure_count

    with _progress() as progress:
        result = run_convert(input, output, settings, store, ProgressEvents(progress), script=script)
    interrupt.settle()
    _summary(result)
    unsure = unsure_count(result.phrases)
    if unsure:
        console.print(f"{unsure} of {len(result.phrases)} phrases hold words Whisper was unsure of: see them "
                      f"marked {UNSURE} in `voice script {shlex.quote(str(input))}`, correct them and convert with "
                      "--script", markup=False)
    if result.subtitles is not None:
        console.print(f"subtitles: {result.subtitles}", markup=False)
    if plot is not None:
        from .report import plot_result

        plot_result(result, plot)
        console.print(f"plot: {plot}", markup=False)
    out.print(str(output), markup=False)


def _convert_folder(input: Path, output: Path, settings: Any, store: Any, fmt: str, debug: bool) -> int:
    from .batch import convert_folder, recording_pairs
    from .local import preflight

    pairs = recording_pairs(input, output, fmt)
    preflight(settings)  # a bad voice or model fails once, not once per file
    with _progress() as progress:
        overall = progress.add_task("recordings", total=len(pairs))
        outcomes = convert_folder(pairs, settings, store, ProgressEvents(progress), lambda: progress.advance(overall),
                                  debug)
    return report_batch(outcomes)


def report_batch(outcomes: list[Result]) -> int:
    """Print the batch summary table; the exit code is 1 when any recording failed."""
    from .notices import percent

    table = Table(title="batch", header_style="bold")
    for column in ("input", "status", "audio s", "speech covered", "phrases said", "seconds", "output / error"):
        table.add_column(column, overflow="fold")
    for item in outcomes:
        style = {"failed": "red", "cached": "cyan"}.get(item.status, "green")
        table.add_row(escape(str(item.input)), f"[{style}]{item.status}[/]", f"{item.duration:.1f}",
                      percent(item.speech_covered), item.said.text() if item.said is not None else "",
                      f"{item.seconds:.1f}", escape(item.error or str(item.output)))
    console.print(table)
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("converted", "cached", "failed")}
    console.print(", ".join(f"{n} {s}" for s, n in counts.items()))
    for item in outcomes:
        if item.status == "failed":
            console.print(f"[red]failed:[/] {escape(f'{item.input}: {item.error}')}")
    _notices([notice for item in outcomes for notice in item.notices])
    return 1 if counts["failed"] else 0


@cache_app.command("stats")
def cache_stats(cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=CACHE_DIR_HELP)) -> None:
    """Size, entries per stage and hit counts."""
    from .paths import default_cache_dir
    from .stages import STAGES
    from .store import Store

    root = cache_dir or default_cache_dir()
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        console.print(f"[bold red]error:[/] cache folder {escape(str(root))}: {what}; pass the store with --cache-dir "
                      "(default ./cache)")
        raise typer.Exit(VoiceError.exit_code)
    store = Store(root)
    stats, skipped = store.stats()
    table = Table(title=escape(f"cache {store.root}"), header_style="bold")
    for column in ("stage", "entries", "MB", "hits", "writes", "corrupt"):
        table.add_column(column, justify="right")
    total = 0.0
    for stage, row in sorted(stats.items(), key=lambda kv: STAGES.rank(kv[0])):
        total += row["bytes"]
        table.add_row(stage, str(int(row["entries"])), f"{row['bytes'] / 1e6:.1f}", str(int(row["hit"])),
                      str(int(row["put"])), str(int(row["corrupt"])))
    out.print(table)
    out.print(f"total {total / 1e6:.1f} MB")
    if skipped:
        console.print(f"[bold yellow]warning:[/] {escape(str(store.root / 'events.jsonl'))}: {skipped} malformed lines "
                      "skipped (the counts leave them out)")


_SIZE_UNITS = {"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
_AGE_UNITS: dict[str, float] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _parse_amount(text: str, units: dict[str, float], bare: float) -> float:
    """A finite, non-negative number with an optional unit letter (a bare number counts ``bare``);
    ValueError for anything else, '' -5d inf nan included: prune must never guess what to delete."""
    text = text.strip().lower()
    scale = bare
    if text and text[-1] in units:
        text, scale = text[:-1], units[text[-1]]
    value = float(text) * scale  # ValueError on '' and on words
    if not math.isfinite(value) or value < 0:
        raise ValueError(text)
    return value


def _parse_size(text: str) -> int:
    return int(_parse_amount(text.strip().lower().removesuffix("b"), _SIZE_UNITS, 1))


def _parse_age(text: str) -> float:
    return _parse_amount(text, _AGE_UNITS, 86400)


@cache_app.command("prune")
def cache_prune(
    older_than: Optional[str] = typer.Option(None, "--older-than", help="Remove unused for this long: 30d, 12h."),
    max_size: Optional[str] = typer.Option(None, "--max-size", help="Then shrink to this size: 5G, 500M."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=CACHE_DIR_HELP),
) -> None:
    """Remove old artifacts, or the least recently used ones beyond a size."""
    from .paths import default_cache_dir
    from .store import Store

    if older_than is None and max_size is None:
        console.print("[bold red]error:[/] give --older-than AGE and/or --max-size SIZE")
        raise typer.Exit(BAD_SETTING)
    for option, given, parse, example in (("--older-than", older_than, _parse_age, "30d or 12h"),
                                          ("--max-size", max_size, _parse_size, "5G or 500M")):
        try:
            if given is not None:
                parse(given)
        except (ValueError, OverflowError):
            console.print(f"[bold red]error:[/] {option} {escape(repr(given))}: not an amount of zero or more; use e.g. "
                          f"{example}")
            raise typer.Exit(BAD_SETTING) from None
    age = _parse_age(older_than) if older_than is not None else None
    size = _parse_size(max_size) if max_size is not None else None
    removed, freed = Store(cache_dir or default_cache_dir()).prune(older_than_s=age, max_bytes=size)
    out.print(f"removed {removed} artifacts, freed {freed / 1e6:.1f} MB")


@app.command("script")
def script_command(
    input: Path = typer.Argument(..., help="A recording."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="The script file (.srt or .vtt); "
                                          "default INPUT's name with .script.srt, beside it."),
    profile: str = typer.Option("normal", "--profile", "-p", help="fast, normal, high, or a YAML file."),
    lexicon: Optional[Path] = typer.Option(None, "--lexicon", help="A YAML file of 'word: how to say it'."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=CACHE_DIR_HELP),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Write the script the voice reads: one cue per phrase, '+' before each stressed vowel, ⁇ after
    words Whisper was unsure of. Taken from the cache when INPUT was converted before (no model runs).
    Edit it and convert again with --script: only the phrases you changed are said again."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(message)s")
    interrupt.install()
    with _one_line_errors(debug):
        from .audio import check_input
        from .local import export_script
        from .paths import default_cache_dir
        from .store import Store
        from .subtitles import format_of

        check_input(input)
        target = output or input.with_name(f"{input.stem}.script.srt")
        format_of(target)
        settings = _settings(profile, lexicon=str(lexicon) if lexicon is not None else None)
        store = Store(cache_dir or default_cache_dir())
        cues, unsure = export_script(input, target, settings, store)
        console.print(f"{cues} cues; {unsure} hold words Whisper was unsure of (marked ⁇)")
        out.print(str(target), markup=False)


@app.command(epilog=EXIT_HELP)
def voices(
    sample: Optional[str] = typer.Option(None, "--sample", metavar="NAME",
                                         help="Say a short sample in this voice (a name, backend:name or a voice file)."),
    output: Optional[Path] = typer.Argument(None, help="With --sample: the WAV file to write."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """List the voices: the catalogue's named voices, then the backends' (available here or not, and why)."""
    with _one_line_errors(debug):
        if sample is None:
            if output is not None:
                raise VoiceError(f"{output}: an output file goes with --sample NAME; give the voice to say it in")
            _list_voices()
        else:
            if output is None:
                raise VoiceError(f"--sample {sample}: give the WAV file to write, e.g. `voice voices --sample {sample} "
                                 "sample.wav`")
            from .sample import write_sample

            out.print(str(write_sample(sample, output)), markup=False)


def _list_voices() -> None:
    from .engines.tts import list_voices
    from .voices import catalogue

    table = Table(header_style="bold")
    for column in ("voice", "available", "gender", "register", "detail"):
        table.add_column(column, overflow="fold")
    backends = {info.spec: info for info in list_voices()}
    for name, voice in catalogue().items():
        base = backends.get(voice.base)
        detail = f"{voice.title}: {voice.description} ({voice.base}, formants x{voice.formant_ratio:g})"
        table.add_row(name, "yes" if base is not None and base.available else f"no: needs {voice.base}",
                      voice.gender, f"{voice.median_f0:g} Hz", escape(detail))
    for info in backends.values():
        table.add_row(info.spec, "yes" if info.available else "no", "", "", escape(info.detail))
    out.print(table)


def main() -> None:
    started = time.perf_counter()
    try:
        app()
    finally:
        if os.environ.get("VOICE_TIMING"):
            print(f"voice: {time.perf_counter() - started:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
