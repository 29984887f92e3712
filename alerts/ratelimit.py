"""Per-channel rate limits as sliding windows over what was actually sent.

The dispatcher asks :meth:`RateLimiter.room` how many messages a channel may send now, given the
``sent_at`` times of its recent notifications *read from the database*. Nothing is kept in memory, so a
restarted dispatcher (or a second one) sees the same budget and cannot burst past the platform's limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Window:
    """At most ``count`` messages in any ``seconds``."""

    count: int
    seconds: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.seconds <= 0:
            raise ValueError(f"a rate window needs count >= 1 and seconds > 0, got {self.count}/{self.seconds}s")

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds:g}s"


class RateLimiter:
    """Several sliding windows (e.g. Feishu: 4 a second and 90 a minute); each applies on its own: the
    tightest one says how many may go *now*, the longest one whether a burst must be summarised."""

    def __init__(self, windows: Iterable[Window | tuple[int, float]] = ()) -> None:
        self.windows = tuple(w if isinstance(w, Window) else Window(int(w[0]), float(w[1])) for w in windows)

    @classmethod
    def from_settings(cls, windows: Iterable[object]) -> RateLimiter:
        """From :class:`~jingshao.alerts.settings.RateWindow` values (``count``, ``seconds``)."""
        return cls(Window(w.count, w.seconds) for w in windows)  # type: ignore[attr-defined]

    @property
    def horizon(self) -> timedelta:
        """How far back sent times matter (the longest window); zero when unlimited."""
        return timedelta(seconds=max((w.seconds for w in self.windows), default=0))

    def room(self, sent: Sequence[datetime], now: datetime) -> int | None:
        """How many more messages may go out at ``now``; ``None`` means unlimited.

        A message sent at ``t`` counts in a window while ``now - t < seconds``.
        """
        if not self.windows:
            return None
        free = []
        for w in self.windows:
            span = timedelta(seconds=w.seconds)
            used = sum(1 for t in sent if now - t < span)  # a time ahead of now counts too
            free.append(w.count - used)
        return max(0, min(free))

    def room_in_longest(self, sent: Sequence[datetime], now: datetime) -> int | None:
        """How many more messages the *longest* window allows at ``now`` (``None``: unlimited).

        The shorter windows (Feishu's 4 a second) only spread a burst out; whether a burst must be
        summarised is decided by the longest one (Feishu's 90 a minute)."""
        if not self.windows:
            return None
        longest = max(self.windows, key=lambda w: w.seconds)
        span = timedelta(seconds=longest.seconds)
        return max(0, longest.count - sum(1 for t in sent if now - t < span))

    def __repr__(self) -> str:
        return f"RateLimiter({', '.join(map(str, self.windows)) or 'unlimited'})"
