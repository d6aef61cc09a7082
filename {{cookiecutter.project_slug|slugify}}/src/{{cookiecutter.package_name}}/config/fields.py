"""Reading config/project.json: one ConfigError line per problem, naming the key path.

`_Section` is a JSON object at a key path; each read checks the value's type (and pattern or
range) and marks the key as known, so `done()` can refuse keys nothing read (a typo, or a
setting this version no longer has). The patterns below are what the values must match.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

GITHUB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
SAGEMAKER_NAME = re.compile(r"^[a-z0-9](-*[a-z0-9]){0,39}$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
DURATION = re.compile(r"^P(\d+D)?(T(\d+H)?(\d+M)?)?$")
REVIEWER = re.compile(r"^@[A-Za-z0-9](?:-?[A-Za-z0-9])*(?:/[A-Za-z0-9._-]+)?$")


class ConfigError(ValueError):
    """The config file is missing, unreadable or holds a setting the code cannot use."""


class _Section:
    """A JSON object at a key path; each read checks type and marks the key as known."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path or 'the config'} is {_show(data)}; expected an object")
        self.data = data
        self.path = path
        self.read: set[str] = set()

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, default: Any) -> Any:
        self.read.add(key)
        if key in self.data:
            return self.data[key]
        if default is _REQUIRED:
            raise ConfigError(f"{self.where(key)} is missing")
        return default

    def section(self, key: str) -> _Section:
        """An optional object (empty when absent)."""
        return _Section(self._get(key, {}), self.where(key))

    def required_section(self, key: str) -> _Section:
        return _Section(self._get(key, _REQUIRED), self.where(key))

    def text(
        self, key: str, default: Any = None, pattern: re.Pattern[str] | None = None, expected: str = ""
    ) -> str:
        value = self._get(key, _REQUIRED if default is None else default)
        if not isinstance(value, str):
            raise ConfigError(f"{self.where(key)} is {_show(value)}; expected a string")
        if pattern is not None and not pattern.match(value):
            raise ConfigError(f"{self.where(key)} is {_show(value)}; expected {expected}")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: Any = None) -> str:
        value = self._get(key, _REQUIRED if default is None else default)
        if value not in options:
            raise ConfigError(f"{self.where(key)} is {_show(value)}; expected one of {', '.join(options)}")
        return value

    def number(self, key: str, low: float, high: float, default: Any = None, integer: bool = False) -> Any:
        value = self._get(key, _REQUIRED if default is None else default)
        kind = "a whole number" if integer else "a number"
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if ok and integer:
            ok = float(value).is_integer()
        if not ok or not low <= value <= high:
            raise ConfigError(
                f"{self.where(key)} is {_show(value)}; expected {kind} from {low:g} to {high:g}"
            )
        return int(value) if integer else float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.where(key)} is {_show(value)}; expected true or false")
        return value

    def done(self) -> None:
        """Refuse keys nothing read: a typo or a setting this version no longer has."""
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            known = ", ".join(sorted(self.read)) or "none"
            raise ConfigError(
                f"{self.where(unknown[0])} is not a setting this repository reads; known keys here: {known}"
            )


_REQUIRED: Any = object()


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, Mapping) else "an object"
    return text if len(text) <= 60 else text[:57] + "..."


def _plain(value: Any) -> Any:
    """JSON encoder fallback for `_frozen` values."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value
