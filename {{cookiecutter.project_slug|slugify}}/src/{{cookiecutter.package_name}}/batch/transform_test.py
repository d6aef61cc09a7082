"""The tests of a batch-only environment (endpoint type "none"): one transform job over the
held-out samples, checked as the endpoint suite checks an endpoint, in the same report shape.

`endpoint-test --env E --arn ARN` of a batch-only environment runs it (QA in dev.yml, the prod
smoke test in release.yml) with E's deploy role, against the model E's deploy created for ARN:

1. input: the samples' raw records as CSV lines without a header or target (text as text, a gap
   as an empty cell: what a batch input file holds), then, with two or more features, one record
   with every feature missing. It is written to `batch/<env>/tests/input/<job>/test.csv` of E's
   capture bucket (SSE-KMS, the capture key), apart from the scheduled runs' `batch/<env>/input/`.
   The job name `<endpoint>-t<hash>` hashes the model and the input's sha256, so a re-run of the
   same test attaches to its job, and a Completed one is only read again.
2. the job: the scheduled runs' request (`job.transform_request`: MultiRecord, text/csv,
   JoinSource Input, the environment's batch instances), output under
   `batch/<env>/tests/output/<job>/`.
3. the checks (`result_checks`, also what the local rehearsal runs):
   - model: the deploy's model for ARN exists and is the one it plans (`job.require_model`);
   - transform job: Completed (else its status and FailureReason);
   - outputs: test.csv.out holds one line per record, each the record, a comma, then one
     valid prediction (label 0/1, probability in [0, 1]; `outputs.check_file`);
   - accuracy: on the labelled rows, at least the environment's `tests.min_accuracy`;
   - missing values: the all-missing record got a prediction.
   A job has no per-request latency: the report's latency block is empty (no burst).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ..config import Config
from ..deploy.aws import Clients, DeployError, log
from ..deploy.endpoint import DeployPlan
from ..endpoint_tests.checks import Thresholds, csv_body
from ..endpoint_tests.report import Check, SuiteReport
from ..endpoint_tests.samples import Sample
from .job import RUNNING, describe_job, require_model, transform_request, wait_for
from .job_evidence import job_output, job_problem, model_problem
from .outputs import Summary, check_file, prediction, records

TEST_FILE = "test.csv"
TITLE = "Transform test"
NAME_LIMIT = 63


@dataclass(frozen=True)
class TestInput:
    """The input file of a transform test and what its records should score."""

    text: str
    labels: tuple[int, ...]  # of the first len(labels) records
    missing_row: bool  # the last record has every feature missing

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def rows(self) -> int:
        return len(records(self.text))


def test_input(samples: list[Sample]) -> TestInput:
    """The samples' features as a headerless CSV file, plus the all-missing record."""
    if not samples:
        raise ValueError("the transform test needs at least one labelled sample")
    rows = [features for features, _ in samples]
    gaps = dict.fromkeys(rows[0])
    missing = len(gaps) > 1  # as the endpoint suite: one feature sends no all-missing CSV record
    text = csv_body(rows + ([gaps] if missing else [])).decode()
    return TestInput(text, tuple(label for _, label in samples), missing)


def test_job_name(endpoint: str, model_name: str, data: TestInput) -> str:
    """`<endpoint>-t<hash of the model and the input>`, at most 63 characters."""
    key = hashlib.sha256(f"{model_name}\n{data.sha256}".encode()).hexdigest()[:10]
    return f"{endpoint[: NAME_LIMIT - 12].rstrip('-')}-t{key}"


def result_checks(data: TestInput, output_text: str | None, thresholds: Thresholds) -> list[Check]:
    """outputs, accuracy and missing values of a finished job's `test.csv.out` (None: absent)."""
    summary = Summary()
    check_file(summary, TEST_FILE, data.text, output_text)
    if not summary.passed:
        problem = "; ".join(summary.failures[:3])
        return [
            Check("outputs", False, problem),
            Check("accuracy", False, "no valid predictions to score"),
            Check("missing values", False, "no valid predictions to read"),
        ]
    lines = records(data.text)
    predicted = [
        prediction(joined[len(line) + 1 :])
        for line, joined in zip(lines, records(output_text or ""), strict=True)
    ]
    checks = [
        Check("outputs", True, f"{len(lines)} joined rows, each a label 0/1 and a probability in [0, 1]")
    ]
    correct = sum(p["label"] == y for p, y in zip(predicted, data.labels, strict=False))
    accuracy = correct / len(data.labels)
    checks.append(
        Check(
            "accuracy",
            accuracy >= thresholds.min_accuracy,
            f"{accuracy:.3f} on {len(data.labels)} labelled rows, min {thresholds.min_accuracy:g}",
        )
    )
    if data.missing_row:
        checks.append(Check("missing values", True, "the record with every feature empty got a prediction"))
    else:
        checks.append(Check("missing values", True, "one feature: an empty record is no CSV line (not sent)"))
    return checks


def report(target: str, checks: list[Check], thresholds: Thresholds, seconds: float) -> SuiteReport:
    return SuiteReport(
        passed=all(c.passed for c in checks),
        checks=checks,
        latency={},
        target=target,
        thresholds=asdict(thresholds),
        seconds=seconds,
        title=TITLE,
    )


def run_local(
    send: Callable[[bytes], tuple[int, bytes]],
    data: TestInput,
    max_bytes: int,
    thresholds: Thresholds,
    target: str,
) -> SuiteReport:
    """The transform test against a local model server (`batch.local`'s split and join): the
    same input and checks as a job in AWS, the job's status replaced by the rehearsal's."""
    from .local import JobFailed, join, mini_batches

    started = time.perf_counter()
    checks = [Check("model", True, f"the rehearsal's model at {target}")]
    try:
        joined = join(TEST_FILE, mini_batches(records(data.text), max_bytes), send)
    except JobFailed as exc:
        checks.append(Check("transform job", False, str(exc)))
        output = None
    else:
        checks.append(
            Check("transform job", True, "Completed (rehearsed: split by line, MultiRecord, joined)")
        )
        output = "".join(line + "\n" for line in joined)
    checks += result_checks(data, output, thresholds)
    return report(target, checks, thresholds, time.perf_counter() - started)


def rehearse(cfg: Config, url: str, samples: list[Sample], thresholds: Thresholds) -> SuiteReport:
    """The transform test against the rehearsal's model server at `url` (`make local`)."""
    from ..local.server import MAX_BODY_BYTES
    from .local import MB, http_sender

    max_bytes = min(cfg.batch.environment("qa").max_payload_mb * MB, MAX_BODY_BYTES)
    return run_local(http_sender(url), test_input(samples), max_bytes, thresholds, url)


def failed_job_checks(outputs: str, job: str = "") -> list[Check]:
    """The checks of a job that ended otherwise than Completed (`job`: its status and reason),
    or of outputs that cannot be used (`outputs`: why; the first check is then left out)."""
    return [
        Check("transform job", False, job),
        Check("outputs", False, outputs),
        Check("accuracy", False, "no valid predictions to score"),
        Check("missing values", False, "no valid predictions to read"),
    ]


def describe_reason(job: dict[str, Any]) -> str:
    return str(job.get("FailureReason") or "no reason given")


def run_job(
    cfg: Config,
    clients: Clients,
    deploy: DeployPlan,
    samples: list[Sample],
    thresholds: Thresholds,
    waiting: tuple[float, float],
) -> SuiteReport:
    """The transform test of `deploy`'s model in its environment (steps 1-3 above). A failed
    check is a failed report; an AWS error or a job still running after `waiting` (timeout,
    poll seconds) raises, as the endpoint suite's transport errors do."""
    started = time.perf_counter()
    env = deploy.settings.env
    environment = cfg.environment(env)
    data = test_input(samples)
    target = f"model {deploy.model_name}"
    try:
        require_model(clients, deploy, env)
    except DeployError as exc:
        return report(target, [Check("model", False, str(exc))], thresholds, 0.0)
    checks = [Check("model", True, f"created by the {env} deploy for {deploy.package.arn}")]
    name = test_job_name(environment.endpoint_name, deploy.model_name, data)
    bucket, prefixes = environment.capture_bucket, cfg.names.batch_test_prefixes[env]
    input_key, output_key = f"{prefixes['input']}{name}/", f"{prefixes['output']}{name}/"
    request = transform_request(
        cfg, env, deploy, name, f"s3://{bucket}/{input_key}", f"s3://{bucket}/{output_key}", TEST_TAGS
    )
    job = describe_job(clients, name)
    if job is None:
        log(f"transform test {name}: {data.rows} rows through {deploy.model_name}")
        clients("s3").put_object(
            Bucket=bucket,
            Key=f"{input_key}{TEST_FILE}",
            Body=data.text.encode(),
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=environment.capture_key_arn,
        )
        clients.sagemaker.create_transform_job(**request)
        job = {"TransformJobName": name, "TransformJobStatus": "InProgress"}
    else:
        log(f"transform test {name} already exists ({job['TransformJobStatus']}); reading it")
        problem = job_problem(job, request)
        if problem:
            checks.append(Check("transform job", False, problem))
            return report(target, checks, thresholds, time.perf_counter() - started)
    if job["TransformJobStatus"] in RUNNING:
        job = wait_for(clients, name, *waiting)
    status = job["TransformJobStatus"]
    if status != "Completed":
        checks += failed_job_checks(f"the job ended {status}", f"{status}: {describe_reason(job)}")
    else:
        swapped = model_problem(clients, deploy, job)
        checks.append(Check("transform job", not swapped, swapped or f"{name} Completed"))
        output, problem = job_output(clients, bucket, f"{output_key}{TEST_FILE}.out", job)
        checks += failed_job_checks(problem)[1:] if problem else result_checks(data, output, thresholds)
    return report(target, checks, thresholds, time.perf_counter() - started)


# Tells a test job from a scheduled run's in the console and in cost reports.
TEST_TAGS = [{"Key": "batch-use", "Value": "test"}]
