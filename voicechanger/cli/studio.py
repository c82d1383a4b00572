"""`voice studio`: review, correct and re-dub one recording in a local web page (voicechanger/studio)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import Interrupted
from ..runtime import interrupt
from .app import CACHE_DIR_HELP, _interrupted, _profile, _running, _settings, app, console, out


@app.command("studio")
def studio_command(
    input: Path = typer.Argument(..., help="A recording."),
    output: Optional[Path] = typer.Argument(None, help="The output file; default INPUT's name with .voice.mp3, "
                                            "beside it. Its studio folder (OUTPUT's name with .studio) keeps the edits."),
    port: int = typer.Option(8765, "--port", help="The page's port (0: any free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Serve on another interface; the page then needs the "
                             "token in the address printed."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser; print the address only."),
    profile: Optional[str] = typer.Option(None, "--profile", "-p", help="fast, normal, high, or a YAML file.",
                                          show_default="normal"),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=CACHE_DIR_HELP),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Convert INPUT if needed and open a page listing every phrase: hear the original and the new
    voice side by side, fix a word, a stress or a speaker's voice and re-dub it in seconds. Every edit
    is a `voice convert --script` run into the same cache; the script is saved as you go, and running
    `voice studio` again reopens where you left off. Ctrl-C closes it."""
    with _running(debug):
        from ..checks import check_not_input, check_writable_folder
        from ..media.audio import check_input, check_output
        from ..paths import default_cache_dir
        from ..store import Store, sha256_file
        from ..studio.serve import Studio
        from ..studio.session import Session, profile_settings

        check_input(input)
        target = output or input.with_name(f"{input.stem}.voice.mp3")
        check_output(target)
        check_not_input(target, input)
        profile_name = _profile(profile, None)
        _settings(profile_name)  # a bad profile fails here, before the server starts
        store_root = cache_dir or default_cache_dir()
        check_writable_folder(store_root, "cache folder")
        session = Session(input, target, Store(store_root), profile_settings(profile_name))
        session.state.claim(input, sha256_file(input))  # before the server: one line, no page
        studio = Studio(session, host, port)
        url = studio.start(open_browser=not no_browser)
        console.print(f"studio of {input.name} → {target}; Ctrl-C closes it", markup=False)
        out.print(url, markup=False)
        if studio.wait():  # Ctrl-C stopped a run: the CLI's words for an interrupted run, and its exit code
            _interrupted(Interrupted(interrupt.signal_number()))
        console.print(f"studio closed; the edits are kept in {studio.session.state.folder}", markup=False)
