"""Adaptive micro-batching: requests waiting in the same event loop share one feature build and predict call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One request's validated raw rows, the model that answers it and an optional shadow model."""

    raw: pd.DataFrame
    model: object  # LoadedModel
    role: str
    shadow: object | None = None
    tag: object = None  # passed back to the on_scored hook (e.g. request id and time)
    future: asyncio.Future | None = field(default=None, repr=False)


#: on_scored(job, model, role, predictions, scores): runs in the worker thread after the answer is sent back.
ScoredHook = Callable[[Job, object, str, np.ndarray, np.ndarray], None]


def _limit_threads(n: int | None) -> None:
    """Cap OpenMP/BLAS threads: on a small box a lone row through e.g. HistGradientBoosting is ~10x
    faster single-threaded (no thread fan-out), and batching already amortises the work."""
    if n is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)


def concat_rows(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat(frames, ignore_index=True)``, column by column in numpy when the frames share columns and
    numpy dtypes (validated requests do): a few small frames concatenate ~3x faster than through pandas."""
    first = frames[0]
    columns, dtypes = list(first.columns), list(first.dtypes)
    if first.columns.is_unique and all(isinstance(d, np.dtype) for d in dtypes) and all(
            list(f.columns) == columns and list(f.dtypes) == dtypes for f in frames[1:]):
        arrays = [[f[c].to_numpy() for f in frames] for c in columns]
        return pd.DataFrame({c: np.concatenate(a) for c, a in zip(columns, arrays)},
                            index=pd.RangeIndex(sum(len(f) for f in frames)), copy=False)
    return pd.concat(frames, ignore_index=True)


class _Ticket:
    __slots__ = ("waiting",)

    def __init__(self):
        self.waiting = True


class MicroBatcher:
    """Coalesce concurrent jobs into one ``features(raw)`` + one ``model.predict`` per model.

    The batcher takes whatever is queued (up to ``max_batch_rows``). It waits up to ``max_wait_s``
    for more only while other requests are known to be on their way (``expecting()`` counts them),
    so a lone sequential request never waits. Feature building and predict run in one worker
    thread so the event loop keeps accepting and parsing requests. ``predict_threads`` caps the
    OpenMP/BLAS threads the model may use (process-wide, set when the worker starts; None leaves them).
    """

    def __init__(
        self,
        features: Callable[[pd.DataFrame], pd.DataFrame],
        *,
        max_batch_rows: int = 2048,
        max_wait_s: float = 0.0015,
        on_scored: ScoredHook | None = None,
        predict_threads: int | None = 1,
        on_batch: Callable[[int], None] | None = None,
    ):
        self.features = features
        self.max_batch_rows = max_batch_rows
        self.max_wait_s = max_wait_s
        self.on_scored = on_scored
        self.predict_threads = predict_threads
        self.on_batch = on_batch
        self.batches = 0  # number of batches run (for tests and status)
        self._expected = 0
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict",
                                            initializer=_limit_threads, initargs=(self.predict_threads,))
        self._task = asyncio.create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        """Finish every queued job (including shadow scoring), then stop the worker."""
        if self._task is None:
            return
        await self._queue.put(None)
        await self._task
        self._executor.shutdown(wait=True)
        self._task = None

    # ------------------------------------------------------------ request side
    @contextlib.contextmanager
    def expecting(self):
        """Count a request that will submit soon (the batcher may wait briefly for it); yields its ticket."""
        ticket = _Ticket()
        self._expected += 1
        try:
            yield ticket
        finally:
            if ticket.waiting:
                self._expected -= 1

    async def submit(self, job: Job, ticket: "_Ticket | None" = None) -> tuple[np.ndarray, np.ndarray]:
        """Queue ``job``; return (predictions, scores) of its rows from ``job.model``."""
        if self._task is None or self._task.done():
            raise RuntimeError("the micro-batcher is not running")
        if ticket is not None and ticket.waiting:
            ticket.waiting = False
            self._expected -= 1
        job.future = self._loop.create_future()
        self._queue.put_nowait(job)
        return await job.future

    # ------------------------------------------------------------ batcher side
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            job = await self._queue.get()
            if job is None:
                break
            jobs, rows, deadline = [job], len(job.raw), None
            while rows < self.max_batch_rows:
                try:
                    nxt = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    if self._expected <= 0:
                        break
                    deadline = deadline or loop.time() + self.max_wait_s
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        nxt = await asyncio.wait_for(self._queue.get(), remaining)
                    except TimeoutError:
                        break
                if nxt is None:
                    stopping = True
                    break
                jobs.append(nxt)
                rows += len(nxt.raw)
            self.batches += 1
            await loop.run_in_executor(self._executor, self._score, jobs)
        # drain whatever is still queued after the stop marker
        rest = []
        while not self._queue.empty():
            j = self._queue.get_nowait()
            if j is not None:
                rest.append(j)
        if rest:
            await loop.run_in_executor(self._executor, self._score, rest)

    def _resolve(self, fut: asyncio.Future, result=None, error: BaseException | None = None) -> None:
        def done():
            if not fut.done():
                fut.set_exception(error) if error is not None else fut.set_result(result)

        self._loop.call_soon_threadsafe(done)

    def _score(self, jobs: list[Job]) -> None:
        """Worker thread: features once for the batch, one predict per model, then shadows and hooks."""
        groups: dict[int, tuple[object, list[Job]]] = {}
        for j in jobs:
            groups.setdefault(id(j.model), (j.model, []))[1].append(j)
        ordered = [j for _, js in groups.values() for j in js]
        if self.on_batch is not None:
            self.on_batch(sum(len(j.raw) for j in ordered))
        try:
            raw = ordered[0].raw if len(ordered) == 1 else concat_rows([j.raw for j in ordered])
            feats = self.features(raw)
        except Exception as err:  # a bug, not a client error: every waiting request gets it
            log.exception("feature computation failed for a batch of %d jobs", len(jobs))
            for j in ordered:
                self._resolve(j.future, error=err)
            return
        starts, pos = {}, 0
        for j in ordered:
            starts[id(j)] = pos
            pos += len(j.raw)
        done: list[tuple[Job, object, str, np.ndarray, np.ndarray]] = []
        for model, js in groups.values():
            lo = starts[id(js[0])]
            n = sum(len(j.raw) for j in js)
            try:
                pred, score = model.predict(feats.iloc[lo : lo + n])
            except Exception as err:
                log.exception("predict failed on model %s", getattr(model, "version", model))
                for j in js:
                    self._resolve(j.future, error=err)
                continue
            for j in js:
                a, b = starts[id(j)] - lo, starts[id(j)] - lo + len(j.raw)
                self._resolve(j.future, (pred[a:b], score[a:b]))
                done.append((j, model, j.role, pred[a:b], score[a:b]))
        self._shadows(ordered, feats, starts, done)
        if self.on_scored is not None:
            for args in done:
                try:
                    self.on_scored(*args)
                except Exception:
                    log.exception("on_scored hook failed")

    def _shadows(self, jobs: list[Job], feats: pd.DataFrame, starts: dict, done: list) -> None:
        shadow_groups: dict[int, tuple[object, list[Job]]] = {}
        for j in jobs:
            if j.shadow is not None:
                shadow_groups.setdefault(id(j.shadow), (j.shadow, []))[1].append(j)
        for model, js in shadow_groups.values():
            rows = np.concatenate([np.arange(starts[id(j)], starts[id(j)] + len(j.raw)) for j in js])
            try:
                pred, score = model.predict(feats.iloc[rows])
            except Exception:
                log.exception("shadow predict failed on model %s", getattr(model, "version", model))
                continue
            a = 0
            for j in js:
                done.append((j, model, "shadow", pred[a : a + len(j.raw)], score[a : a + len(j.raw)]))
                a += len(j.raw)
