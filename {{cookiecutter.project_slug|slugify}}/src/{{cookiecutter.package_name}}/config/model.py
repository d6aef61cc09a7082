"""Reading the `model` section: framework, hyperparameters and the data contract that
steps/preprocess.py enforces (docs/data.md). Every problem is one ConfigError naming the key."""

from __future__ import annotations

import re
from types import MappingProxyType

from .fields import ConfigError, _Section, _show
from .settings import FRAMEWORKS, HYPERPARAMETERS, IDENTIFIER_POLICIES, ModelSettings, Segments


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
        segments=_segments(s.section("segments"), target, (*drop, *(categorical or ()))),
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


# A segment value names steps, S3 keys and an endpoint's TargetModel.
SEGMENT_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")
SEGMENT_VALUE_EXPECTED = "1-32 letters, digits or hyphens, starting with a letter or digit"
MAX_SEGMENTS = 20


def _segments(s: _Section, target: str, listed: tuple[str, ...]) -> Segments:
    """`model.segments`: {"column": "", "values": []} is off; with a column, 1-20 unique values."""
    column = s.text("column", default="")
    values = s._get("values", [])
    s.done()
    if column == "":
        if values != []:
            raise ConfigError(
                f"{s.where('values')} is {_show(values)} but {s.where('column')} is empty; expected "
                "the segment column with the values, or [] when the model is not segmented"
            )
        return Segments()
    if not COLUMN.match(column):
        raise ConfigError(f"{s.where('column')} is {_show(column)}; expected {COLUMN_EXPECTED}")
    if column == target:
        raise ConfigError(
            f"{s.where('column')} is {_show(column)}, the target_column; expected a feature column"
        )
    if column in listed:
        raise ConfigError(
            f"{s.where('column')} is {_show(column)}, which model.drop_columns or "
            "model.categorical_columns lists; expected a column in neither (it picks the model, "
            "it is not a feature)"
        )
    if not isinstance(values, list) or not 1 <= len(values) <= MAX_SEGMENTS:
        raise ConfigError(
            f"{s.where('values')} is {_show(values)}; expected a list of 1 to {MAX_SEGMENTS} segment values"
        )
    for value in values:
        if not isinstance(value, str) or not SEGMENT_VALUE.match(value):
            raise ConfigError(
                f"{s.where('values')} lists {_show(value)}; expected each value {SEGMENT_VALUE_EXPECTED} "
                "(values name steps, S3 keys and the endpoint's TargetModel)"
            )
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ConfigError(f"{s.where('values')} lists {_show(repeated[0])} twice; expected each value once")
    folded = [v.lower() for v in values]
    clashing = [v for v in values if folded.count(v.lower()) > 1]
    if clashing:
        raise ConfigError(
            f"{s.where('values')} lists {' and '.join(_show(v) for v in clashing)}; expected values that "
            "differ in more than letter case (each names a folder and a file, and some file systems "
            "do not tell them apart)"
        )
    return Segments(column=column, values=tuple(values))


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
