"""How many threads one worker pool process lets its numeric libraries use (``PP_WORKER_THREADS``).

numpy's BLAS and FAISS start a thread per core by default. With several pool processes (or several pods on
one node) that oversubscribes the cores, and one process alone already uses every core, so adding worker
processes adds no speed. With ``PP_WORKER_THREADS=1`` each pool process uses one core, and N processes use N
(the chart sets it for the reclassify worker, whose pods request one CPU each). 0 keeps the libraries'
defaults. :func:`install` (called by the worker entry points) applies it in every pool process as it starts.
"""

from __future__ import annotations

import os
from typing import Any

from celery import signals

from common.infra.settings import get_settings

ENV_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit(threads: int) -> None:
    """Cap BLAS / OpenMP threads in this process (FAISS reads OMP_NUM_THREADS when it is first imported)."""
    if threads <= 0:
        return
    for name in ENV_VARIABLES:
        os.environ[name] = str(threads)
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn: present in every image

    threadpool_limits(limits=threads)


def _on_process_init(**_kwargs: Any) -> None:
    limit(get_settings().worker_threads)


def install() -> None:
    signals.worker_process_init.connect(_on_process_init, weak=False)
    limit(get_settings().worker_threads)  # the main process too (a solo pool runs tasks there)
