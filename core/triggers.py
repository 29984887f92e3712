"""When jobs run: the trigger grammar (``every 15m`` or a crontab) and the ``[schedule]`` section.

The scheduler (APScheduler wiring, a service) and the config loader (which must reject a bad
trigger before anything runs) both read triggers, so the grammar lives here and the config loader
never imports the scheduler.
"""

from __future__ import annotations

from datetime import tzinfo
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The ``[schedule]`` keys that hold a trigger (the others are minutes).
TRIGGER_KEYS = ("products", "reviews", "mentions", "evaluate", "dispatch", "report")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_trigger(spec: str, tz: tzinfo) -> BaseTrigger:
    """'every 15m' / 'every 30s' / 'every 4h' / 'every 1d' or a 5-field crontab ('0 8 * * *')."""
    text = spec.strip()
    if text.startswith("every "):
        amount, unit = text[6:].strip()[:-1], text.strip()[-1]
        if unit not in _UNITS or not amount.strip().isdigit() or int(amount) <= 0:
            raise ValueError(f"bad interval {spec!r}: expected e.g. 'every 15m' (s, m, h or d)")
        return IntervalTrigger(**{_UNITS[unit]: int(amount)}, timezone=tz)
    try:
        return CronTrigger.from_crontab(text, timezone=tz)
    except ValueError as exc:
        raise ValueError(
            f"bad schedule {spec!r}: expected 'every N[smhd]' or a crontab like '0 8 * * *' ({exc})"
        ) from None


def is_off(spec: str) -> bool:
    """``'off'`` (any case, any blanks around it): the job does not run."""
    return spec.strip().lower() == "off"


class ScheduleConfig(BaseModel):
    """When each job runs: 'every 15m' (s, m, h, d), a crontab ('0 8 * * *'), or 'off'."""

    model_config = ConfigDict(extra="forbid")

    products: str = "every 4h"
    reviews: str = "0 6 * * *"
    mentions: str = "every 15m"
    evaluate: str = "every 5m"
    dispatch: str = "every 15s"
    report: str = "0 8 * * *"
    crawl_timeout_minutes: float = Field(default=60, gt=0)
    misfire_grace_minutes: float = Field(default=10, gt=0)

    @model_validator(mode="after")
    def _valid_triggers(self) -> ScheduleConfig:
        for name in TRIGGER_KEYS:
            spec = getattr(self, name)
            if not is_off(spec):
                try:
                    parse_trigger(spec, ZoneInfo("UTC"))
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc}") from None
        return self
