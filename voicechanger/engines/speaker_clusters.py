"""Speaker embeddings of the speech's windows grouped into speakers: clusters (their number found
from the recording), smoothed in time into pieces and turns."""

from __future__ import annotations

import numpy as np

from .voice_encoder import span_windows

# --------------------------------------------------------------------------- windows

_WIN = 150          # frames per window inside speech (1.5 s)
_WIN_HOP = 150      # no overlap: the encoder's cost is what the stage costs (see find_speakers)
_MIN_SPAN = 40      # speech shorter than 0.4 s gets no embedding of its own; its neighbours label it


def speech_windows(spans: list[tuple[float, float]]) -> list[tuple[int, int]]:
    """Mel-frame windows over the speech spans (seconds)."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        first, last = int(round(start * 100)), int(round(end * 100))
        if last - first >= _MIN_SPAN:
            out += span_windows(first, last, _WIN, _WIN_HOP)
    return out


# --------------------------------------------------------------------------- clustering

_MAX_SPLIT = 16         # partitions tried (more than the 12 speakers a setting may ask for)
# Normalised similarity (see normalised_similarity) at or above which two clusters are one speaker.
# Measured on the test voices: two women through the phone codec 0.874 (clean 0.83), a man's
# expressive monologue split in two 0.894, a clean monologue 0.911, through the codec 0.931, at
# 10 dB SNR 0.959: a narrow gap, with 0.885 in it.
_SAME = 0.885
_MIN_SPEAKER_S = 8.0    # a cluster with less speech than this is not a speaker of its own
_KMEANS_ROUNDS = 8
# A window shorter than this (a short prompt, a span's tail) says too little of a voice to found a
# speaker: Resemblyzer's embeddings of under a second of speech scatter, and a monologue's short words
# gathered into a "speaker" of their own. They join the nearest speaker found from the longer windows.
_RELIABLE_S = 1.2


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def _weights(seconds: np.ndarray) -> np.ndarray:
    """A window's weight: the share of a full window's speech it holds."""
    return np.minimum(seconds / (_WIN / 100), 1.0)


def _centroids(E: np.ndarray, labels: np.ndarray, weights: np.ndarray, names: np.ndarray | list) -> np.ndarray:
    """The unit weighted mean of each named cluster's windows, in the order of ``names``."""
    return _unit(np.stack([(E[labels == c] * weights[labels == c, None]).sum(0) for c in names]))


def normalised_similarity(E: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """How alike two clusters' voices are, whatever their sizes: the mean similarity between their
    windows over the geometric mean of the mean similarity inside each. One speaker's two halves come
    out ~0.97-1.0 (clean against phone codec 0.97); two women of similar register 0.77-0.84, a woman
    and a man ~0.65 (measured on the test voices). A plain centroid cosine grows with the clusters'
    sizes; this does not."""
    inner = [_inner(E[m]) for m in (a, b)]
    between = float(np.mean(E[a] @ E[b].T))
    return between / float(np.sqrt(max(inner[0] * inner[1], 1e-6)))


def _inner(X: np.ndarray) -> float:
    n = len(X)
    if n < 2:
        return 0.75  # one window: a typical speaker's own window-to-window similarity
    sims = X @ X.T
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def _refine(E: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Spherical k-means from a first partition: each window to its nearest (weighted) centroid."""
    for _ in range(_KMEANS_ROUNDS):
        names = np.unique(labels)
        centroids = _centroids(E, labels, weights, names)
        new = names[np.argmax(E @ centroids.T, axis=1)]
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def _absorb_small(E: np.ndarray, labels: np.ndarray, weights: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Clusters with under _MIN_SPEAKER_S of speech handed to the nearest big one (outliers: a laugh, a
    cough, a window across two voices), unless no cluster is big."""
    totals = {c: float(seconds[labels == c].sum()) for c in np.unique(labels)}
    big = [c for c, s in totals.items() if s >= _MIN_SPEAKER_S]
    if not big or len(big) == len(totals):
        return labels
    centroids = _centroids(E, labels, weights, big)
    nearest = np.array(big)[np.argmax(E @ centroids.T, axis=1)]
    return np.where(np.isin(labels, big), labels, nearest)


def _partition(E: np.ndarray, tree: np.ndarray, k: int, weights: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster

    labels = fcluster(tree, k, criterion="maxclust")
    labels = _refine(E, labels, weights)
    return _refine(E, _absorb_small(E, labels, weights, seconds), weights)


def _distinct(E: np.ndarray, labels: np.ndarray) -> bool:
    names = np.unique(labels)
    return all(normalised_similarity(E, labels == a, labels == b) < _SAME
               for i, a in enumerate(names) for b in names[i + 1:])


def cluster(E: np.ndarray, seconds: np.ndarray, count: int | None) -> np.ndarray:
    """A speaker index per window. The speakers are found from the windows of at least _RELIABLE_S
    (see _cluster); each shorter window joins the nearest of them."""
    reliable = seconds >= _RELIABLE_S
    if reliable.sum() < 2 or reliable.all():
        return _cluster(E, seconds, count)
    found = _cluster(E[reliable], seconds[reliable], count)
    names = np.unique(found)
    centroids = _centroids(E[reliable], found, _weights(seconds[reliable]), names)
    labels = np.empty(len(E), dtype=int)
    labels[reliable] = found
    labels[~reliable] = names[np.argmax(E[~reliable] @ centroids.T, axis=1)]
    return _renumber(labels)


def _cluster(E: np.ndarray, seconds: np.ndarray, count: int | None) -> np.ndarray:
    """A speaker index per window. ``count`` None: the partition with the most clusters (each with
    _MIN_SPEAKER_S of speech) that are all distinct voices; else ``count`` clusters (fewer where there
    are fewer windows)."""
    from scipy.cluster.hierarchy import linkage

    n = len(E)
    if n < 2 or count == 1:
        return np.zeros(n, dtype=int)
    weights = _weights(seconds)
    tree = linkage(E.astype(np.float64), method="average", metric="cosine")
    if count is not None:
        from scipy.cluster.hierarchy import fcluster

        return _renumber(_refine(E, fcluster(tree, min(count, n), criterion="maxclust"), weights))
    best = np.zeros(n, dtype=int)
    for k in range(2, min(_MAX_SPLIT, n) + 1):
        labels = _partition(E, tree, k, weights, seconds)
        found = len(np.unique(labels))
        # every speaker needs _MIN_SPEAKER_S of speech: in a recording shorter than two of those
        # (a 3 s prompt) _absorb_small finds no big cluster and would keep a split of one voice
        big = all(seconds[labels == c].sum() >= _MIN_SPEAKER_S for c in np.unique(labels))
        if found > len(np.unique(best)) and big and _distinct(E, labels):
            best = labels
        elif found > len(np.unique(best)) + 3:  # far past the last valid partition: splitting voices now
            break
    return _renumber(best)


def _renumber(labels: np.ndarray) -> np.ndarray:
    """0, 1, ... in order of first appearance."""
    order = {c: k for k, c in enumerate(dict.fromkeys(labels.tolist()))}
    return np.array([order[c] for c in labels.tolist()], dtype=int)


# --------------------------------------------------------------------------- turns

# Viterbi over the windows in time order: a window's score for a speaker is its similarity to the
# speaker's centroid (weighted by how much speech it holds); changing speaker costs _SWITCH inside one
# stretch of speech and _SWITCH_AT_PAUSE across a pause, where turns usually change.
_SWITCH = 0.25
_SWITCH_AT_PAUSE = 0.04
_JOIN_S = 2.0       # a speaker's consecutive pieces closer than this are one turn


def _smooth(E: np.ndarray, labels: np.ndarray, weights: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """The most likely label sequence; ``breaks[i]``: a pause lies between window i-1 and i."""
    names = np.unique(labels)
    if len(names) < 2:
        return labels
    centroids = _centroids(E, labels, weights, names)
    score = (E @ centroids.T) * weights[:, None]
    n, k = score.shape
    total, back = score[0].copy(), np.zeros((n, k), dtype=int)
    for i in range(1, n):
        cost = _SWITCH_AT_PAUSE if breaks[i] else _SWITCH
        moves = total[:, None] - cost * (1 - np.eye(k))
        back[i] = np.argmax(moves, axis=0)
        total = moves[back[i], np.arange(k)] + score[i]
    path = np.zeros(n, dtype=int)
    path[-1] = int(np.argmax(total))
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return names[path]


def _pieces(spans: list[tuple[float, float]], windows: list[tuple[int, int]], labels: np.ndarray
            ) -> list[tuple[float, float, int]]:
    """Speech cut into (start, end, speaker) pieces: each window's stretch, its span's edges kept; a
    span too short for a window takes the label of the nearest window."""
    if not windows:
        return []
    centres = np.array([(a + b) / 200 for a, b in windows])
    out = []
    for start, end in spans:
        inside = [i for i, (a, b) in enumerate(windows) if a / 100 >= start - 0.011 and b / 100 <= end + 0.011]
        if not inside:
            out.append((start, end, int(labels[np.argmin(np.abs(centres - (start + end) / 2))])))
            continue
        edges = [start] + [windows[i][0] / 100 for i in inside[1:]] + [end]
        out += [(edges[j], edges[j + 1], int(labels[i])) for j, i in enumerate(inside)]
    return [(a, b, c) for a, b, c in out if b > a]




def speaker_pieces(E: np.ndarray, windows: list[tuple[int, int]], spans: list[tuple[float, float]],
                   count: int | None) -> list[tuple[float, float, int]]:
    """(start, end, speaker index) pieces of the speech from its windows' embeddings ``E``."""
    seconds = np.array([(b - a) / 100 for a, b in windows])
    labels = cluster(E, seconds, count)
    weights = _weights(seconds)
    breaks = np.array([i > 0 and windows[i][0] != windows[i - 1][1] for i in range(len(windows))])
    return _pieces(spans, windows, _renumber(_smooth(E, labels, weights, breaks)))


def join_turns(pieces: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """Consecutive pieces of one speaker (closer than _JOIN_S) as one turn."""
    out: list[tuple[float, float, int]] = []
    for start, end, who in pieces:
        if out and out[-1][2] == who and start - out[-1][1] < _JOIN_S:
            out[-1] = (out[-1][0], end, who)
        else:
            out.append((start, end, who))
    return out
