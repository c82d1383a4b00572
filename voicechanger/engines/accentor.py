"""silero-stress's word accentor in numpy, so that stress marking never imports torch.

silero-stress marks a phrase in two steps: a BERT model resolves the homographs (words in its homograph
dictionary or phrase patterns) from their context, then a small n-gram model (a fastText-style
embedding bag and two 4-layer MLPs) stresses every other word on its own, with an exceptions list
before it. When no word of a phrase is a homograph, the first step changes nothing and the result is
the second step's, word by word. That step is a few matrix products, and importing torch and
unpickling the whole package to run it costs about 2 s per process: most of what re-dubbing one
edited phrase costs. So the tables of that step are exported once (``export_tables``, from the loaded
torch model, into the models folder) and this module runs it in numpy, on a phrase's words or (after
the homograph step, engines/homographs.py) on its whole sentence. ``tests/test_stress.py`` checks that
both give the same stress for the Festival dictionary's 180,000 words.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from voicechanger.engines.russian import VOWELS
from voicechanger.paths import models_dir

__all__ = ["WordAccentor", "export_tables", "ready", "tables_dir"]

# The accentor's own definitions (silero_stress models/accentor.py), kept as it has them.
_NOT_LETTERS = re.compile(r"[^А-Яа-яёЁ]")
_SEPARATORS = re.compile(r"([\s.,!?;:<>=()/\\]+)")
_LAYERS = 4  # Linear+ReLU x3, then the output Linear, in both classifiers



def tables_dir() -> Path:
    """Where this silero-stress release's exported tables live (one folder per release)."""
    return models_dir() / f"silero-stress-{importlib.metadata.version('silero-stress')}"


def ready(folder: Path) -> bool:
    """Whether the word step's tables are exported in ``folder`` (tables.json is written last)."""
    return (folder / "tables.json").is_file()


def export_tables(model: Any, target: Path | None = None) -> Path:
    """Write the word accentor's tables of a loaded silero-stress model (atomically: a folder renamed
    into place, so a reader never sees half of them)."""
    target = target or tables_dir()
    if ready(target):
        return target
    accentor = model.accentor
    state = {k: v.detach().cpu().numpy() for k, v in accentor.model.state_dict().items()}
    grams = accentor.model.embedding.ngram_dict
    order = sorted(grams, key=grams.__getitem__)
    assert [grams[g] for g in order] == list(range(len(order))), "n-gram ids are not 0..n-1"
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    tmp.mkdir(parents=True, exist_ok=True)
    np.savez(tmp / "weights.npz", **state)
    meta = {
        "ngrams": order,
        "exceptions": {w: list(v) for w, v in accentor.exceptions.items()},
    }
    (tmp / "tables.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    try:
        os.replace(tmp, target)
    except OSError:  # another process got there first: theirs is the same
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    return target


class WordAccentor:
    """The context-free step of silero-stress (its ``AccentorNgram``) for phrases without homographs."""

    def __init__(self, folder: Path) -> None:
        meta = json.loads((folder / "tables.json").read_text(encoding="utf-8"))
        self.ngrams: dict[str, int] = {g: i for i, g in enumerate(meta["ngrams"])}
        self.exceptions: dict[str, tuple[int, int]] = {w: (v[0], v[1]) for w, v in meta["exceptions"].items()}
        with np.load(folder / "weights.npz") as weights:
            self.weights = {k: weights[k] for k in weights.files}

    def __call__(self, words: list[str]) -> list[str]:
        """Each word (lowercase letters and '+') as silero-stress's word step marks it, with
        ``stress_single_vowel=False``: '+' before the stressed vowel, 'ё' restored."""
        clean = [_NOT_LETTERS.sub("", w) for w in words]
        stress_probs, yo_probs = self._predict(clean)
        return [self._accent(w, c, sp, yp) if c else w for w, c, sp, yp in zip(words, clean, stress_probs, yo_probs)]

    def sentence(self, text: str) -> str:
        """``AccentorNgram.__call__`` on a whole sentence (``stress_single_vowel=False``): split as it
        splits (separators and hyphens kept in place), each word marked as ``__call__`` marks it."""
        tokens: list[str] = []
        wanted: list[bool] = []
        for piece in _SEPARATORS.split(text):
            parts = piece.split("-")
            if len(parts) == 1:
                tokens.append(piece)
                wanted.append(True)
            else:
                tokens += [part + "-" for part in parts[:-1]] + [parts[-1]]
                wanted += [True] * (len(parts) - 1) + [parts[-1] != "то"]  # its rule for что-то, кому-то
        clean = [_NOT_LETTERS.sub("", t.lower()) for t in tokens]
        stress_probs, yo_probs = self._predict(clean)
        return "".join(self._accent(t, c, sp, yp) if c and want else t
                       for t, c, want, sp, yp in zip(tokens, clean, wanted, stress_probs, yo_probs))

    def _predict(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        bags = np.stack([self._embed(w) for w in words]) if words else np.zeros((0, 16), np.float32)
        return _softmax(self._mlp("stress_clf", bags)), _softmax(self._mlp("yo_clf", bags))

    def _embed(self, word: str) -> np.ndarray:
        """The mean of the word's character n-gram vectors (fastText style, '<' and '>' around it)."""
        text = f"<{word}>"
        grams = [text[i:i + n] for n in range(1, len(word) + 4) for i in range(len(text) - n + 1)]
        if not word:
            grams.append(word)
        ids = [self.ngrams[g] for g in grams if g in self.ngrams] or [self.ngrams["UNK"]]
        return self.weights["embedding.weight"][ids].mean(axis=0, dtype=np.float32)

    def _mlp(self, name: str, x: np.ndarray) -> np.ndarray:
        for layer in range(_LAYERS):
            x = x @ self.weights[f"{name}.{2 * layer}.weight"].T + self.weights[f"{name}.{2 * layer}.bias"]
            if layer < _LAYERS - 1:
                x = np.maximum(x, 0)
        return x

    def _accent(self, raw: str, clean: str, stress_probs: np.ndarray, yo_probs: np.ndarray) -> str:
        """AccentorNgram.__call__'s rules for one word, in the same order."""
        lower = raw.lower()
        have_stress, have_yo = "+" in lower, "ё" in lower
        if have_stress and have_yo:
            return raw
        if have_yo:
            if sum(c in VOWELS for c in lower) == 1:
                return raw
            for i, pos in enumerate([i for i, c in enumerate(lower) if c == "ё"]):
                raw = raw[:pos + i] + "+" + raw[pos + i:]
            return raw
        if clean in self.exceptions:
            return self._exception(clean, raw, have_stress)
        stressed = [int(np.argmax(stress_probs))]
        set_stress = bool(stress_probs[stressed[0]] > 0.5) and not have_stress
        yo_ids = [int(np.argmax(yo_probs))]
        set_yo = bool(yo_probs[yo_ids[0]] > 0.5)
        if have_stress:
            stressed = [sum(part.count(v) for v in VOWELS) for part in lower.split("+")]
        vowel_pos = [i for i, c in enumerate(lower) if c in VOWELS]
        ye_pos = [i for i, c in enumerate(lower) if c == "е"]
        stress_at = [vowel_pos[k] for k in stressed if k < len(vowel_pos)]
        yo_at = [ye_pos[k - 1] for k in yo_ids if 0 < k and k - 1 < len(ye_pos)]
        if not vowel_pos:
            return raw
        for pos in yo_at:
            if pos in stress_at and set_yo and lower[pos] == "е":
                raw = raw[:pos] + "ё" + raw[pos + 1:]
        if len(vowel_pos) == 1:
            return raw  # one vowel: no mark (stress_single_vowel=False)
        if not have_stress and set_stress:
            for i, pos in enumerate(stress_at):
                raw = raw[:pos + i] + "+" + raw[pos + i:]
        return raw

    def _exception(self, clean: str, raw: str, have_stress: bool) -> str:
        stress, yo = self.exceptions[clean]
        if have_stress:
            marks = [i for i, c in enumerate(raw) if c == "+"]
            word = raw.replace("+", "")
            if yo != -1 and yo + 1 in marks:
                word = word[:yo] + "ё" + word[yo + 1:]
            for pos in marks:
                word = word[:pos] + "+" + word[pos:]
            return word
        if yo != -1:
            raw = raw[:yo] + "ё" + raw[yo + 1:]
        return raw[:stress] + "+" + raw[stress:]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
