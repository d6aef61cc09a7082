"""The `champion` section of config/project.json: how a candidate is compared with the champion.

    "champion": {
      "tolerance": 0.01,
      "shadow": {"enabled": false, "sampling_percent": 20, "duration_minutes": 60,
                 "min_requests": 100, "max_latency_ratio": 1.5, "max_error_rate": 0.01,
                 "min_agreement": 0.95}
    }

- `tolerance`: how far below the champion's score (on `pipeline.metric`, the same held-out rows)
  a candidate may be and still be registered: the gate requires
  candidate >= champion - tolerance, besides candidate >= `pipeline.metric_threshold`.
- `shadow`: the optional live comparison before the release takes over (docs/shadow.md).
  `enabled` deploys the candidate as a shadow variant next to the champion first;
  `sampling_percent` of the requests are copied to it for `duration_minutes`; it is promoted
  only when it answered at least `min_requests`, its latency is at most `max_latency_ratio`
  times the champion's, its error rate at most `max_error_rate`, and its predicted labels agree
  with the champion's on at least `min_agreement` of the captured requests.

The section and each key are optional (the defaults above apply); unknown keys are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .fields import _Section

DEFAULT_TOLERANCE = 0.01


@dataclass(frozen=True)
class Shadow:
    enabled: bool = False
    sampling_percent: int = 20
    duration_minutes: int = 60
    min_requests: int = 100
    max_latency_ratio: float = 1.5
    max_error_rate: float = 0.01
    min_agreement: float = 0.95


@dataclass(frozen=True)
class ChampionSettings:
    tolerance: float = DEFAULT_TOLERANCE
    shadow: Shadow = field(default_factory=Shadow)


def parse_champion(s: _Section) -> ChampionSettings:
    """The `champion` section (an empty section gives every default)."""
    tolerance = s.number("tolerance", 0.0, 1.0, default=DEFAULT_TOLERANCE)
    shadow = _parse_shadow(s.section("shadow"))
    s.done()
    return ChampionSettings(tolerance=tolerance, shadow=shadow)


def _parse_shadow(s: _Section) -> Shadow:
    default = Shadow()
    shadow = Shadow(
        enabled=s.flag("enabled", default.enabled),
        sampling_percent=s.number("sampling_percent", 1, 100, default=default.sampling_percent, integer=True),
        duration_minutes=s.number(
            "duration_minutes", 1, 7 * 24 * 60, default=default.duration_minutes, integer=True
        ),
        min_requests=s.number("min_requests", 1, 10_000_000, default=default.min_requests, integer=True),
        max_latency_ratio=s.number("max_latency_ratio", 1.0, 100.0, default=default.max_latency_ratio),
        max_error_rate=s.number("max_error_rate", 0.0, 1.0, default=default.max_error_rate),
        min_agreement=s.number("min_agreement", 0.0, 1.0, default=default.min_agreement),
    )
    s.done()
    return shadow
