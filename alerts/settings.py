"""Alert settings (pydantic v2, ``extra="forbid"``): the ``[alerts]`` table, and the check of each
``[[brands]]`` entry's ``crisis`` overrides (the brand type itself is the crawlers':
:class:`jingshao.crawlers.config.BrandConfig`).

Durations accept seconds (``90``), a unit suffix (``"90s"``, ``"5m"``, ``"1h"``, ``"2d"``) or an ISO
duration (``"PT1H"``). Rate limits accept ``"18/min"``-style strings or ``{count = 18, per = "1m"}``.
Example (TOML)::

    [alerts]
    clear_windows = 2
    group_interval = "60s"
    admin_email = "ops@example.com"
    repeat_interval = { red = "1h", yellow = "4h" }       # blue unset: no repeats (daily report)
    crisis = { red_min_negatives = 80 }                     # every brand; a brand may override again
    competitor = { drop_percent = 15 }
    rate_limits = { dingtalk = ["18/min"], 品牌危机群 = ["10/min"] }   # by channel type or name

    [[brands]]
    name = "蜜橙"
    aliases = ["MICHENG"]
    exclude = ["水果", "好吃"]
    crisis = { yellow_min_negatives = 10 }
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from jingshao.alerts.rules.competitor import CompetitorThresholds
from jingshao.alerts.rules.crisis import CrisisThresholds
from jingshao.core.levels import DEFAULT_PREFIX
from jingshao.crawlers.config import BrandConfig, CrisisValue

_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*([a-z]+)\s*$")


def parse_duration(value: Any) -> Any:
    """``90`` / ``"90s"`` / ``"5m"`` / ``"1h"`` / ``"2d"`` -> timedelta; anything else is left to pydantic."""
    if isinstance(value, bool):
        raise ValueError('expected a duration such as 90, "90s", "5m" or "1h"')
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value.lower())
        if match:
            number, unit = match.groups()
            if unit not in ("", *_UNITS):
                raise ValueError(f"unknown duration unit {unit!r} in {value!r}; use s, m, h or d")
            return timedelta(seconds=float(number) * _UNITS.get(unit, 1))
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RateWindow(_Strict):
    """At most ``count`` messages in any ``per`` (a sliding window)."""

    count: int = Field(ge=1)
    per: Duration

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _RATE.match(value.lower())
            if not match or match.group(3) not in _UNITS:
                raise ValueError(f'expected a rate such as "18/min" or "4/s", got {value!r}')
            count, amount, unit = match.groups()
            return {"count": int(count), "per": float(amount or 1) * _UNITS[unit]}
        return value

    @field_validator("per")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("a rate window must be longer than 0 seconds")
        return value

    @property
    def seconds(self) -> float:
        return self.per.total_seconds()


def _rates(*texts: str) -> list[RateWindow]:
    return [RateWindow.model_validate(t) for t in texts]


def default_rate_limits() -> dict[str, list[RateWindow]]:
    """Below each platform's own limit (DingTalk/WeCom 20/min, Feishu 5/s and 100/min, Slack 1/s)."""
    return {
        "dingtalk": _rates("18/min"),
        "wecom": _rates("18/min"),
        "feishu": _rates("4/s", "90/min"),
        "slack": _rates("1/s"),
        "webhook": _rates("60/min"),
    }


class RepeatIntervals(_Strict):
    """How often a still-firing alert is repeated, per level. ``None``: never repeated (blue by default:
    it shows in the daily report; its first notice and its resolution still go to channels routing blue)."""

    red: Duration | None = timedelta(hours=1)
    yellow: Duration | None = timedelta(hours=4)
    blue: Duration | None = None

    def for_level(self, level: str) -> timedelta | None:
        return getattr(self, level)


class RetryPolicy(_Strict):
    """Exponential backoff with jitter for throttling, 5xx and network errors.

    Delay after attempt n: ``min(cap, base * 2**(n-1))`` scaled by ``1 ± jitter`` (random), never less
    than the platform's ``Retry-After``. With the defaults, 20 attempts span about an hour (2 s, 4 s ...
    256 s, then every 5 min); after that the notification is marked dead, loudly.
    """

    max_attempts: int = Field(default=20, ge=1)
    base: Duration = timedelta(seconds=2)
    cap: Duration = timedelta(minutes=5)
    jitter: float = Field(default=0.2, ge=0, le=1)

    def delay(self, attempts: int, unit_random: float) -> timedelta:
        """The wait after ``attempts`` failed attempts; ``unit_random`` is uniform in [0, 1)."""
        raw = min(self.cap.total_seconds(), self.base.total_seconds() * 2 ** max(0, attempts - 1))
        return timedelta(seconds=raw * (1 + self.jitter * (2 * unit_random - 1)))


def _check_crisis_overrides(value: dict[str, Any], where: str) -> dict[str, Any]:
    CrisisThresholds.from_mapping(value, where)  # names the unknown key and the allowed ones
    return value


def _check_competitor_overrides(value: dict[str, Any]) -> dict[str, Any]:
    known = {f.name for f in dataclasses.fields(CompetitorThresholds)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}; expected some of {', '.join(sorted(known))}")
    CompetitorThresholds(**value)
    return value


def check_brand_crisis(brand: BrandConfig) -> BrandConfig:
    """A brand's ``crisis`` table names only CrisisThresholds fields with valid values (the top-level
    config runs this on every ``[[brands]]`` entry: the brand type belongs to the crawlers, which do
    not know alert thresholds)."""
    _check_crisis_overrides(brand.crisis, f"brand {brand.name!r} crisis")
    return brand


class AlertsConfig(_Strict):
    """The alert engine and the notification pipeline."""

    repeat_interval: RepeatIntervals = Field(default_factory=RepeatIntervals)
    clear_windows: int = Field(default=2, ge=1, description="clear evaluations in a row before resolved")
    group_interval: Duration = Field(
        default=timedelta(seconds=60), description="notifications for one subject and channel within it become one"
    )
    admin_email: str | None = Field(default=None, description="told when a channel breaks")
    blocked_crawls: int = Field(
        default=3, ge=1, description="products crawls in a row with a competitor blocked before admin channels are told"
    )
    prefix: str = Field(
        default=DEFAULT_PREFIX, min_length=1, description="default start of every message (channels may set their own)"
    )
    crisis: dict[str, CrisisValue] = Field(default_factory=dict, description="CrisisThresholds overrides, all brands")
    competitor: dict[str, Any] = Field(default_factory=dict, description="CompetitorThresholds overrides")
    rate_limits: dict[str, list[RateWindow]] = Field(
        default_factory=dict, description="by channel name or type; merged over the defaults"
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    claim_timeout: Duration = Field(
        default=timedelta(seconds=60), description="a claimed notification not confirmed by then is sent again"
    )
    dispatch_interval: Duration = Field(default=timedelta(seconds=2), description="dispatcher poll interval")

    @field_validator("crisis")
    @classmethod
    def _crisis(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_crisis_overrides(value, "alerts.crisis")

    @field_validator("competitor")
    @classmethod
    def _competitor(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_competitor_overrides(value)

    def crisis_thresholds(self, brand: BrandConfig | None = None) -> CrisisThresholds:
        """Defaults, then ``[alerts].crisis``, then the brand's own ``crisis`` table."""
        merged = {**self.crisis, **(brand.crisis if brand else {})}
        where = f"brand {brand.name!r} crisis" if brand else "alerts.crisis"
        return CrisisThresholds.from_mapping(merged, where)

    def competitor_thresholds(self) -> CompetitorThresholds:
        return CompetitorThresholds(**self.competitor)

    def limits_for(self, name: str, kind: str) -> list[RateWindow]:
        """The rate windows of channel ``name`` of type ``kind``: by name, else by type, else the defaults."""
        if name in self.rate_limits:
            return self.rate_limits[name]
        if kind in self.rate_limits:
            return self.rate_limits[kind]
        return default_rate_limits().get(kind, [])
