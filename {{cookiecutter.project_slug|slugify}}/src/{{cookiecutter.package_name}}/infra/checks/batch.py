"""Who may run Batch Transform jobs, and who may touch their inputs and outputs (`batch run`).

These probes join `checks/authority.py`'s (`check_authority` asks them), with this config's
endpoint names, capture buckets and workload accounts. They are the checks' own limits, whatever
the templates say, for every environment (an environment without batch settings is no excuse):

- only the environment's batch role (`<model>-github-batch-<env>`) creates or stops its
  transform jobs, and only under its endpoint's batch names (`<endpoint>-b...`); no role creates
  a transform job under any other name of a workload account, nor on a model other than its
  endpoint's (`sagemaker:ModelArn`: where QA and prod share an account, not the other's);
- the batch role changes nothing else: no model, endpoint config or endpoint (a batch runs the
  model the deploy created), no other role passed (registry and artifact writes have their own
  probes in `checks/authority.py`, which hold for every role);
- a transform job runs as its model's execution role, so the job's role is whatever role the
  model's creator may pass: only the deploy and batch roles pass the endpoint role, and no role passes any
  other role of a workload account to SageMaker (the monitoring and pipeline roles have their
  own probes in `checks/monitoring.py` and `checks/authority.py`);
- no role of the product writes the batch input prefix (`batch/<env>/input/`): the data's owner
  puts the files there with credentials of their own; the endpoint role (the job) and the
  environment's batch role (the empty-input and line-count checks) list and read it;
- only the endpoint role (the job) writes the batch output prefix (`batch/<env>/output/`), and
  only the environment's batch role lists and reads it (the output check), so nobody can forge
  or quietly replace a job's predictions, and the job cannot read what it wrote before;
- one exception to the listing limits: the monitoring role lists the whole capture bucket (key
  names only: its reads stay under `data-capture/`, which its Model Monitor jobs list);
- no role decrypts with a key of a workload account other than through S3 (the batch reads name
  the account's keys, `key/*`, because the capture key's ID is generated; the other half of
  that limit, "only objects of the capture bucket", is `checks/capture.py`'s).

In a shared-account layout the batch role of one environment is thereby denied every batch
prefix and job of the other; the endpoint role is one role for both.
"""

from __future__ import annotations

from ... import config
from ...config import Config
from ...config.batch import ROLE_KEYS
from .authority import WRITES, Probe

READS = ("s3:GetObject", "s3:GetObjectVersion")
ENDPOINT = "sagemaker_endpoint"
# Lists every key of the capture buckets, reads none of batch/ (see the docstring).
WHOLE_BUCKET_LISTERS = frozenset({"sagemaker_monitor"})
DEPLOY_ROLES = frozenset(f"github_deploy_{env}" for env in config.ENVIRONMENTS)
BATCH_ROLES = frozenset(ROLE_KEYS.values())
JOB_CHANGES = ("sagemaker:CreateTransformJob", "sagemaker:StopTransformJob")
# What only a deploy changes: the endpoint's models, configs and endpoint.
SERVING_CHANGES = (
    "sagemaker:CreateModel",
    "sagemaker:DeleteModel",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateEndpoint",
    "sagemaker:UpdateEndpoint",
    "sagemaker:DeleteEndpoint",
)
TO_SAGEMAKER = {"iam:PassedToService": "sagemaker.amazonaws.com"}
# A role name no template names: any other role of a workload account.
OTHER_ROLE = "some-admin-role"
# A model name no template names: any model of a workload account but the endpoint's own.
OTHER_MODEL = "some-other-model"
# A key ID no template names: any key of a workload account.
ANY_KEY = "00000000-probe"


def batch_probes(cfg: Config) -> tuple[Probe, ...]:
    result = []
    for env in config.ENVIRONMENTS:
        environment = cfg.environment(env)
        account, endpoint = environment.account, environment.endpoint_name
        bucket = f"arn:aws:s3:::{environment.capture_bucket}"
        inputs, outputs = cfg.names.batch_input_prefixes[env], cfg.names.batch_output_prefixes[env]
        batch = frozenset({ROLE_KEYS[env]})
        sagemaker = f"arn:aws:sagemaker:{cfg.region}:{account}:"
        jobs = f"arn:aws:sagemaker:{cfg.region}:{account}:transform-job/"
        roles = f"arn:aws:iam::{account}:role/"
        answer = f"{outputs}{endpoint}-bprobe/scores.csv.out"
        result += [
            Probe(
                f"create or stop transform jobs of {env}", JOB_CHANGES, (jobs + f"{endpoint}-bprobe",), batch
            ),
            Probe(
                f"change the models, endpoint configs or endpoint of {env}",
                SERVING_CHANGES,
                (
                    f"{sagemaker}model/{endpoint}-v9-probe",
                    f"{sagemaker}endpoint-config/{endpoint}-v9-probe",
                    f"{sagemaker}endpoint/{endpoint}",
                ),
                frozenset({f"github_deploy_{env}"}),
            ),
            Probe(
                f"create transform jobs on another model of {env}",
                ("sagemaker:CreateTransformJob",),
                (jobs + f"{endpoint}-bprobe",),
                frozenset(),
                {"sagemaker:ModelArn": f"{sagemaker}model/{OTHER_MODEL}"},
            ),
            Probe(
                f"create transform jobs under other names in the account of {env}",
                JOB_CHANGES,
                (jobs + f"{endpoint}-probe", jobs + "some-other-job"),
                frozenset(),
            ),
            Probe(
                f"pass the endpoint role of {env}",
                ("iam:PassRole",),
                (roles + cfg.role_name(ENDPOINT),),
                DEPLOY_ROLES | BATCH_ROLES,
                TO_SAGEMAKER,
            ),
            Probe(
                f"pass another role to SageMaker in the account of {env}",
                ("iam:PassRole",),
                tuple(
                    roles + name
                    for name in (OTHER_ROLE, *map(cfg.role_name, sorted(DEPLOY_ROLES | BATCH_ROLES)))
                ),
                frozenset(),
                TO_SAGEMAKER,
            ),
            Probe(f"write batch input of {env}", WRITES, (f"{bucket}/{inputs}scores.csv",), frozenset()),
            Probe(f"read batch input of {env}", READS, (f"{bucket}/{inputs}scores.csv",), batch | {ENDPOINT}),
            Probe(
                f"list batch input of {env}",
                ("s3:ListBucket",),
                (bucket,),
                batch | {ENDPOINT} | WHOLE_BUCKET_LISTERS,
                {"s3:prefix": inputs},
            ),
            Probe(f"write batch output of {env}", WRITES, (f"{bucket}/{answer}",), frozenset({ENDPOINT})),
            Probe(f"read batch output of {env}", READS, (f"{bucket}/{answer}",), batch),
            Probe(
                f"list batch output of {env}",
                ("s3:ListBucket",),
                (bucket,),
                batch | WHOLE_BUCKET_LISTERS,
                {"s3:prefix": outputs},
            ),
            Probe(
                f"decrypt outside S3 with a key of the account of {env}",
                ("kms:Decrypt",),
                (f"arn:aws:kms:{cfg.region}:{account}:key/{ANY_KEY}",),
                frozenset(),
                {
                    "kms:ViaService": f"sagemaker.{cfg.region}.amazonaws.com",
                    "kms:EncryptionContext:aws:s3:arn": bucket,
                },
            ),
        ]
    return tuple(result)
