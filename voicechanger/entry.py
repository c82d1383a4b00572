"""The ``voice`` command's entry point: it re-executes itself once with huge-page malloc (memory.py)
before importing the CLI, so that the re-execution costs an interpreter start and no more."""

from __future__ import annotations

from .runtime.memory import with_huge_page_malloc


def main() -> None:
    with_huge_page_malloc()
    from .cli import main as cli_main

    cli_main()
