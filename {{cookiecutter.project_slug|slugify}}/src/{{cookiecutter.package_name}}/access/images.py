"""Where the framework images come from: AWS's image account per region and the exact repositories.

SageMaker's prebuilt scikit-learn and XGBoost images (training, processing and serving; the
versions in `pipeline.framework_versions`) live in one AWS-owned ECR account per region. The
roles that pull them (the pipeline role, the endpoint role) may pull only from that account's
repositories below, so an image URI that names any other account (a model package pre-seeded
with an attacker's image, a typo'd account) cannot be pulled.

- `IMAGE_ACCOUNTS`: region -> the account hosting the images. It covers exactly the regions where
  the SageMaker SDK has both frameworks' images (tests/test_images.py compares it with the SDK's
  own table for every region botocore knows SageMaker in, and for the configured versions);
  a region missing here has no image, so the bake (hooks/pre_gen_project.py, kept equal by a
  template test) and bootstrap refuse it.
- `FRAMEWORK_REPOSITORIES`: framework (the config's `model.framework`) -> its ECR repository.
  Both are granted, so switching `model.framework` needs no new bootstrap.
- `image_account(region)`, `repository_arns(region)`, `image_parameters(cfg)` (what bootstrap
  passes the templates), `is_framework_image(uri, region)`.
- `ANALYZER_ACCOUNTS`: region -> the account hosting SageMaker Model Monitor's analyzer image
  (`ANALYZER_REPOSITORY`), which the pipeline's baseline steps run. Another account than the
  framework images'; AWS has no analyzer in some framework-image regions (ap-south-2,
  ap-southeast-4, ca-west-1), where `analyzer_account` is one ConfigError.
  `analyzer_image_uri(region)`, `analyzer_repository_arn(region)`, `analyzer_parameters(cfg)`
  (what bootstrap passes the templates whose roles run the analyzer), `is_analyzer_image`.

Standard library only (data, no SDK): the deploy jobs import this with boto3 alone.
"""

from __future__ import annotations

import re
from types import MappingProxyType

from .. import config
from ..config import Config

# The ECR actions that pull an image (ecr:GetAuthorizationToken has no resource and is granted apart).
PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
# The stack parameter of data-science.yaml and workload.yaml that takes the region's image account.
ACCOUNT_PARAMETER = "FrameworkImageAccountId"
# An image reference after the repository: a tag, or a sha256 digest.
_TAG_OR_DIGEST = r"(?::[A-Za-z0-9_.-]+|@sha256:[0-9a-f]{64})"

FRAMEWORK_REPOSITORIES = MappingProxyType(
    {"sklearn": "sagemaker-scikit-learn", "xgboost": "sagemaker-xgboost"}
)

# From the SageMaker Python SDK 3.27's image_uri_config (sklearn.json, xgboost.json); the same
# account serves both frameworks in each region. Regions botocore knows SageMaker in but without
# these images in that table (ap-east-2, ap-southeast-5, ap-southeast-6, ap-southeast-7,
# mx-central-1) are not listed. https://docs.aws.amazon.com/sagemaker/latest/dg-ecr-paths/sagemaker-algo-docker-registry-paths.html
IMAGE_ACCOUNTS = MappingProxyType(
    {
        "af-south-1": "510948584623",
        "ap-east-1": "651117190479",
        "ap-northeast-1": "354813040037",
        "ap-northeast-2": "366743142698",
        "ap-northeast-3": "867004704886",
        "ap-south-1": "720646828776",
        "ap-south-2": "628508329040",
        "ap-southeast-1": "121021644041",
        "ap-southeast-2": "783357654285",
        "ap-southeast-3": "951798379941",
        "ap-southeast-4": "106583098589",
        "ca-central-1": "341280168497",
        "ca-west-1": "190319476487",
        "eu-central-1": "492215442770",
        "eu-central-2": "680994064768",
        "eu-north-1": "662702820516",
        "eu-south-1": "978288397137",
        "eu-south-2": "104374241257",
        "eu-west-1": "141502667606",
        "eu-west-2": "764974769150",
        "eu-west-3": "659782779980",
        "il-central-1": "898809789911",
        "me-central-1": "272398656194",
        "me-south-1": "801668240914",
        "sa-east-1": "737474898029",
        "us-east-1": "683313688378",
        "us-east-2": "257758044811",
        "us-west-1": "746614075791",
        "us-west-2": "246618743249",
    }
)


def image_account(region: str) -> str:
    """The AWS account hosting the framework images in `region`; ConfigError where there is none."""
    try:
        return IMAGE_ACCOUNTS[region]
    except KeyError:
        raise config.ConfigError(
            f"aws.region is {region!r}: SageMaker has no scikit-learn or XGBoost framework image there "
            f"that this repository knows (access/images.py); expected one of {', '.join(IMAGE_ACCOUNTS)}"
        ) from None


def repository_arns(region: str) -> tuple[str, ...]:
    """The ECR repositories the image-pulling roles may pull from in `region`, sorted."""
    account = image_account(region)
    return tuple(
        sorted(
            f"arn:aws:ecr:{region}:{account}:repository/{repo}" for repo in FRAMEWORK_REPOSITORIES.values()
        )
    )


def image_parameters(cfg: Config) -> dict[str, str]:
    """What bootstrap passes the stacks whose roles pull images."""
    return {ACCOUNT_PARAMETER: image_account(cfg.region)}


def is_framework_image(uri: str, region: str) -> bool:
    """True when `uri` is an image of a framework repository in the region's image account."""
    account = IMAGE_ACCOUNTS.get(region)
    if account is None:
        return False
    repos = "|".join(re.escape(repo) for repo in FRAMEWORK_REPOSITORIES.values())
    host = re.escape(f"{account}.dkr.ecr.{region}.amazonaws.com")
    return re.fullmatch(host + "/(?:" + repos + ")" + _TAG_OR_DIGEST, uri) is not None


# SageMaker Model Monitor's analyzer image (data and model quality baselines and monitoring jobs).
ANALYZER_REPOSITORY = "sagemaker-model-monitor-analyzer"
# The stack parameter of the templates whose roles run the analyzer.
ANALYZER_ACCOUNT_PARAMETER = "AnalyzerImageAccountId"
# From the SageMaker Python SDK 3.27's image_uri_config (model-monitor.json), for the regions of
# IMAGE_ACCOUNTS that have it. https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-pre-built-container.html
ANALYZER_ACCOUNTS = MappingProxyType(
    {
        "af-south-1": "875698925577",
        "ap-east-1": "001633400207",
        "ap-northeast-1": "574779866223",
        "ap-northeast-2": "709848358524",
        "ap-northeast-3": "990339680094",
        "ap-south-1": "126357580389",
        "ap-southeast-1": "245545462676",
        "ap-southeast-2": "563025443158",
        "ap-southeast-3": "669540362728",
        "ca-central-1": "536280801234",
        "eu-central-1": "048819808253",
        "eu-central-2": "590183933784",
        "eu-north-1": "895015795356",
        "eu-south-1": "933208885752",
        "eu-south-2": "437450045455",
        "eu-west-1": "468650794304",
        "eu-west-2": "749857270468",
        "eu-west-3": "680080141114",
        "il-central-1": "843974653677",
        "me-central-1": "588750061953",
        "me-south-1": "607024016150",
        "sa-east-1": "539772159869",
        "us-east-1": "156813124566",
        "us-east-2": "777275614652",
        "us-west-1": "890145073186",
        "us-west-2": "159807026194",
    }
)


def analyzer_account(region: str) -> str:
    """The AWS account hosting the Model Monitor analyzer image in `region`; ConfigError where none."""
    try:
        return ANALYZER_ACCOUNTS[region]
    except KeyError:
        raise config.ConfigError(
            f"aws.region is {region!r}: SageMaker Model Monitor has no analyzer image there that this "
            f"repository knows (access/images.py), so the pipeline cannot compute its data and model "
            f"quality baselines; expected one of {', '.join(ANALYZER_ACCOUNTS)}"
        ) from None


def analyzer_image_uri(region: str) -> str:
    """The analyzer image the baseline steps run (untagged: the analyzer's one current image)."""
    return f"{analyzer_account(region)}.dkr.ecr.{region}.amazonaws.com/{ANALYZER_REPOSITORY}"


def analyzer_repository_arn(region: str) -> str:
    """The one ECR repository the analyzer-running roles may pull it from in `region`."""
    return f"arn:aws:ecr:{region}:{analyzer_account(region)}:repository/{ANALYZER_REPOSITORY}"


def analyzer_parameters(cfg: Config) -> dict[str, str]:
    """What bootstrap passes the stacks whose roles run the analyzer."""
    return {ANALYZER_ACCOUNT_PARAMETER: analyzer_account(cfg.region)}


def is_analyzer_image(uri: str, region: str) -> bool:
    """True when `uri` is the analyzer image (untagged, tagged or by digest) of the region's account."""
    account = ANALYZER_ACCOUNTS.get(region)
    if account is None:
        return False
    host = re.escape(f"{account}.dkr.ecr.{region}.amazonaws.com/{ANALYZER_REPOSITORY}")
    return re.fullmatch(host + "(?:" + _TAG_OR_DIGEST + ")?", uri) is not None
