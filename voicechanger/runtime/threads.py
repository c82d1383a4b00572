"""One BLAS thread in every process that runs stages, so that results do not depend on the runner.

numpy's BLAS (OpenBLAS) splits a product differently with one thread than with two, and the last bits
of a float sum move with it: Whisper's mel features, hence a word's timing, hence the output. Dask
starts its workers with one BLAS thread; a local run had one per core, so the same recording came out
of the Dask runner and the local runner different in the samples. One thread everywhere costs nothing
measurable here (the products are small) and keeps BLAS threads, started at normal priority, from
spinning against Whisper's.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_done = False


def one_blas_thread() -> None:
    """Hold numpy's BLAS to one thread for the rest of the process (once; later calls do nothing)."""
    global _done
    with _lock:
        if _done:
            return
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
        _done = True


# SciPy's subpackages import one another (cluster.hierarchy and signal both reach spatial.distance): two
# threads importing them at once can meet a module half made, "cannot import name 'euclidean' from
# partially initialized module 'scipy.spatial.distance'" (the speakers stage on the voice thread while
# the main thread's transcription reaches scipy.signal).
_SHARED_IMPORTS = ("scipy.signal", "scipy.spatial.distance", "scipy.cluster.hierarchy")


def import_before_threads() -> None:
    """Import the modules that stages on several threads would otherwise import at the same moment; call
    it on the thread that starts the others, before it does (about 0.2 s once per process)."""
    import importlib

    for name in _SHARED_IMPORTS:
        importlib.import_module(name)
