"""Micro-batching: concurrent jobs share one predict call; a lone job does not wait; after concurrent traffic a
batch waits (boundedly) to fill; shadows never answer.

The batcher's clock is its event loop's: these tests run it on a virtual-time loop
(:mod:`mlops_assets_tests.virtual_time`), so waits are exact, cost no wall-clock time, and what is asserted (which
jobs share a batch, how long the batcher waited) cannot depend on how loaded the machine is."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pandas as pd

import pytest

from mlops_assets.serving.batching import Concurrency, Job, MicroBatcher
from mlops_assets_tests.virtual_time import run_virtual


class Doubler:
    """A stand-in model: prediction = 2x, score = x; records batch sizes and the thread it ran on."""

    def __init__(self, version: str, delay_s: float = 0.0):
        self.version = version
        self.delay_s = delay_s
        self.calls: list[int] = []
        self.threads: set[str] = set()

    def predict(self, features: pd.DataFrame):
        self.calls.append(len(features))
        self.threads.add(threading.current_thread().name)
        if self.delay_s:
            time.sleep(self.delay_s)
        x = features["x"].to_numpy(dtype="float64")
        return 2 * x, x


def frame(*xs: float) -> pd.DataFrame:
    return pd.DataFrame({"x": list(xs)})


def run(coro):
    """Run on virtual time (the test's own timeout, pytest-timeout, guards against a hang)."""
    return run_virtual(coro)


def now() -> float:
    return asyncio.get_running_loop().time()


def test_concurrent_jobs_are_coalesced_and_answers_stay_in_order():
    model = Doubler("1", delay_s=0.02)
    scored = []

    async def main():
        b = MicroBatcher(lambda raw: raw,
                         on_scored=lambda done: scored.extend((job.tag, role, len(p)) for job, m, role, p, s in done))
        await b.start()

        async def one(i):
            with b.expecting() as ticket:
                await asyncio.sleep(0)
                return await b.submit(Job(frame(i, i + 0.5), model, "live", tag=i), ticket)

        results = await asyncio.gather(*(one(i) for i in range(40)))
        await b.stop()
        return results, b.batches

    results, batches = run(main())
    for i, (pred, score) in enumerate(results):
        assert score.tolist() == [i, i + 0.5] and pred.tolist() == [2 * i, 2 * i + 1]
    assert sum(model.calls) == 80 and len(model.calls) == batches < 40
    assert max(model.calls) > 2
    assert sorted(t for t, _, _ in scored) == list(range(40)) and {r for _, r, _ in scored} == {"live"}
    assert model.threads and all(t.startswith("predict") for t in model.threads)


def test_a_lone_request_does_not_wait_for_company():
    model = Doubler("1")

    async def main():
        b = MicroBatcher(lambda raw: raw, max_wait_s=0.2)
        await b.start()
        waited = []
        for i in range(5):
            t = now()
            with b.expecting() as ticket:
                await b.submit(Job(frame(i), model, "live"), ticket)
            waited.append(now() - t)
        await b.stop()
        return waited, b.batches

    waited, batches = run(main())
    assert waited == [0.0] * 5  # no wait at all (not even the 0.2 s bound): nobody else was on the way
    assert batches == 5 and model.calls == [1] * 5


@pytest.mark.parametrize("peaks, goal", [
    ([], 1),  # nothing seen yet: never wait
    ([1] * 20, 1),  # a sequential client
    ([8], 8),  # a burst counts at once
    ([8, 3], 6),  # ... and fades by half a cycle
    ([8, 1, 1, 1, 1], 1),  # back to a lone client within four batches
    ([2, 8, 8, 5], 7),
])
def test_concurrency_goal_follows_recent_peaks(peaks, goal):
    c = Concurrency()
    for p in peaks:
        c.observe(p)
    assert c.goal == goal


async def _answered(b: MicroBatcher, model, *xs: float) -> list:
    return await asyncio.gather(*(b.submit(Job(frame(x), model, "live")) for x in xs))


def test_after_concurrent_traffic_a_batch_waits_to_fill_up():
    model = Doubler("1")

    async def main():
        b = MicroBatcher(lambda raw: raw, fill_wait_s=10.0)
        await b.start()
        await _answered(b, model, 0, 1, 2, 3)  # four at once
        assert b.concurrency.goal == 4
        t = now()
        first = asyncio.ensure_future(b.submit(Job(frame(10), model, "live")))
        await asyncio.sleep(0.05)  # the others arrive well after the first (no expecting() ticket to announce them)
        assert not first.done()  # held back for company
        rest = await _answered(b, model, 11, 12, 13)
        waited = now() - t
        out = [await first, *rest]
        await b.stop()
        return out, waited

    out, waited = run(main())
    assert [s.tolist() for _, s in out] == [[10], [11], [12], [13]]
    assert model.calls == [4, 4]  # the late ones joined the waiting one
    assert waited == pytest.approx(0.05)  # dispatched when full (at 0.05 s), not at the 10 s bound


def test_filling_up_is_bounded_and_fades_for_a_lone_client():
    model = Doubler("1")

    async def main():
        b = MicroBatcher(lambda raw: raw, fill_wait_s=0.05)
        await b.start()
        await _answered(b, model, 0, 1, 2, 3)
        waited = []
        for i in range(6):  # a lone client now: the first few wait out the bound, then none do
            t = now()
            await _answered(b, model, i)
            waited.append(now() - t)
        goal = b.concurrency.goal
        b.fill_wait_s = 10.0  # would be obvious if a lone request still waited
        t = now()
        await _answered(b, model, 9)
        waited.append(now() - t)
        await b.stop()
        return waited, goal

    waited, goal = run(main())
    assert goal == 1
    # The first four waited for the concurrency seen before, each only up to fill_wait_s, while the goal faded
    # (Concurrency's decay); then none waited, not even with a 10 s bound once the goal is 1.
    assert waited == pytest.approx([0.05] * 4 + [0.0] * 3)
    assert model.calls == [4] + [1] * 7  # every lone request was a batch of its own


def test_batches_respect_max_rows_and_group_by_model():
    a, c = Doubler("a"), Doubler("c", delay_s=0.01)

    async def main():
        b = MicroBatcher(lambda raw: raw, max_batch_rows=10)
        await b.start()
        jobs = [b.submit(Job(frame(*range(4)), a if i % 2 else c, "live")) for i in range(12)]
        out = await asyncio.gather(*jobs)
        await b.stop()
        return out

    out = run(main())
    assert all(s.tolist() == [0, 1, 2, 3] for _, s in out)
    assert max(a.calls + c.calls) <= 12  # a batch closes once it reaches 10 rows (at most one job over)
    assert sum(a.calls) == sum(c.calls) == 24


def test_shadow_scores_in_background_and_stop_drains_everything():
    live, shadow = Doubler("live"), Doubler("shadow", delay_s=0.05)
    scored = []

    async def main():
        b = MicroBatcher(lambda raw: raw,
                         on_scored=lambda done: scored.extend((m.version, role) for job, m, role, p, s in done))
        await b.start()
        answers = await asyncio.gather(*(b.submit(Job(frame(i), live, "live", shadow=shadow)) for i in range(6)))
        await b.stop()  # must wait for the pending shadow scoring
        return answers

    answers = run(main())
    assert [s.tolist() for _, s in answers] == [[i] for i in range(6)]
    assert sorted(scored).count(("live", "live")) == 6 and sorted(scored).count(("shadow", "shadow")) == 6


def test_a_failing_model_fails_its_own_requests_only():
    class Broken(Doubler):
        def predict(self, features):
            raise RuntimeError("boom")

    good, bad = Doubler("good"), Broken("bad")

    async def main():
        b = MicroBatcher(lambda raw: raw)
        await b.start()
        out = await asyncio.gather(b.submit(Job(frame(1), bad, "live")), b.submit(Job(frame(2), good, "live")),
                                   return_exceptions=True)
        await b.stop()
        return out

    err, ok = run(main())
    assert repr(err) == "RuntimeError('boom')" and np.asarray(ok[1]).tolist() == [2.0]
