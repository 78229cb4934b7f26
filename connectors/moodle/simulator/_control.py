"""`SimControl`: latency, random fault injection, permanent failures and call counters."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["SimControl", "FAULT_KINDS", "Fault"]

FAULT_KINDS = ("http500", "http503", "http429", "timeout", "truncated", "html", "errorbody")


@dataclass
class Fault:
    """A fault decided for one request."""

    kind: str
    errorcode: str | None = None


@dataclass
class SimControl:
    """Runtime knobs of a running simulator; change attributes at any time.

    `fault_rate` is the probability that a request gets one of `fault_kinds` (chosen with the
    seeded RNG). `timeout_s` is how long a `timeout` fault sleeps before answering; set it above
    the client's timeout. `retry_after` is the Retry-After header of 429/503.
    """

    latency_ms: float = 0.0
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    timeout_s: float = 5.0
    retry_after: int = 1
    calls: Counter = field(default_factory=Counter)
    permanent: dict[str, tuple[str, int]] = field(default_factory=dict)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.fault_kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self._rng = random.Random(self.seed)

    def reseed(self, seed: int) -> None:
        """Restart the fault RNG (reproducible runs)."""
        self.seed = seed
        self._rng = random.Random(seed)

    def fail_function(self, name: str, errorcode: str = "dmlreadexception", after_n_calls: int = 0) -> None:
        """Make `name` fail with a Moodle error `errorcode` once it was called `after_n_calls` times."""
        self.permanent[name] = (errorcode, after_n_calls)

    def clear_failures(self) -> None:
        """Drop every permanent failure."""
        self.permanent.clear()

    def reset_calls(self) -> None:
        """Zero the per-function call counter."""
        self.calls.clear()

    def decide(self, function: str) -> Fault | None:
        """Count the call and decide whether it fails (permanent failures first)."""
        self.calls[function] += 1
        rule = self.permanent.get(function)
        if rule is not None and self.calls[function] > rule[1]:
            return Fault("permanent", rule[0])
        if self.fault_rate > 0 and self.fault_kinds and self._rng.random() < self.fault_rate:
            return Fault(self._rng.choice(self.fault_kinds))
        return None
