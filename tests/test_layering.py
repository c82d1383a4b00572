"""Layering, read from the source: the core (voicechanger/) imports neither the orchestration layer
(flows/, tasks/) nor Prefect, lazy imports included; runners outside the core are found by name."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from speech import ROOT, prompt, run_cli
from voicechanger.errors import VoiceError
from voicechanger.runners.registry import GROUP, Runner, RunnerNotFound, load_runner, registered

FORBIDDEN = ("flows", "tasks", "prefect", "prefect_dask")
CORE = ROOT / "voicechanger"


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every module an import statement names (at any depth: inside functions too), and every literal
    given to importlib.import_module or __import__."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def _forbidden_imports(source: str, filename: str) -> list[str]:
    return [f"{filename}:{line}: {module}" for line, module in _imported_modules(ast.parse(source, filename))
            if module.split(".")[0] in FORBIDDEN]


def test_core_imports_no_orchestration_layer():
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 20   # the whole package is read, engines/ and stages/ included
    bad = [hit for path in files for hit in _forbidden_imports(path.read_text(encoding="utf-8"),
                                                                str(path.relative_to(ROOT)))]
    assert not bad, bad


@pytest.mark.parametrize("source", [
    "def f():\n    from flows.voice import voice\n",
    "import prefect.logging\n",
    "if True:\n    import tasks.stages as t\n",
    "import importlib\nimportlib.import_module('prefect_dask')\n",
    "def f():\n    __import__('flows.runner')\n",
])
def test_the_check_sees_every_kind_of_import(source):
    assert _forbidden_imports(source, "x.py")


def test_relative_and_unrelated_imports_pass():
    assert not _forbidden_imports("from .tasks import x\nimport flowsheet\nfrom . import flows\n", "x.py")


def test_prefect_runner_is_registered_and_loads_without_prefect():
    """The core finds the runner by name; loading it imports flows.runner but not Prefect (the flow,
    and with it Prefect, is imported when the runner runs)."""
    assert registered()["prefect"] == "flows.runner:PrefectRunner"
    code = ("import sys; from voicechanger.runners.registry import load_runner, Runner; r = load_runner('prefect'); "
            "assert isinstance(r, Runner), r; assert type(r).__module__ == 'flows.runner', type(r); "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('prefect', 'prefect_dask')); "
            "assert not bad, bad")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_unknown_runner_is_one_clear_error():
    with pytest.raises(RunnerNotFound, match=f"no runner 'nope' is registered.*{GROUP}") as caught:
        load_runner("nope")
    assert isinstance(caught.value, VoiceError) and caught.value.exit_code == 2


def test_prefect_runner_that_cannot_be_loaded(tmp_path: Path):
    """A registration whose module is missing (flows/ not installed): `voice convert --prefect` says so
    in one line, exits 2 and writes nothing. The registration is a real distribution's metadata found
    first on PYTHONPATH."""
    dist = tmp_path / "site" / "broken_runner-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-runner\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{GROUP}]\nprefect = no_such_flows.runner:PrefectRunner\n")
    out = tmp_path / "out"
    out.mkdir()
    # Run from tmp_path with the broken registration first on the path: a checkout's own metadata
    # (voicechanger.egg-info beside pyproject.toml) must not come before it.
    done = run_cli("convert", str(prompt("one-moment-please")), str(out / "x.mp3"), "--prefect",
                   "--cache-dir", str(tmp_path / "cache"), cwd=tmp_path,
                   env={"PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(ROOT)])})
    line = _clean_one_line_failure(done, out)
    assert "runner 'prefect'" in line and "no_such_flows" in line, line


def _clean_one_line_failure(done, out: Path) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    assert not any(out.iterdir())
    return lines[0]


def test_prefect_runner_without_prefect_installed(tmp_path: Path):
    """The runner is registered but Prefect cannot be imported (a package on the path that refuses to
    import stands for an environment without it): one line naming the flow, exit 2, nothing written."""
    shim = tmp_path / "no-prefect" / "prefect"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text('raise ImportError("No module named \'prefect\'")\n')
    out = tmp_path / "out"
    out.mkdir()
    done = run_cli("convert", str(prompt("one-moment-please")), str(out / "x.mp3"), "--prefect",
                   "--cache-dir", str(tmp_path / "cache"), cwd=tmp_path,
                   env={"PYTHONPATH": os.pathsep.join([str(shim.parent), str(ROOT)])})
    line = _clean_one_line_failure(done, out)
    assert "cannot load the Prefect flow" in line and "prefect" in line and "pip install" in line, line


def test_runner_protocol_is_structural():
    class Local:
        def run(self, input, output, *, profile, settings, cache_dir, output_format="mp3") -> int:
            return 0

    assert isinstance(Local(), Runner) and not isinstance(object(), Runner)


MAX_TOP_MODULES, MAX_MODULE_LINES, MAX_FUNCTION_LINES = 15, 450, 80


def test_layers_are_packages_and_pieces_stay_small():
    """The core's top folder shows the layers (at most 15 modules beside the packages); no module of
    the core, the flows or the tasks is over 450 lines and no function over 80."""
    top = sorted(p.name for p in (ROOT / "voicechanger").glob("*.py"))
    assert len(top) <= MAX_TOP_MODULES, top
    long_modules, long_functions = [], []
    for folder in ("voicechanger", "flows", "tasks"):
        for path in (ROOT / folder).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            if source.count("\n") > MAX_MODULE_LINES:
                long_modules.append((str(path.relative_to(ROOT)), source.count("\n")))
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = (node.end_lineno or node.lineno) - node.lineno + 1
                    if lines > MAX_FUNCTION_LINES:
                        long_functions.append((str(path.relative_to(ROOT)), node.name, lines))
    assert not long_modules and not long_functions, (long_modules, long_functions)
