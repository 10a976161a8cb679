"""An asyncio event loop on virtual time, for tests of code that waits (time-outs, batching windows).

Its clock moves only when nothing can run: when the loop would sleep until its next timer, and no executor work
is pending, its time jumps to that timer. Waiting costs no wall-clock time and what a test observes depends only
on the order of events, never on how loaded the machine is. Work handed to an executor thread is waited for in
real time (the clock stands still meanwhile), so a slow thread cannot make a timer fire early.

    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        runner.run(main())
"""

from __future__ import annotations

import asyncio
import selectors


class _JumpingSelector(selectors.DefaultSelector):
    def __init__(self, loop: "VirtualTimeLoop"):
        super().__init__()
        self._clock = loop

    def select(self, timeout=None):
        if timeout is not None and timeout <= 0:  # callbacks are ready: just poll
            return super().select(0)
        if self._clock.pending_executor_work:
            return super().select(None)  # a worker thread will wake the loop (call_soon_threadsafe)
        if timeout is None:
            return super().select(None)
        ready = super().select(0)
        if not ready:
            self._clock.now += timeout  # nothing to do until the next timer: go there at once
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """``loop.time()`` starts at 0.0 and advances only to the next due timer, when nothing else can run."""

    def __init__(self):
        self.now = 0.0
        self.pending_executor_work = 0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self.now

    def run_in_executor(self, executor, func, *args):
        future = super().run_in_executor(executor, func, *args)
        self.pending_executor_work += 1

        def finished(_):
            self.pending_executor_work -= 1

        future.add_done_callback(finished)
        return future


def run_virtual(coro):
    """Run `coro` to completion on a fresh :class:`VirtualTimeLoop` and return its result."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(coro)
