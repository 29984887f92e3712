"""The demo's clock and crisis switch (shared by the mention sources; no HTTP here).

:class:`DemoClock` is "now" for every mention source: real time, optionally shifted or frozen, so a
test can freeze the clock, flip the crisis on and later jump two hours ahead to see alerts resolve.

:class:`CrisisState` records the crisis as a timeline of :class:`CrisisSegment` values. Entering
phase ``n`` publishes the backlog of every phase ``1..n`` not yet published in this crisis (posts
timestamped in the 50 minutes before the switch, so "the last hour" fills at once), then new
negatives keep arriving at the phase's hourly rate until the next switch. Stopping ends the segment:
published posts stay (and age out of the last hour), no new ones come.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_PHASE = 3


def floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


class DemoClock:
    """Aware "now" in Asia/Shanghai: real time plus an offset, or a frozen instant."""

    def __init__(self, frozen: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._frozen = self._aware(frozen) if frozen is not None else None

    @staticmethod
    def _aware(t: datetime) -> datetime:
        if t.tzinfo is None:
            raise ValueError("the demo clock needs an aware datetime")
        return t.astimezone(SHANGHAI)

    def now(self) -> datetime:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return datetime.now(SHANGHAI) + self._offset

    def freeze(self, at: datetime | None = None) -> datetime:
        """Stop the clock at ``at`` (default: the current demo time)."""
        instant = self._aware(at) if at is not None else self.now()
        with self._lock:
            self._frozen = instant
        return instant

    def unfreeze(self) -> datetime:
        """Run again from the frozen instant (kept as an offset from real time)."""
        with self._lock:
            if self._frozen is not None:
                self._offset = self._frozen - datetime.now(SHANGHAI)
                self._frozen = None
        return self.now()

    def shift(self, delta: timedelta) -> datetime:
        """Move the demo time by ``delta`` (frozen or not)."""
        with self._lock:
            if self._frozen is not None:
                self._frozen += delta
            else:
                self._offset += delta
        return self.now()


@dataclass(frozen=True)
class CrisisSegment:
    """One stretch of a crisis at one phase.

    ``backlog`` lists the phases whose burst is published at ``start``; new negatives then arrive at
    the phase's rate until ``end`` (None: still running). ``crisis`` numbers crises so post ids differ
    when a crisis is started again.
    """

    crisis: int
    phase: int
    start: datetime
    end: datetime | None
    backlog: tuple[int, ...]


class CrisisState:
    """Thread-safe crisis switch; every change is stamped with the demo clock (whole minutes)."""

    def __init__(self, clock: DemoClock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._segments: list[CrisisSegment] = []
        self._crisis = 0
        self._published: set[int] = set()

    @property
    def phase(self) -> int:
        """The running phase, 0 when the crisis is off."""
        with self._lock:
            current = self._current()
            return current.phase if current else 0

    @property
    def active(self) -> bool:
        return self.phase > 0

    def timeline(self) -> tuple[CrisisSegment, ...]:
        with self._lock:
            return tuple(self._segments)

    def _current(self) -> CrisisSegment | None:
        last = self._segments[-1] if self._segments else None
        return last if last is not None and last.end is None else None

    def _close(self, at: datetime) -> None:
        current = self._current()
        if current is not None:
            self._segments[-1] = replace(current, end=max(at, current.start))

    def set_phase(self, n: int) -> int:
        """Enter phase ``n`` (1..3), or stop the crisis with 0. Returns the phase now running."""
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_PHASE:
            raise ValueError(f"crisis phase must be an integer in 0..{MAX_PHASE}, got {n!r}")
        at = floor_minute(self.clock.now())
        with self._lock:
            current = self._current()
            if current is not None and current.phase == n:
                return n
            self._close(at)
            if n == 0:
                return 0
            if current is None:
                self._crisis += 1
                self._published = set()
            backlog = tuple(p for p in range(1, n + 1) if p not in self._published)
            self._published.update(backlog)
            self._segments.append(CrisisSegment(self._crisis, n, at, None, backlog))
            return n

    def start(self) -> int:
        """Start a crisis at phase 1 (no change when one is already running)."""
        return self.phase or self.set_phase(1)

    def stop(self) -> int:
        return self.set_phase(0)

    def reset(self) -> None:
        """Forget every crisis (as if none had happened)."""
        with self._lock:
            self._segments.clear()
            self._published = set()
            self._crisis = 0
