"""Russian stress marks and ё restoration with silero-stress.

Festival's msu_ru voice reads '+' before the stressed vowel (зам+ок -> z a m oo' k), and its own
stress rules are weak, so marking every word fixes many mispronunciations. silero-stress looks
at the whole phrase, so homographs (з+амок / зам+ок, м+ука / мук+а, всё / все) are resolved from
context where it can. Both of its steps run in numpy: the word step (engines/accentor.py) and the
homograph step (engines/homographs.py), from tables exported once from the model into the models
folder (``prepare_tables``, which `make install` runs). The torch model (shipped inside the
silero-stress wheel) is loaded only to export them, when they are missing; importing/loading it sets
torch's thread count to 1 and turns autograd off globally, and both are restored after loading so
other engines in the process keep their settings.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from voicechanger.engines import accentor, homographs
from voicechanger.engines.russian import VOWELS, fix_plus
from voicechanger.errors import VoiceError

__all__ = ["stress_tokens", "stress_text", "prepare_tables", "STRESSED_TOKEN_RE"]

#: A festival-safe stressed token: lowercase Cyrillic letters with at most one '+', which stands
#: right before a vowel, then at most one of ". , ! ?".
STRESSED_TOKEN_RE = re.compile(rf"^(?:[а-яё]*\+[{VOWELS}][а-яё]*|[а-яё]+)[.,!?]?$")

_TOKEN_PARTS = re.compile(r"^(.*?)([.,!?]*)$", re.S)
# Phrases longer than this many tokens are cut (at sentence marks where possible): the
# homograph model only looks at a window around each word anyway.
_MAX_TOKENS_PER_CALL = 200

_lock = threading.Lock()
_model: Any = None
_steps_lock = threading.Lock()
_steps: dict[Path, tuple[accentor.WordAccentor, homographs.HomographSolver]] = {}


class _LazyPattern:
    """A regular expression compiled on its first use.

    silero-stress pickles one compiled regex per homograph (1,477 of them), and unpickling compiles
    them all: 2.2 of the model's 2.9 s load here (measured), though a text meets only a handful."""

    __slots__ = ("pattern", "flags", "_compiled")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern, self.flags = pattern, flags  # as re.Pattern names them, readable uncompiled
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern, self.flags)
        return getattr(self._compiled, name)


def _load_accentor() -> Any:
    """``silero_stress.load_accentor("ru")``, with the pickled regexes compiled lazily (_LazyPattern)."""
    import silero_stress
    from torch.package import PackageImporter
    from torch.package.package_importer import PackageUnpickler

    class LazyRegexUnpickler(PackageUnpickler):
        def find_class(self, module: str, name: str) -> Any:
            if (module, name) == ("re", "_compile"):  # how a compiled re.Pattern pickles
                return _LazyPattern
            return super().find_class(module, name)

    # A path, not a handle closed after loading: the importer serves the model's source to
    # linecache, which tracebacks and Dask's worker profiler read (a closed one raises ValueError).
    importer = PackageImporter(str(Path(silero_stress.__file__).parent / "data" / "accentor.pt"))
    importer.Unpickler = lambda *args, **kwargs: LazyRegexUnpickler(importer, *args, **kwargs)
    accentor = importer.load_pickle("accentor_models", "accentor")
    # As load_accentor does: the homograph model's embedding table ships quantized.
    bert = accentor.homosolver.model.bert
    weight = bert.embeddings.word_embeddings.weight
    weight.data = bert.scale * (weight.data.clone() - bert.zero_point)
    accentor.tokenizer_source = importer.load_text("custom_tokenizers", "bert_tokenizer.py")  # for the export
    return accentor


def _load_model() -> Any:
    """Load silero-stress once; keep torch's thread count and grad mode as they were."""
    global _model
    if _model is not None:
        return _model
    with _lock:
        if _model is None:
            try:
                import torch
            except ImportError as exc:  # pragma: no cover - environment problem
                raise VoiceError(
                    "torch is not installed: install the project's dependencies "
                    "(pip install -e .) to use silero-stress") from exc
            threads = torch.get_num_threads()
            grad = torch.is_grad_enabled()
            try:
                model = _load_accentor()
            except ImportError as exc:
                raise VoiceError(
                    "silero-stress is not installed: pip install silero-stress") from exc
            finally:
                torch.set_num_threads(threads)
                torch.set_grad_enabled(grad)
            _model = model
            try:
                _export(model)
            except OSError:  # a read-only models folder: the next process loads torch again
                pass
    return _model


def _export(model: Any) -> Path:
    folder = accentor.export_tables(model)
    if not homographs.ready(folder):
        homographs.export(model, folder, model.tokenizer_source)
    return folder


def _tables_ready(folder: Path) -> bool:
    return accentor.ready(folder) and homographs.ready(folder)


def prepare_tables() -> Path:
    """The numpy steps' tables (engines/accentor.py, engines/homographs.py), exported from the torch
    model unless they are there."""
    folder = accentor.tables_dir()
    if not _tables_ready(folder):
        _export(_load_model())
    return folder


def _numpy_steps() -> tuple[accentor.WordAccentor, homographs.HomographSolver] | None:
    """Both steps in numpy, loaded once per process, or None while their tables are not exported
    (then the torch model runs, and a process that exports them uses them from then on)."""
    folder = accentor.tables_dir()
    with _steps_lock:
        if folder not in _steps and _tables_ready(folder):
            _steps[folder] = (accentor.WordAccentor(folder), homographs.HomographSolver(folder))
        return _steps.get(folder)


def warm_up() -> None:
    """Load the stress steps now (a runner calls this on a thread that would otherwise wait): the numpy
    tables, or the torch model where they are missing (which exports them)."""
    if _numpy_steps() is None:
        _load_model()


def _split(token: str) -> tuple[str, str]:
    """'слово,' -> ('слово', ','); the word is lowercased and reduced to letters and '+'."""
    m = _TOKEN_PARTS.match(token.strip())
    assert m is not None
    word = re.sub(r"[^а-яё+]", "", m.group(1).lower())
    marks = m.group(2)
    mark = ""
    for candidate in "?!.,":
        if candidate in marks:
            mark = candidate
            break
    return word, mark


def _plain(word: str) -> str:
    return word.replace("+", "").replace("ё", "е")


def _needs_model(word: str) -> bool:
    """Unmarked words with several vowels need a stress; an 'е' may need to become 'ё'."""
    if "+" in word:
        return False
    return sum(c in VOWELS for c in word) > 1 or "е" in word


def _run_model(sentence: str) -> str:
    """silero-stress on one sentence: both steps in numpy when their tables are there, else the model."""
    steps = _numpy_steps()
    if steps is not None:
        word_step, solver = steps
        return word_step.sentence(solver(sentence))
    import torch

    model = _load_model()
    with _lock, torch.no_grad():
        # One thread: these models are tiny, and on a busy machine torch's worker threads
        # spin against each other (measured: 3 ms with 1 thread, 150-800 ms with 2).
        threads = torch.get_num_threads()
        if threads != 1:
            torch.set_num_threads(1)
        try:
            return model(sentence, stress_single_vowel=False)
        finally:
            if threads != 1:
                torch.set_num_threads(threads)


def _stress_chunk(words: list[str], marks: list[str]) -> list[str]:
    if not any(_needs_model(w) for w in words):
        return list(words)
    steps = _numpy_steps()
    present = [w for w in words if w]
    if steps is not None and steps[1].context_free(present):
        said = iter(steps[0](present))
        return [next(said) if w else w for w in words]
    sentence = " ".join(w + m for w, m in zip(words, marks) if w or m)
    out = _run_model(sentence).split()
    kept = [k for k, (w, m) in enumerate(zip(words, marks)) if w or m]
    result = list(words)
    ok = len(out) == len(kept)
    if ok:
        for k, piece in zip(kept, out):
            new, _ = _split(piece)
            if _plain(new) != _plain(words[k]):
                ok = False
                break
            result[k] = new
    if not ok:
        # The model merged or split something: stress each word on its own (no context).
        result = [(_split(_run_model(w))[0] if _needs_model(w) else w) for w in words]
        result = [new if _plain(new) == _plain(w) else w for new, w in zip(result, words)]
    return result


def _chunks(n: int, marks: list[str]) -> list[tuple[int, int]]:
    spans = []
    start = 0
    while n - start > _MAX_TOKENS_PER_CALL:
        end = start + _MAX_TOKENS_PER_CALL
        for k in range(end - 1, start + _MAX_TOKENS_PER_CALL // 2, -1):
            if marks[k] in (".", "!", "?"):
                end = k + 1
                break
        spans.append((start, end))
        start = end
    spans.append((start, n))
    return spans


def stress_tokens(tokens: list[str]) -> list[str]:
    """Return the same tokens with '+' before the stressed vowel and ё restored.

    Trailing punctuation is kept. The whole list is given to the model as one phrase, so
    homographs (замок/замок, мука, все/всё, стоит) are resolved from context where
    silero-stress can. Tokens that already carry '+' are left as they are (a 'ё' gets its '+');
    one-vowel words get no '+' (festival stresses them anyway). Output tokens are lowercase
    Cyrillic letters, at most one '+' before a vowel, and at most one of ". , ! ?".
    """
    if not tokens:
        return []
    split = [_split(t) for t in tokens]
    words = [w for w, _ in split]
    marks = [m for _, m in split]
    stressed: list[str] = []
    for start, end in _chunks(len(words), marks):
        stressed.extend(_stress_chunk(words[start:end], marks[start:end]))
    # A token with no letters left says nothing; a lone mark would make festival abort.
    result = [fix_plus(w) + m if w else "" for w, m in zip(stressed, marks)]
    assert len(result) == len(tokens)
    return result


def stress_text(text: str) -> str:
    """Sanitise a phrase to festival-safe text, then stress it (convenience for one string)."""
    from voicechanger.engines.normalize import sanitize

    tokens = sanitize(text).split()
    return " ".join(stress_tokens(tokens))
