"""Reading the `model` section: framework, hyperparameters and the data contract that
steps/preprocess.py enforces (docs/data.md). Every problem is one ConfigError naming the key."""

from __future__ import annotations

import re
from types import MappingProxyType

from .fields import ConfigError, _Section, _show
from .settings import FRAMEWORKS, HYPERPARAMETERS, IDENTIFIER_POLICIES, ModelSettings


def parse_model(s: _Section) -> ModelSettings:
    framework = s.choice("framework", FRAMEWORKS)
    target = s.text("target_column", pattern=COLUMN, expected=COLUMN_EXPECTED)
    hyper = s.required_section("hyperparameters")
    params = {}
    for name in FRAMEWORKS:
        section = hyper.section(name)
        valid = sorted(HYPERPARAMETERS[name])
        unknown = sorted(set(section.data) - set(valid))
        if unknown:
            raise ConfigError(
                f"{section.where(unknown[0])} is not a hyperparameter steps/train.py takes for {name}; "
                f"expected one of {', '.join(valid)}"
            )
        values = {}
        for key, kind in HYPERPARAMETERS[name].items():
            if key in section.data:
                integer = kind is int
                values[key] = section.number(key, 1e-12 if not integer else 1, 1e9, integer=integer)
        params[name] = MappingProxyType(values)
    hyper.done()
    if not params[framework]:
        raise ConfigError(
            f"model.hyperparameters.{framework} is missing; the chosen framework needs its settings"
        )
    drop = _columns(s, "drop_columns", [])
    categorical = _columns(s, "categorical_columns", None)
    for key, names in (("drop_columns", drop), ("categorical_columns", categorical or ())):
        if target in names:
            raise ConfigError(
                f"model.{key} lists {_show(target)}, the target_column; expected feature columns only"
            )
    both = [name for name in drop if name in (categorical or ())]
    if both:
        raise ConfigError(
            f"model.categorical_columns lists {_show(both[0])}, which model.drop_columns drops; "
            "expected a column in one list at most"
        )
    settings = ModelSettings(
        framework=framework,
        target_column=target,
        hyperparameters=MappingProxyType(params),
        drop_columns=drop,
        categorical_columns=categorical,
        positive_label=_positive_label(s),
        max_dropped_share=s.number("max_dropped_share", 0.0, 1.0, default=0.05),
        identifier_columns=s.choice("identifier_columns", IDENTIFIER_POLICIES, default="drop"),
        min_class_count=s.number("min_class_count", 1, 1_000_000, default=5, integer=True),
    )
    s.done()
    return settings


# A column name the preprocess step can take as an argument: no commas (lists are comma-separated),
# no surrounding spaces, at most 200 characters.
COLUMN = re.compile(r"^(?=.{1,200}$)[^,\s](?:[^,\r\n]*[^,\s])?$")
COLUMN_EXPECTED = "a column name: 1-200 characters, no commas, no surrounding spaces"


def _columns(s: _Section, key: str, default: list[str] | None) -> tuple[str, ...] | None:
    value = s._get(key, default)
    if value is None and default is None:
        return None
    ok = isinstance(value, list) and all(isinstance(v, str) and COLUMN.match(v) for v in value)
    if not ok:
        nulls = " or null (infer from the values)" if default is None else ""
        raise ConfigError(
            f"{s.where(key)} is {_show(value)}; expected a list of column names{nulls}; "
            f"each {COLUMN_EXPECTED[len('a column name: ') :]}"
        )
    repeated = sorted({v for v in value if value.count(v) > 1})
    if repeated:
        raise ConfigError(f"{s.where(key)} lists {_show(repeated[0])} twice; expected each column once")
    return tuple(value)


def _positive_label(s: _Section) -> str | None:
    value = s._get("positive_label", None)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip() or "\n" in value:
        raise ConfigError(
            f"{s.where('positive_label')} is {_show(value)}; expected the label value that means "
            'positive, as text such as "yes", "True" or "1" (or null for the rule in docs/data.md)'
        )
    return value.strip()
