"""k-of-m persistence: a project drifts when its windows drifted in at least k of the last m checks."""

from __future__ import annotations

import json
from collections import deque
from typing import Iterable

DEFAULT_PERSISTENCE = (2, 3)  # must equal MonitoringSpec().persistence (a test checks)


class Persistence:
    """The last `m` window decisions; serialises to a short JSON string for a sensor cursor.

    One drifting window can be a bad batch; requiring 2 of the last 3 (the default) delays a real alarm by at
    most one window while turning a per-window false-alarm rate p into about 3p^2.

    Examples
    --------
    >>> state = Persistence(2, 3)
    >>> [state.observe(d) for d in (True, False, True)]
    [False, False, True]
    >>> Persistence.from_cursor(state.to_cursor()).drifting
    True
    """

    def __init__(self, k: int = DEFAULT_PERSISTENCE[0], m: int = DEFAULT_PERSISTENCE[1],
                 history: Iterable[bool] = ()) -> None:
        if not 1 <= k <= m:
            raise ValueError(f"persistence needs 1 <= k <= m, got k={k}, m={m}")
        self.k, self.m = k, m
        self.history: deque[bool] = deque((bool(h) for h in history), maxlen=m)

    @property
    def drifting(self) -> bool:
        """True when at least k of the last m observed windows drifted."""
        return sum(self.history) >= self.k

    def observe(self, drifted: bool) -> bool:
        """Record one window's decision and return the persistent decision."""
        self.history.append(bool(drifted))
        return self.drifting

    def to_cursor(self) -> str:
        return json.dumps({"k": self.k, "m": self.m, "history": list(self.history)})

    @classmethod
    def from_cursor(cls, cursor: str | None, k: int | None = None, m: int | None = None) -> "Persistence":
        """Restore from a cursor (None or "" = fresh state); explicit `k`/`m` (a changed spec) win over the cursor's."""
        if not cursor:
            return cls(k or DEFAULT_PERSISTENCE[0], m or DEFAULT_PERSISTENCE[1])
        state = json.loads(cursor)
        return cls(k or state["k"], m or state["m"], state["history"])

    def __repr__(self) -> str:
        return f"Persistence(k={self.k}, m={self.m}, history={list(self.history)})"
