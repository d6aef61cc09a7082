"""`--set name=value`: change a hyperparameter for one rehearsal, without editing the config.

The name must be one of the framework's hyperparameters (`config.HYPERPARAMETERS`, the ones
steps/train.py accepts); the value is checked by the config's own rules, by parsing the config
again with the override in place, so a value the config would refuse is refused here with the
same words. Nothing is written: config/project.json stays as it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import HYPERPARAMETERS, Config, ConfigError, parse, read_raw


def _value(text: str) -> Any:
    """A JSON number as a number; anything else stays text (the config check refuses it)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, int | float) and not isinstance(value, bool) else text


def parse_sets(framework: str, items: Sequence[str]) -> dict[str, Any]:
    """{name: value} from `name=value` items; ConfigError names the first bad one and lists the
    framework's hyperparameters."""
    known = sorted(HYPERPARAMETERS.get(framework, {}))
    overrides: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise ConfigError(f"--set {item!r} is not name=value (e.g. --set {known[0]}=4 for {framework})")
        if name not in known:
            raise ConfigError(
                f"--set {item}: {framework} has no hyperparameter {name!r};"
                f" expected one of: {', '.join(known)}"
            )
        overrides[name] = _value(text)
    return overrides


def apply_overrides(
    config_file: Path, cfg: Config, framework: str, items: Sequence[str]
) -> tuple[Config, dict[str, Any]]:
    """The config with the overrides in model.hyperparameters.<framework>, checked by the
    config's rules, and the overrides; (cfg, {}) without any."""
    overrides = parse_sets(framework, items)
    if not overrides:
        return cfg, {}
    raw = read_raw(config_file)
    section = raw.setdefault("model", {}).setdefault("hyperparameters", {}).setdefault(framework, {})
    section.update(overrides)
    try:
        return parse(raw, source=str(config_file)), overrides
    except ConfigError as exc:
        given = " ".join(f"{k}={v}" for k, v in overrides.items())
        raise ConfigError(f"--set {given}: {exc}") from None
