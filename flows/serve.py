"""Serve the ``convert`` deployment of flow ``voice`` (``make serve``) against a running Prefect server.

    prefect server start                                   # terminal 1 (UI at http://127.0.0.1:4200)
    export PREFECT_API_URL=http://127.0.0.1:4200/api       # or: prefect config set PREFECT_API_URL=...
    make serve                                             # terminal 2: python -m flows.serve
    prefect deployment run voice/convert -p input=recordings/ -p output=out/ --watch

Flow runs execute in subprocesses of this process, in its working folder: relative paths in the run's
parameters (input, output, cache_dir) are relative to where ``make serve`` was started.
"""

from __future__ import annotations

import os
import sys

from voicechanger.errors import BAD_SETTING

for _name, _value in (("DO_NOT_TRACK", "1"), ("PREFECT_SERVER_ANALYTICS_ENABLED", "false")):
    os.environ.setdefault(_name, _value)


def main() -> None:
    from voicechanger.runtime.memory import with_huge_page_malloc

    with_huge_page_malloc()  # flow runs are subprocesses of this one and inherit it (memory.py)
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        print(
            "serve: no Prefect server configured; start one with `prefect server start` and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api (or `prefect config set PREFECT_API_URL=...`)",
            file=sys.stderr,
        )
        raise SystemExit(BAD_SETTING)
    from flows.voice import voice

    voice.serve(
        name="convert",
        description="Re-voice a recording or a folder: -p input=recordings/ -p output=out/ "
        "[-p profile=fast] [-p voice=festival:msu_ru_nsh] [-p cache_dir=cache] [-p output_format=mp4] "
        "[-p mix=voiceover] [-p keep_original_audio=true] [-p script=talk.script.srt] [-p lexicon=words.yaml]",
        tags=["voicechanger"],
    )


if __name__ == "__main__":
    main()
