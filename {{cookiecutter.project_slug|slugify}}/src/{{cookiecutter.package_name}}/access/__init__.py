"""The one access table: who may do what on the shared model registry, artifact bucket and key.

Each row (`Grant`, in `access/table.py`) says which IAM role, in which account, may call which
actions on which shared resource. Every consumer derives what it needs from these rows and a
`Config` (`access/derive.py`):

- `group_policy(cfg, kind)`: a model package group's resource policy (the deploy code's
  `registry.group_policy` and the shared-services template build exactly this);
- `workload_group_actions(environment)`: the registry calls a deploy environment's account makes;
- `key_policy(cfg)`, `bucket_policy(cfg)`: the Allow statements of the artifact key and bucket;
- `role_grants(cfg)`: every role's (effect, action, resource, condition) entries on the table's
  resources, which the templates' identity policies hold exactly, Denies included
  (tests/test_access.py proves it on every layout; `infra/checks` holds every template to it);
- `shared_services_parameters(cfg)`, `deploy_parameters(cfg, env)`, `workload_parameters(cfg,
  envs)`: what bootstrap passes the templates for it;
- `resource_arns`, `resource_of` (`access/resources.py`): the table's resource symbols as ARNs
  and back;
- `data_scientist_parameters(cfg)`: what bootstrap passes the data-science template for the
  optional data-scientist role (`aws.data_scientist_principal`; its rows join the table only
  when that is set).

Apart from the shared resources, `access/images.py` says where the framework images may be pulled
from: AWS's image account for the region (`IMAGE_ACCOUNTS`) and the exact repositories
(`FRAMEWORK_REPOSITORIES`); `image_parameters(cfg)` is what bootstrap passes the templates whose
roles pull them, and the policy checks hold every ECR pull grant to `repository_arns(region)`
or, for the roles that run Model Monitor's analyzer, to `analyzer_repository_arn(region)`.

The policy checks (`infra/checks`) hold the templates to this table and the table to their own
ceilings (what a workload or data-science account may never hold, and who may write which
prefix, pipeline and group: `infra/checks/authority.py`).

Standard library only: the deploy jobs import this with boto3 alone.
"""

from .derive import (
    bucket_policy,
    condition_text,
    creates_model_from_package,
    data_scientist_parameters,
    deploy_parameters,
    grants_of_role,
    group_policy,
    key_policy,
    role_grants,
    shared_services_parameters,
    source_prefix,
    workload_group_actions,
    workload_parameters,
)
from .images import (
    ANALYZER_ACCOUNTS,
    ANALYZER_REPOSITORY,
    FRAMEWORK_REPOSITORIES,
    IMAGE_ACCOUNTS,
    PULL_ACTIONS,
    analyzer_account,
    analyzer_image_uri,
    analyzer_parameters,
    analyzer_repository_arn,
    image_account,
    image_parameters,
    is_analyzer_image,
    is_framework_image,
    repository_arns,
)
from .resources import (
    REPORT_FILE,
    objects_arn,
    pipeline_arns,
    prefixes,
    reports_arn,
    resource_arns,
    resource_of,
)
from .table import (
    BUCKET_STATEMENTS,
    CREATE_MODEL,
    DATA_SCIENTIST,
    DESCRIBE_PACKAGE,
    ENVIRONMENT_TABLE,
    KEY_STATEMENTS,
    TABLE,
    Grant,
    actions_of,
    grants,
    party_account,
)

__all__ = [
    "ANALYZER_ACCOUNTS",
    "ANALYZER_REPOSITORY",
    "BUCKET_STATEMENTS",
    "CREATE_MODEL",
    "DATA_SCIENTIST",
    "DESCRIBE_PACKAGE",
    "ENVIRONMENT_TABLE",
    "FRAMEWORK_REPOSITORIES",
    "IMAGE_ACCOUNTS",
    "KEY_STATEMENTS",
    "PULL_ACTIONS",
    "REPORT_FILE",
    "TABLE",
    "Grant",
    "actions_of",
    "analyzer_account",
    "analyzer_image_uri",
    "analyzer_parameters",
    "analyzer_repository_arn",
    "bucket_policy",
    "condition_text",
    "creates_model_from_package",
    "data_scientist_parameters",
    "deploy_parameters",
    "grants",
    "grants_of_role",
    "group_policy",
    "image_account",
    "image_parameters",
    "is_analyzer_image",
    "is_framework_image",
    "key_policy",
    "objects_arn",
    "party_account",
    "pipeline_arns",
    "prefixes",
    "reports_arn",
    "repository_arns",
    "resource_arns",
    "resource_of",
    "role_grants",
    "shared_services_parameters",
    "source_prefix",
    "workload_group_actions",
    "workload_parameters",
]
