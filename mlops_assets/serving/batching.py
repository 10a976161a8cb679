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

#: Default of ``MicroBatcher(fill_wait_s=...)``, measured with bench/serving.py (8 single-row clients, 2 cores).
FILL_WAIT_S = 0.002


@dataclass
class Job:
    """One request's validated raw rows, the model that answers it and an optional shadow model.

    ``raw`` may be None when ``columns`` are given: the frame is then built only if the batch needs one
    (:meth:`frame`)."""

    raw: pd.DataFrame | None
    model: object  # LoadedModel
    role: str
    shadow: object | None = None
    tag: object = None  # passed back to the on_scored hook (e.g. request id and time)
    columns: dict[str, np.ndarray] | None = field(default=None, repr=False)  # raw's columns as arrays, if known
    feature_hashes: list[str] | None = field(default=None, repr=False)  # one per row, set when scored (row_hash)
    future: asyncio.Future | None = field(default=None, repr=False)
    rows: int = field(init=False)

    def __post_init__(self):
        if self.raw is None and not self.columns:
            raise ValueError("a job needs its raw rows as a frame or as numpy columns")
        self.rows = len(self.raw) if self.raw is not None else len(next(iter(self.columns.values())))

    def frame(self) -> pd.DataFrame:
        """The raw rows as a frame (built from ``columns`` on first use)."""
        if self.raw is None:
            self.raw = pd.DataFrame(self.columns, index=pd.RangeIndex(self.rows), copy=False)
        return self.raw


#: One scored job: (job, model, role, predictions, scores).
Scored = tuple[Job, object, str, np.ndarray, np.ndarray]
#: on_scored(scored): runs in the worker thread once per batch with its answered jobs, BEFORE their answers are
#: released (so a durable log can have the rows on disk first; if it raises, those jobs get the error), then
#: once more with the shadow scores (after the answers; errors there are only logged).
ScoredHook = Callable[[list[Scored]], None]


#: (a request's future, its (predictions, scores) or None, the error it gets or None)
Settlement = tuple[asyncio.Future, "tuple[np.ndarray, np.ndarray] | None", "BaseException | None"]


def _settle(answers: list[Settlement]) -> None:
    """Release answers, on the event loop's thread."""
    for fut, result, error in answers:
        if not fut.done():
            fut.set_exception(error) if error is not None else fut.set_result(result)


def _limit_threads(n: int | None) -> None:
    """Cap OpenMP/BLAS threads: on a small box a lone row through e.g. HistGradientBoosting is ~10x
    faster single-threaded (no thread fan-out), and batching already amortises the work."""
    if n is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)


def _arrays(frame: pd.DataFrame) -> dict[str, np.ndarray] | None:
    if not frame.columns.is_unique or not all(isinstance(d, np.dtype) for d in frame.dtypes):
        return None
    return {c: frame[c].to_numpy() for c in frame.columns}


def concat_rows(frames: list[pd.DataFrame], known: list[dict | None] | None = None) -> pd.DataFrame:
    """``pd.concat(frames, ignore_index=True)``, column by column in numpy when the frames share columns and
    numpy dtypes (validated requests do): a few small frames concatenate ~3x faster than through pandas.

    ``known[i]``, when given and not None, is ``frames[i]``'s columns as the arrays it was built from: reading
    12 columns back out of each of 8 one-row frames costs ~0.4 ms, more than building the batch's features.
    """
    arrays = [(k if k is not None else _arrays(f)) for f, k in zip(frames, known or [None] * len(frames))]
    joined = join_columns(arrays)
    if joined is not None:
        return pd.DataFrame(joined, index=pd.RangeIndex(sum(len(f) for f in frames)), copy=False)
    return pd.concat(frames, ignore_index=True)


def join_columns(arrays: list[dict[str, np.ndarray] | None]) -> dict[str, np.ndarray] | None:
    """The rows of several dicts of numpy columns, one after another, when they have the same columns with the same
    dtypes (a single dict is returned as it is); else None."""
    if not arrays or any(a is None for a in arrays):
        return None
    first = arrays[0]
    if len(arrays) == 1:
        return first
    names = list(first)
    if not all(list(a) == names and all(a[c].dtype == first[c].dtype for c in names) for a in arrays[1:]):
        return None
    return {c: np.concatenate([a[c] for a in arrays]) for c in names}


#: Feature rows as the batcher passes them on: a frame, or (the fast path) its columns as numpy arrays.
Rows = "pd.DataFrame | dict[str, np.ndarray]"


def _take(feats: Rows, rows) -> Rows:
    """Rows ``rows`` (a slice or positions) of a frame or of numpy columns."""
    if isinstance(feats, pd.DataFrame):
        return feats.iloc[rows]
    return {c: a[rows] for c, a in feats.items()}


class _Ticket:
    __slots__ = ("waiting",)

    def __init__(self):
        self.waiting = True


class Concurrency:
    """How many requests have recently been in flight together: an exponentially weighted mean of the
    peak number in flight per batch cycle (from one batch's dispatch to the next).

    ``goal`` is the batch size worth waiting for: 1 (never wait) for a lone or sequential client, about
    the number of clients when several send at once. Rises at once to a higher peak (a burst should batch
    from its second cycle on) and decays by ``1 - alpha`` per cycle (back below 1.5 within a few requests
    of a lone client).

    >>> c = Concurrency()
    >>> c.goal
    1
    >>> c.observe(8); c.goal
    8
    >>> for _ in range(6): c.observe(1)
    >>> c.goal
    1
    """

    __slots__ = ("alpha", "value")

    def __init__(self, alpha: float = 0.5):
        self.alpha = alpha
        self.value = 1.0

    def observe(self, peak: int) -> None:
        self.value = float(peak) if peak >= self.value else self.value + self.alpha * (peak - self.value)

    @property
    def goal(self) -> int:
        return max(1, int(self.value + 0.5))


class MicroBatcher:
    """Coalesce concurrent jobs into one ``features(raw)`` + one ``model.predict`` per model.

    When every job of a batch carries its rows as numpy columns (``Job.columns``) and ``feature_arrays`` gives
    their features (not None), the batch skips pandas: the features, their row hashes and the models' input are
    numpy columns (``model.predict`` then gets a dict of arrays); otherwise ``features`` builds a frame.

    The batcher takes whatever is queued (up to ``max_batch_rows``). It waits up to ``max_wait_s``
    for more while other requests are known to be on their way (``expecting()`` counts them), and up
    to ``fill_wait_s`` while the batch holds fewer jobs than recently ran concurrently
    (:class:`Concurrency`: closed-loop clients answered together come back spread out, before their
    requests are read). A lone or sequential client (one request in flight at a time) never waits.
    Feature building and predict run in one worker thread so the event loop keeps accepting and
    parsing requests. ``predict_threads`` caps the
    OpenMP/BLAS threads the model may use (process-wide, set when the worker starts; None leaves them).
    """

    def __init__(
        self,
        features: Callable[[pd.DataFrame], pd.DataFrame],
        *,
        max_batch_rows: int = 2048,
        max_wait_s: float = 0.0015,
        fill_wait_s: float = FILL_WAIT_S,
        on_scored: ScoredHook | None = None,
        predict_threads: int | None = 1,
        on_batch: Callable[[int], None] | None = None,
        row_hash: Callable[[Rows], list[str]] | None = None,
        feature_arrays: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray] | None] | None = None,
    ):
        self.features = features
        self.feature_arrays = feature_arrays
        self.row_hash = row_hash  # hash of each computed feature row, kept on the job (for the prediction log)
        self.max_batch_rows = max_batch_rows
        self.max_wait_s = max_wait_s
        self.fill_wait_s = fill_wait_s
        self.on_scored = on_scored
        self.predict_threads = predict_threads
        self.on_batch = on_batch
        self.batches = 0  # number of batches run (for tests and status)
        self._expected = 0
        self._in_flight = 0  # requests between expecting()/submit() and their answer
        self._peak = 0  # most in flight at once since the last batch was dispatched
        self.concurrency = Concurrency()
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
        self._arrive()
        try:
            yield ticket
        finally:
            self._in_flight -= 1
            if ticket.waiting:
                self._expected -= 1

    def _arrive(self) -> None:
        self._in_flight += 1
        if self._in_flight > self._peak:
            self._peak = self._in_flight

    async def submit(self, job: Job, ticket: "_Ticket | None" = None) -> tuple[np.ndarray, np.ndarray]:
        """Queue ``job``; return (predictions, scores) of its rows from ``job.model``."""
        if self._task is None or self._task.done():
            raise RuntimeError("the micro-batcher is not running")
        if ticket is not None and ticket.waiting:
            ticket.waiting = False
            self._expected -= 1
        job.future = self._loop.create_future()
        self._queue.put_nowait(job)
        if ticket is not None:
            return await job.future
        self._arrive()  # counted from here when not announced by expecting()
        try:
            return await job.future
        finally:
            self._in_flight -= 1

    # ------------------------------------------------------------ batcher side
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            job = await self._queue.get()
            if job is None:
                break
            jobs, rows, started = [job], job.rows, None
            goal = self.concurrency.goal
            while rows < self.max_batch_rows:
                try:
                    nxt = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    if self._expected > 0:
                        bound = max(self.max_wait_s, self.fill_wait_s if len(jobs) < goal else 0.0)
                    elif len(jobs) < goal:
                        bound = self.fill_wait_s
                    else:
                        break
                    started = started or loop.time()
                    remaining = started + bound - loop.time()
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
                rows += nxt.rows
            self.batches += 1
            self.concurrency.observe(self._peak)
            self._peak = self._in_flight
            _settle(await loop.run_in_executor(self._executor, self._score, jobs))
        # drain whatever is still queued after the stop marker
        rest = []
        while not self._queue.empty():
            j = self._queue.get_nowait()
            if j is not None:
                rest.append(j)
        if rest:
            _settle(await loop.run_in_executor(self._executor, self._score, rest))

    def _score(self, jobs: list[Job]) -> list[Settlement]:
        """Worker thread: features once for the batch, one predict per model, then shadows and hooks.

        Returns the answers for the event loop to release once this returns (one wake-up of the loop per batch:
        waking it per request made the worker wait for the interpreter lock the answering loop then held, and the
        next batch wait for the worker). With shadow models the answers are released first, then the shadows
        score.
        """
        groups: dict[int, tuple[object, list[Job]]] = {}
        for j in jobs:
            groups.setdefault(id(j.model), (j.model, []))[1].append(j)
        ordered = [j for _, js in groups.values() for j in js]
        if self.on_batch is not None:
            self.on_batch(sum(j.rows for j in ordered))
        try:
            feats = self._features(ordered)
            hashes = self.row_hash(feats) if self.row_hash is not None else None
        except Exception as err:  # a bug, not a client error: every waiting request gets it
            log.exception("feature computation failed for a batch of %d jobs", len(jobs))
            return [(j.future, None, err) for j in ordered]
        starts, pos = {}, 0
        for j in ordered:
            starts[id(j)] = pos
            if hashes is not None:
                j.feature_hashes = hashes[pos : pos + j.rows]
            pos += j.rows
        done: list[tuple[Job, object, str, np.ndarray, np.ndarray]] = []
        answers: list[Settlement] = []
        for model, js in groups.values():
            lo = starts[id(js[0])]
            n = sum(j.rows for j in js)
            try:
                pred, score = model.predict(_take(feats, slice(lo, lo + n)))
            except Exception as err:
                log.exception("predict failed on model %s", getattr(model, "version", model))
                answers.extend((j.future, None, err) for j in js)
                continue
            for j in js:
                a, b = starts[id(j)] - lo, starts[id(j)] - lo + j.rows
                done.append((j, model, j.role, pred[a:b], score[a:b]))
        error = None
        if self.on_scored is not None and done:
            try:
                self.on_scored(done)
            except Exception as err:  # e.g. the log cannot take the rows: answer with the error, not the rows
                error = err
        answers.extend((j.future, None if error else (pred, score), error) for j, _, _, pred, score in done)
        if not any(j.shadow is not None for j in ordered):
            return answers
        self._loop.call_soon_threadsafe(_settle, answers)  # answered before the shadows score
        shadows: list[Scored] = []
        self._shadows(ordered, feats, starts, shadows)
        if self.on_scored is not None and shadows:
            try:
                self.on_scored(shadows)
            except Exception:
                log.exception("on_scored hook failed on shadow scores")
        return []

    def _features(self, jobs: list[Job]) -> Rows:
        """The batch's feature rows: numpy columns when every job has its raw columns and the features have an
        array twin, else a frame."""
        if self.feature_arrays is not None:
            columns = join_columns([j.columns for j in jobs])
            feats = self.feature_arrays(columns) if columns is not None else None
            if feats is not None:
                return feats
        raw = (jobs[0].frame() if len(jobs) == 1
               else concat_rows([j.frame() for j in jobs], [j.columns for j in jobs]))
        return self.features(raw)

    def _shadows(self, jobs: list[Job], feats: Rows, starts: dict, done: list) -> None:
        shadow_groups: dict[int, tuple[object, list[Job]]] = {}
        for j in jobs:
            if j.shadow is not None:
                shadow_groups.setdefault(id(j.shadow), (j.shadow, []))[1].append(j)
        for model, js in shadow_groups.values():
            rows = np.concatenate([np.arange(starts[id(j)], starts[id(j)] + j.rows) for j in js])
            try:
                pred, score = model.predict(_take(feats, rows))
            except Exception:
                log.exception("shadow predict failed on model %s", getattr(model, "version", model))
                continue
            a = 0
            for j in js:
                done.append((j, model, "shadow", pred[a : a + j.rows], score[a : a + j.rows]))
                a += j.rows
