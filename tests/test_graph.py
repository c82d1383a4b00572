"""The core's execution model in milliseconds: Graph, Store and cache keys with fake stages (in the
manner of Kedro's runner tests with identity nodes), and the real recording plan's keys without
running a stage. What needs real models stays in the end-to-end tests (test_cache.py)."""

from __future__ import annotations

import dataclasses
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from speech import store_events
from voicechanger.config import load_settings
from voicechanger.graph import Graph, make_node
from voicechanger.plan import front_nodes, plan_from_spans
from voicechanger.stages import STAGES, Context, Output, Stage, Stages
from voicechanger.store import Store, sha256_file, stable_key


class Calls:
    """What the fake stages were asked to do, in order."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.lock = threading.Lock()
        self.stages: dict[str, Stage] = {}  # the fake stages, by name

    def add(self, name: str) -> None:
        with self.lock:
            self.names.append(name)


@pytest.fixture
def calls() -> Calls:
    """Three fake stages, made as the pipeline's stages are: ``src`` (a parameter and the setting
    chunk_minutes) → ``double`` (the setting stress) → ``total`` (reads nothing). Nodes are made of
    the stage objects (make_node), so a test changes a stage by passing another one."""
    record = Calls()

    def src(ctx: Context) -> Output:
        record.add("src")
        base = ctx.params["n"] * ctx.settings.chunk_minutes
        return Output({"n": base}, arrays={"x": np.arange(4, dtype=np.float32) * base})

    def double(ctx: Context) -> Output:
        record.add("double")
        x = np.asarray(ctx.one("src").array("x")) * 2
        (ctx.scratch / "x.bin").write_bytes(x.tobytes())   # a file moved in from scratch, as concat does
        return Output({"sum": float(x.sum())}, files={"x.bin": ctx.scratch / "x.bin"})

    def total(ctx: Context) -> Output:
        record.add("total")
        return Output({"total": sum(a.meta["sum"] for a in ctx.all("double"))}, files={"note": b"ok"})

    for stage in (Stage("src", 1, ("chunk_minutes",), src, key_params=("n",)), Stage("double", 1, ("stress",), double),
                  Stage("total", 1, (), total)):
        record.stages[stage.name] = stage
    return record


def _nodes(fakes: dict[str, Stage], settings, root: str = "root", n: int = 3, label: str = ""):
    src = make_node(fakes["src"], settings, root=root, n=n, label=label)
    double = make_node(fakes["double"], settings, (src,))
    return src, double, make_node(fakes["total"], settings, (double,))


@pytest.fixture
def settings():
    return load_settings("fast")


def test_ensure_computes_in_dependency_order_then_hits(calls, settings, tmp_path):
    store = Store(tmp_path / "store")
    _, _, total = _nodes(calls.stages, settings)
    graph = Graph(store, settings)
    assert graph.ensure(total).meta["total"] == 2 * sum(range(4)) * 3 * settings.chunk_minutes
    assert calls.names == graph.ran == ["src", "double", "total"]
    again = Graph(Store(tmp_path / "store"), settings)   # a new run (process) on the same store
    artifact = again.ensure(total)
    assert again.ran == [] and calls.names == ["src", "double", "total"]
    assert artifact.file("note").read_bytes() == b"ok"
    assert [e["event"] for e in store_events(tmp_path / "store")] == ["put", "put", "put", "hit"]
    assert not any((tmp_path / "store" / ".scratch").iterdir())   # each stage's scratch is removed


def test_a_stored_node_does_not_read_its_inputs(calls, settings, tmp_path):
    """Demand-driven: with the final artifact stored, its inputs may be gone (pruned) and nothing runs."""
    store = Store(tmp_path / "store")
    src, double, total = _nodes(calls.stages, settings)
    Graph(store, settings).ensure(total)
    for node in (src, double):
        shutil.rmtree(store.path_of(node.name, node.key))
    graph = Graph(store, settings)
    graph.ensure(total)
    assert graph.ran == []
    assert not store.has("src", src.key)


@pytest.mark.parametrize("change, reran", [
    ({"chunk_minutes": 1.0}, ["src", "double", "total"]),   # read by the first stage
    ({"stress": False}, ["double", "total"]),                # read by the middle one
    ({"whisper.beam_size": 3}, []),                          # read by none
])
def test_a_setting_reruns_exactly_the_stages_below_its_reader(calls, tmp_path, change, reran):
    store = Store(tmp_path / "store")
    Graph(store, load_settings("fast")).ensure(_nodes(calls.stages, load_settings("fast"))[2])
    changed = load_settings("fast", change)
    graph = Graph(store, changed)
    graph.ensure(_nodes(calls.stages, changed)[2])
    assert graph.ran == reran


def test_parameters_in_the_key_and_the_root(calls, settings):
    base = _nodes(calls.stages, settings)
    assert _nodes(calls.stages, settings, n=4)[0].key != base[0].key          # a key parameter
    assert [n.key for n in _nodes(calls.stages, settings, label="[1/2]")] == [n.key for n in base]   # a label is not
    assert [n.key for n in _nodes(calls.stages, settings, root="other")] != [n.key for n in base]
    assert all(a != b for a, b in zip(_nodes(calls.stages, settings, root="other"), base))


def test_a_version_bump_reruns_the_stage_and_its_dependants(calls, settings, tmp_path):
    store = Store(tmp_path / "store")
    Graph(store, settings).ensure(_nodes(calls.stages, settings)[2])
    bumped = {**calls.stages, "double": dataclasses.replace(calls.stages["double"], version=2)}
    graph = Graph(store, settings)
    graph.ensure(_nodes(bumped, settings)[2])
    assert graph.ran == ["double", "total"]


def test_a_corrupt_artifact_is_recomputed_not_trusted(calls, settings, tmp_path):
    store = Store(tmp_path / "store")
    _, double, total = _nodes(calls.stages, settings)
    Graph(store, settings).ensure(total)
    (store.path_of("double", double.key) / "x.bin").write_bytes(b"\0" * 16)   # same size, other bytes
    (store.path_of("total", total.key) / "note").write_bytes(b"bad")
    graph = Graph(Store(tmp_path / "store"), settings)   # a fresh store object verifies again
    assert graph.ensure(total).file("note").read_bytes() == b"ok"
    assert graph.ran == ["double", "total"]
    corrupt = [(e["stage"], e["why"]) for e in store_events(tmp_path / "store") if e["event"] == "corrupt"]
    assert corrupt == [("total", "note has 3 bytes, expected 2"), ("double", "x.bin fails its checksum")]


def test_a_failing_stage_stores_nothing_and_the_rerun_computes(calls, settings, tmp_path):
    store = Store(tmp_path / "store")

    class EngineDied(Exception):
        pass

    def broken(ctx: Context) -> Output:
        (ctx.scratch / "half").write_bytes(b"half")
        raise EngineDied("killed")   # a failure is not stored: it would be replayed forever

    failing = {**calls.stages, "double": dataclasses.replace(calls.stages["double"], run=broken)}
    src, double, total = _nodes(failing, settings)
    with pytest.raises(EngineDied):
        Graph(store, settings).ensure(total)
    assert store.has("src", src.key) and not store.has("double", double.key) and not store.has("total", total.key)
    assert not any((tmp_path / "store" / ".scratch").iterdir())
    assert not list((tmp_path / "store").rglob(".tmp-*"))
    graph = Graph(store, settings)
    graph.ensure(_nodes(calls.stages, settings)[2])   # the same keys, with the working stage
    assert graph.ran == ["double", "total"]


def test_threads_asking_for_one_node_compute_it_once(calls, settings, tmp_path):
    """Two chains share an input (decode, in the pipeline): the second thread waits for the first."""
    entered, release = threading.Event(), threading.Event()
    real = calls.stages["src"]

    def slow_src(ctx: Context) -> Output:
        entered.set()
        release.wait(10)
        return real.run(ctx)

    graph = Graph(Store(tmp_path / "store"), settings)
    src = make_node(dataclasses.replace(real, run=slow_src), settings, root="r", n=1)
    a, b = make_node(calls.stages["double"], settings, (src,), label="a"), make_node(calls.stages["total"], settings, (src,))
    results: dict[str, object] = {}
    first = threading.Thread(target=lambda: results.setdefault("a", graph.ensure(a)))
    first.start()
    assert entered.wait(10)
    second = threading.Thread(target=lambda: results.setdefault("b", graph.ensure(b)))
    second.start()
    release.set()
    first.join(10)
    second.join(10)
    assert calls.names.count("src") == 1 and graph.ran.count("src") == 1
    assert set(results) == {"a", "b"}


def test_two_writers_of_one_key_both_succeed(tmp_path):
    """Another process finished the same artifact first: the rename fails, its copy is returned."""
    one, two = Store(tmp_path / "s"), Store(tmp_path / "s")
    first = one.put("x", "k" * 64, {"by": 1}, files={"f": b"abc"})
    second = two.put("x", "k" * 64, {"by": 2}, files={"f": b"abc"})
    assert second.path == first.path and second.meta == {"by": 1}
    assert not list((tmp_path / "s").rglob(".tmp-*"))


def test_keys_are_canonical():
    assert stable_key({"a": 1, "b": [1, 2]}) == stable_key({"b": [1, 2], "a": 1})
    assert stable_key("x", 1) != stable_key("x", 2)


# -- the real recording plan: which keys a change of setting moves (no stage runs) -----------------
def _plan_keys(tmp_path: Path, profile: str = "fast", fmt: str = "mp3", name: str = "in.wav",
               stages: Stages = STAGES, **overrides) -> dict[str, set[str]]:
    """Stage name → the keys of its nodes, for a two-chunk recording."""
    settings = load_settings(profile, overrides)
    source = tmp_path / name
    if not source.exists():
        source.write_bytes(b"RIFF fake: only its bytes are hashed")
    root = sha256_file(source)
    decode, chunk = front_nodes(settings, source, root, stages)
    plan = plan_from_spans(settings, decode, chunk, [[0, 32000], [32000, 64000]], fmt, root, stages=stages)
    keys: dict[str, set[str]] = {}
    for node in plan.nodes():
        keys.setdefault(node.name, set()).add(node.key)
    return keys


def _moved(tmp_path: Path, **change) -> set[str]:
    before, after = _plan_keys(tmp_path), _plan_keys(tmp_path, **change)
    assert before.keys() == after.keys()
    return {name for name in before if before[name] != after[name]}


@pytest.mark.parametrize("change, moved", [
    ({"prosody.fit_rate": False}, {"synthesize", "prosody", "concat"}),   # another voice's timing
    ({"voice": "festival:other"}, {"synthesize", "prosody", "concat"}),
    ({"voice": "olga"}, {"synthesize", "prosody", "concat"}),                # a catalogue voice
    ({"prosody.mode": "full"}, {"prosody", "concat"}),
    ({"output.loudness_lufs": -20.0}, {"concat"}),
    ({"whisper.beam_size": 2}, {"transcribe", "stress", "synthesize", "prosody", "concat", "transcript"}),
    ({"stress": False}, {"stress", "synthesize", "prosody", "concat", "transcript"}),
    ({"chunk_minutes": 1.0}, {"chunk"}),   # new spans would then give new chains: the plan is rebuilt
    ({"workers": 3}, set()),
])
def test_a_setting_moves_exactly_the_keys_below_its_reader(tmp_path, change, moved):
    assert _moved(tmp_path, **change) == moved


def test_another_output_format_moves_only_concat(tmp_path):
    before, after = _plan_keys(tmp_path), _plan_keys(tmp_path, fmt="flac")
    assert {name for name in before if before[name] != after[name]} == {"concat"}


def test_a_stage_version_bump_moves_it_and_everything_below(tmp_path):
    bumped = dataclasses.replace(STAGES.stress, version=STAGES.stress.version + 1)
    before = _plan_keys(tmp_path)
    after = _plan_keys(tmp_path, stages=dataclasses.replace(STAGES, stress=bumped))  # a registry passed in
    assert {n for n in before if before[n] != after[n]} == {"stress", "synthesize", "prosody", "concat", "transcript"}


def test_the_root_key_is_the_input_bytes_not_its_name(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "in.wav").write_bytes(b"same bytes")
    (b / "renamed copy.wav").write_bytes(b"same bytes")
    assert _plan_keys(a) == _plan_keys(b, name="renamed copy.wav")
    (b / "edited.wav").write_bytes(b"same bytes, edited")
    edited = _plan_keys(b, name="edited.wav")
    assert all(edited[stage] != keys for stage, keys in _plan_keys(a).items())


def test_the_registry_names_every_stage_once_in_pipeline_order():
    """The one registry (plan, progress, summaries, the flow's priorities, the Prefect tasks) holds each
    stage module's stage once, in the order a recording meets them."""
    from tasks.stages import TASKS
    from voicechanger.stages import base

    modules = sorted(p.stem for p in Path(base.__file__).parent.glob("*.py") if p.stem not in ("__init__", "base", "contracts"))
    assert sorted(STAGES.names()) == modules and len(set(STAGES.names())) == len(STAGES)
    assert STAGES.rank("decode") == 0 and STAGES.rank("stress-phrase") == len(STAGES)   # a memo comes last
    order = STAGES.names()
    assert order.index("transcribe") < order.index("stress") < order.index("synthesize") < order.index("prosody")
    assert {name: task.retries for name, task in TASKS.items()} == {s.name: s.retries for s in STAGES}
