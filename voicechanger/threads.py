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
