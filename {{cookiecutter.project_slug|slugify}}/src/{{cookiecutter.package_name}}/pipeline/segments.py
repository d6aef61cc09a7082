"""The segmented pipeline (config `model.segments`): one model per listed segment value, one run.

Preprocess (one job) writes each segment's splits under `<channel>/<segment>/`. Per segment:
`Train-<seg>`, `Evaluate-<seg>` (against that segment's champion: the prod version released last
whose `segment` metadata is the segment; none for a new segment), the baseline steps
`BaselineData-<seg>`, `DataQualityBaseline-<seg>`, `DataQualityConstraints-<seg>`,
`ModelQualityBaseline-<seg>`, and `Register-<seg>`. One gate, `MetricGate`, holds both conditions
of every segment (>= the threshold, >= its champion's score minus the tolerance): all segments
register, or none does and `MetricBelowThreshold` names each failing segment with its numbers
(evaluate.py writes that verdict, `segment.failure`, from the same threshold and required score).

Every version registers into the kind's group with the usual metadata plus `segment`,
`segment_column` and `segment_set` (the execution id), so one run's versions are found together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.steps import ProcessingStep

from .baselines import baseline_steps
from .champion import Champion
from .parameters import metric_json_path
from .steps import FAIL, GATE, Build, comparison_value, evaluate_step, register_step, train_step

# evaluation.json's field (written with --segment) that is "" when the segment passes, else
# "<segment>: <metric> <value> below ..." with its numbers.
FAILURE_PATH = "segment.failure"


@dataclass(frozen=True)
class SegmentSteps:
    """One segment's steps, and what the gate reads from them."""

    segment: str
    steps: list
    evaluate: ProcessingStep
    report: PropertyFile
    register: ModelStep


def segment_steps(
    ctx: Build, preprocess: ProcessingStep, champions: Mapping[str, Champion | None] | None
) -> list[SegmentSteps]:
    """Train, evaluate, baselines and register for each value of `model.segments.values`, in order."""
    parts = []
    for segment in ctx.cfg.model.segments.values:
        seg = replace(ctx, segment=segment, champion=(champions or {}).get(segment))
        train = train_step(seg, preprocess)
        evaluate, report = evaluate_step(seg, preprocess, train)
        baselines = baseline_steps(seg, preprocess, evaluate)
        register = register_step(seg, train, evaluate, report, baselines=baselines)
        parts.append(SegmentSteps(segment, [train, evaluate, *baselines.steps], evaluate, report, register))
    return parts


def segments_gate(ctx: Build, parts: list[SegmentSteps]) -> ConditionStep:
    """Register every segment when each reaches the threshold and its champion's score minus the
    tolerance; else register none and fail naming each failing segment with its numbers."""
    cfg = ctx.cfg
    threshold = float(cfg.pipeline.metric_threshold)
    conditions = []
    for part in parts:
        value = JsonGet(
            step_name=part.evaluate.name, property_file=part.report, json_path=metric_json_path(cfg)
        )
        required = comparison_value(part.evaluate, part.report, "required")
        conditions += [
            ConditionGreaterThanOrEqualTo(left=value, right=threshold),
            ConditionGreaterThanOrEqualTo(left=value, right=required),
        ]
    failures = [
        JsonGet(step_name=part.evaluate.name, property_file=part.report, json_path=FAILURE_PATH)
        for part in parts
    ]
    fail = FailStep(
        name=FAIL,
        error_message=Join(
            on=" ",
            values=[
                f"Every segment's {cfg.pipeline.metric} must reach the threshold {threshold:g} and its "
                f"champion's minus the tolerance {cfg.champion.tolerance:g}; no segment registered. Failing:",
                *failures,
            ],
        ),
    )
    return ConditionStep(
        name=GATE,
        conditions=conditions,
        if_steps=[part.register for part in parts],
        else_steps=[fail],
    )
