"""Model slots (live, previous, candidate) and the rollout strategy that picks the model for each request."""

from __future__ import annotations

from dataclasses import dataclass


class RoutingError(RuntimeError):
    """An admin transition that is not possible in the current state (answered with 409)."""


@dataclass(frozen=True)
class Route:
    """The model answering one request, its role (live/canary) and the model scoring it in shadow, if any."""

    model: object
    role: str
    shadow: object | None = None


#: The rollout strategies a candidate can be loaded with (``Router.mode``).
MODES = ("blue_green", "canary", "shadow")


class Router:
    """Slots and strategy. Mutated and read only on the event loop, so each swap is atomic for requests.

    - blue_green: a new model becomes live in one assignment; requests that already picked the old
      one finish on it (they hold a reference); the old live is kept as ``previous`` for rollback.
    - canary: the candidate answers a ``weight`` share of requests, chosen by a counter
      (request n goes to the candidate when ``floor(n*w)`` steps), so the share is exact and repeatable.
    - shadow: the candidate scores every request in the background; only live answers are returned.
    """

    def __init__(self):
        self.live = None
        self.previous = None
        self.candidate = None
        self.mode: str | None = None
        self.weight = 0.0
        self._n = 0

    def choose(self) -> Route:
        live = self.live
        if live is None:
            raise RoutingError("no model is loaded")
        cand = self.candidate
        if cand is None:
            return Route(live, "live")
        if self.mode == "shadow":
            return Route(live, "live", shadow=cand)
        self._n += 1
        if int(self._n * self.weight) != int((self._n - 1) * self.weight):
            return Route(cand, "canary")
        return Route(live, "live")

    def set_live(self, model) -> None:
        """Blue-green swap: ``model`` becomes live, the current live becomes ``previous``; any candidate is dropped."""
        if self.live is not None:
            self.previous = self.live
        self.live, self.candidate, self.mode, self.weight = model, None, None, 0.0

    def set_candidate(self, model, mode: str, weight: float = 0.0) -> None:
        if mode not in ("canary", "shadow"):
            raise ValueError(f"a candidate's mode is 'canary' or 'shadow', got {mode!r}")
        if self.live is None:
            raise RoutingError(f"no live model to run a {mode} against: load one with mode 'blue_green' first")
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"weight must be within [0, 1], got {weight}")
        self.candidate, self.mode, self.weight, self._n = model, mode, (weight if mode == "canary" else 0.0), 0

    def promote(self) -> None:
        """The candidate becomes live (the old live is kept for rollback)."""
        if self.candidate is None:
            raise RoutingError("there is no candidate to promote")
        self.set_live(self.candidate)

    def rollback(self) -> str:
        """Back to known-good: drop a candidate if there is one, else swap live and previous."""
        if self.candidate is not None:
            self.candidate, self.mode, self.weight = None, None, 0.0
            return "candidate_dropped"
        if self.previous is None:
            raise RoutingError("there is no previous model to roll back to")
        self.live, self.previous = self.previous, self.live
        return "previous_restored"

    def status(self) -> dict:
        def info(m):
            return None if m is None else m.info.as_dict()

        return {
            "live": info(self.live),
            "previous": info(self.previous),
            "candidate": info(self.candidate),
            "strategy": self.mode or "blue_green",
            "weight": self.weight,
        }
