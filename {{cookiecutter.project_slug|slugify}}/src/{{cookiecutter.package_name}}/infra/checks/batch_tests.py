"""Who may run a batch-only environment's transform test and touch its rows (endpoint type "none").

A batch-only environment has no endpoint to test: `endpoint-test` puts the held-out rows under
`batch/<env>/tests/input/` of the capture bucket, runs a transform job `<endpoint>-t<hex>` on the
model the deploy created, and reads its output under `batch/<env>/tests/output/`. These probes
join `checks/authority.py`'s (`check_authority` asks them), with this config's endpoint names,
capture buckets and workload accounts, for every environment:

- only a batch-only environment's deploy role creates or stops its test jobs (`<endpoint>-t...`),
  only on that environment's models (`sagemaker:ModelArn` `<endpoint>-v*`), and puts the test
  rows; in an environment with an endpoint no role does either;
- only the endpoint role (the job) writes the test output, only in a batch-only environment;
- the test rows are read and listed by the endpoint role (the job) only in a batch-only
  environment, the output (and the versions of its objects: the test reads the one object
  version its job wrote) by the deploy role only there; the environment's batch role lists and
  reads all of `batch/<env>/` (its own checks), the monitoring role lists every key.

`check_batch_test_grants` (asked by `checks/identity.py` for every IAM role) is the other half:
in a batch-only environment the deploy role and the endpoint role of its account must hold each
of those grants, so a template that forgets one fails here rather than in the release.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ... import config
from ...config import Config
from ...config.batch import ROLE_KEYS
from .authority import WRITES, Probe, allows
from .base import Finding

READS = ("s3:GetObject", "s3:GetObjectVersion")
ENDPOINT = "sagemaker_endpoint"
# Lists every key of the capture buckets (see `checks/batch.py`).
WHOLE_BUCKET_LISTERS = frozenset({"sagemaker_monitor"})
JOB_CHANGES = ("sagemaker:CreateTransformJob", "sagemaker:StopTransformJob")
JOB_CALLS = ("sagemaker:AddTags", "sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob")
TO_SAGEMAKER = {"iam:PassedToService": "sagemaker.amazonaws.com"}
# A model name no template names: any model of a workload account but the environment's own.
OTHER_MODEL = "some-other-model"
# A key ID no template names: the capture key's generated ID.
ANY_KEY = "00000000-probe"


def _names(cfg: Config, env: str) -> dict[str, str]:
    """The ARNs and keys one environment's transform test uses, with a probe job's name."""
    environment = cfg.environment(env)
    account, endpoint = environment.account, environment.endpoint_name
    prefixes = cfg.names.batch_test_prefixes[env]
    sagemaker = f"arn:aws:sagemaker:{cfg.region}:{account}:"
    job = f"{endpoint}-tprobe"
    bucket = f"arn:aws:s3:::{environment.capture_bucket}"
    return {
        "account": account,
        "job": f"{sagemaker}transform-job/{job}",
        "model": f"{sagemaker}model/{endpoint}-v9-probe",
        "other_model": f"{sagemaker}model/{OTHER_MODEL}",
        "bucket": bucket,
        "inputs": prefixes["input"] + f"{job}/",
        "outputs": prefixes["output"] + f"{job}/",
        "input": f"{bucket}/{prefixes['input']}{job}/test.csv",
        "output": f"{bucket}/{prefixes['output']}{job}/test.csv.out",
        "key": f"arn:aws:kms:{cfg.region}:{account}:key/{ANY_KEY}",
        "role": f"arn:aws:iam::{account}:role/{cfg.role_name(ENDPOINT)}",
    }


def batch_test_probes(cfg: Config) -> tuple[Probe, ...]:
    result = []
    for env in config.ENVIRONMENTS:
        on = cfg.environment(env).endpoint.batch_only
        n = _names(cfg, env)
        deploy = frozenset({f"github_deploy_{env}"} if on else ())
        job = frozenset({ENDPOINT} if on else ())
        batch = frozenset({ROLE_KEYS[env]})
        result += [
            Probe(f"create or stop transform test jobs of {env}", JOB_CHANGES, (n["job"],), deploy),
            Probe(
                f"create transform test jobs on another model of {env}",
                ("sagemaker:CreateTransformJob",),
                (n["job"],),
                frozenset(),
                {"sagemaker:ModelArn": n["other_model"]},
            ),
            Probe(f"write transform test inputs of {env}", WRITES, (n["input"],), deploy),
            Probe(f"read transform test inputs of {env}", READS, (n["input"],), batch | job),
            Probe(
                f"list transform test inputs of {env}",
                ("s3:ListBucket",),
                (n["bucket"],),
                batch | job | WHOLE_BUCKET_LISTERS,
                {"s3:prefix": n["inputs"]},
            ),
            Probe(f"write transform test outputs of {env}", WRITES, (n["output"],), job),
            Probe(f"read transform test outputs of {env}", READS, (n["output"],), batch | deploy),
            Probe(
                f"list transform test outputs of {env}",
                ("s3:ListBucket",),
                (n["bucket"],),
                batch | deploy | WHOLE_BUCKET_LISTERS,
                {"s3:prefix": n["outputs"]},
            ),
            Probe(
                f"list the versions of transform test outputs of {env}",
                ("s3:ListBucketVersions",),
                (n["bucket"],),
                deploy,
                {"s3:prefix": n["outputs"]},
            ),
        ]
    return tuple(result)


def transform_test_needs(cfg: Config, env: str) -> dict[str, tuple[Probe, ...]]:
    """What each role of a batch-only environment's transform test must be able to do, by role
    key: every action of each probe, each on its own (a probe here is a request that must pass)."""
    n = _names(cfg, env)
    deploy, job = frozenset({f"github_deploy_{env}"}), frozenset({ENDPOINT})
    via_s3 = {
        "kms:ViaService": f"s3.{cfg.region}.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": n["bucket"],
    }
    model = {"sagemaker:ModelArn": n["model"]}
    return {
        f"github_deploy_{env}": (
            Probe(
                "create its transform test jobs",
                ("sagemaker:CreateTransformJob",),
                (n["job"],),
                deploy,
                model,
            ),
            Probe("tag, describe and stop its transform test jobs", JOB_CALLS, (n["job"],), deploy),
            Probe(
                "pass the endpoint role to SageMaker", ("iam:PassRole",), (n["role"],), deploy, TO_SAGEMAKER
            ),
            Probe("put the transform test rows", ("s3:PutObject",), (n["input"],), deploy),
            Probe("read the transform test output", READS, (n["output"],), deploy),
            Probe(
                "list the transform test output and its versions",
                ("s3:ListBucket", "s3:ListBucketVersions"),
                (n["bucket"],),
                deploy,
                {"s3:prefix": n["outputs"]},
            ),
            Probe(
                "use the capture key through S3",
                ("kms:GenerateDataKey", "kms:Decrypt"),
                (n["key"],),
                deploy,
                via_s3,
            ),
        ),
        ENDPOINT: (
            Probe(
                "list the transform test rows",
                ("s3:ListBucket",),
                (n["bucket"],),
                job,
                {"s3:prefix": n["inputs"]},
            ),
            Probe("read the transform test rows", ("s3:GetObject",), (n["input"],), job),
            Probe("write the transform test output", ("s3:PutObject",), (n["output"],), job),
        ),
    }


def check_batch_test_grants(
    where: str,
    role_name: str,
    role_key: str | None,
    account: str,
    items: Iterable[dict[str, Any]],
    cfg: Config,
) -> list[Finding]:
    """Every request of a batch-only environment's transform test (hosted in `account`) that the
    role `role_key` must be able to make and its statements do not allow."""
    items = list(items)
    findings = []
    for env in config.ENVIRONMENTS:
        environment = cfg.environment(env)
        if not environment.endpoint.batch_only or environment.account != account:
            continue
        for need in transform_test_needs(cfg, env).get(role_key or "", ()):
            for action in need.actions:
                single = Probe(need.what, (action,), need.arns, need.allowed, need.context)
                if allows(items, single) is None:
                    findings.append(
                        Finding(
                            where,
                            f"role {role_name} cannot {need.what} ({action} on {need.arns[0]}), "
                            f'which the transform test of {env} (endpoint type "none") needs',
                        )
                    )
    return findings
