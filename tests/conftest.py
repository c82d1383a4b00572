"""Shared fixtures: real speech inputs and conversions reused by several tests (models load once)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from speech import Assembled, assemble

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Tests run several conversions at once (two pytest workers, a subprocess CLI beside this process's models,
# two runs into one store): CTranslate2's OpenMP threads spin while they wait and take the cores the others
# need. Passive waiting costs a lone long conversion time (benchmarks/README.md), so only the tests set it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Prompts for the quality checks (about 260 s, 560 words): the demo prompts with numbers, Latin, names
# and a web address, then the longest menu and announcement prompts. Fewer words made the round-trip
# WER swing by +-0.07 between runs that differed in a few samples.
QUALITY_PROMPTS = ["demo-congrats", "demo-thanks", "demo-nogo", "demo-moreinfo", "basic-pbx-ivr-main", "vm-intro",
                   "demo-abouttotry", "priv-callee-options", "screen-callee-options", "vm-options", "vm-msginstruct",
                   "dir-intro", "dictate/play_help", "queue-periodic-announce", "tt-allbusy", "followme/status",
                   "vm-newuser"]
# A recording of more than 3 minutes made of several prompts with pauses.
LONG_PROMPTS = ["demo-instruct", "demo-congrats", "conf-adminmenu-162", "basic-pbx-ivr-main", "demo-abouttotry",
                "demo-moreinfo", "demo-nogo"]


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def quality_input(speech_dir: Path) -> Assembled:
    return assemble(QUALITY_PROMPTS, speech_dir / "quality.wav")


@pytest.fixture(scope="session")
def long_input(speech_dir: Path) -> Assembled:
    return assemble(LONG_PROMPTS, speech_dir / "long.wav", pause_s=1.5)


@pytest.fixture(scope="session")
def session_store(tmp_path_factory: pytest.TempPathFactory):
    """A store shared by the session's conversions; VOICECHANGER_TEST_STORE keeps one across runs
    while developing (CI never sets it, so every run there starts cold)."""
    from voicechanger.store import Store

    kept = os.environ.get("VOICECHANGER_TEST_STORE")
    return Store(kept if kept else tmp_path_factory.mktemp("store"))


def convert_with(assembled: Assembled, profile: str, store, out_dir: Path, **overrides):
    from voicechanger.config import load_settings
    from voicechanger.pipeline import convert

    settings = load_settings(profile, overrides)
    output = out_dir / f"{assembled.path.stem}.{profile}.wav"
    return convert(assembled.path, output, settings, store)


@pytest.fixture(scope="session")
def normal_result(quality_input: Assembled, session_store, speech_dir: Path):
    return convert_with(quality_input, "normal", session_store, speech_dir)


@pytest.fixture(scope="session")
def fast_result(quality_input: Assembled, session_store, speech_dir: Path):
    return convert_with(quality_input, "fast", session_store, speech_dir)


@pytest.fixture(scope="session")
def silero_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder with a stand-in Silero model (silero/v4_ru.pt) in torch.package form."""
    from fake_silero import build_fake_silero

    models = tmp_path_factory.mktemp("models")
    build_fake_silero(models, tmp_path_factory.mktemp("fake-src"))
    return models
