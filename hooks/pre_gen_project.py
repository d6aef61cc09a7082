"""Validate the answers before cookiecutter writes anything that stays.

It exits 1 with one line per bad answer, each naming the field, the value and
what is expected. Cookiecutter then removes the half-made project folder.
Answers are read as data (tojson), never pasted into code.
"""

from __future__ import annotations

import json
import keyword
import re
import sys

# SageMaker regions as known to botocore 1.44 (offline). When botocore is importable
# the hook asks it instead, so a newer botocore knows newer regions; a template test
# keeps this list equal to the pinned botocore's.
SAGEMAKER_REGIONS_FALLBACK = [
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
]

# SageMaker resource names: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackageGroup.html
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# The model name also names S3 buckets and appears in IAM resource ARNs, where SageMaker
# lowercases names: so lowercase only.
MODEL_NAME = re.compile(r"^[a-z0-9](-*[a-z0-9])*$")
SAGEMAKER_NAME_MAX = 63
# The longest suffix the product appends to model_name (for example "-feature" on model
# package groups, "-prod-v123-0123abcd" on endpoint configs) fits in the 23 left over.
MODEL_NAME_MAX = 40
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
PACKAGE = re.compile(r"^[a-z][a-z0-9_]*$")
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
# https://docs.github.com/en/enterprise-cloud@latest/admin/identity-and-access-management/iam-configuration-reference/username-considerations-for-external-authentication
GITHUB_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
GITHUB_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# One CODEOWNERS owner: @user or @org/team-slug (team slugs: letters, digits, '_' and '-').
# https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/customizing-your-repository/about-code-owners
GITHUB_HANDLE = re.compile(r"^@[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}(?:/[A-Za-z0-9][A-Za-z0-9_-]{0,99})?$")
# Stricter than git-check-ref-format on purpose: branch names end up in workflow
# filters and OIDC subjects, so only characters that need no quoting anywhere.
BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
ACCOUNT_FIELDS = (
    "data_science_account_id",
    "shared_services_account_id",
    "qa_account_id",
    "prod_account_id",
)
# Regions where SageMaker hosts every image the pipeline uses (scikit-learn, XGBoost and Model
# Monitor's analyzer, which computes the drift baselines): the regions both tables of the generated
# access/images.py hold (AWS's image account per region); a template test keeps them equal. A
# region without them could bake but never pull an image.
FRAMEWORK_IMAGE_REGIONS = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ca-central-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
    }
)
INSTANCE_FIELDS = ("processing_instance_type", "training_instance_type", "endpoint_instance_type")
# The choice variables of cookiecutter.json and their values (a template test keeps them equal).
# cookiecutter checks a choice given on its command line, but not one from a replay file or a
# context it did not prompt for; the template would then render an unknown value as the default.
CHOICES = {
    "framework": ("sklearn", "xgboost"),
    "serving": ("endpoints", "batch-only"),
    "qa_endpoint_type": ("serverless", "real-time"),
}


def sagemaker_regions() -> list[str]:
    """Regions where botocore knows a SageMaker endpoint, without any network call."""
    try:
        import botocore.session
    except ImportError:
        return list(SAGEMAKER_REGIONS_FALLBACK)
    return botocore.session.get_session().get_available_regions("sagemaker")


def branch_problem(value: str) -> str | None:
    """Why `value` is not a usable branch name (or prefix), or None when it is."""
    if not BRANCH.match(value):
        return "letters, digits, '.', '_', '-' and '/' only, starting with a letter or digit"
    if ".." in value or "//" in value or value.endswith((".", ".lock")):
        return "a valid git branch name (no '..', '//', trailing '.' or '.lock')"
    return None


def validate(answers: dict) -> list[str]:
    """Return one message per bad answer; an empty list means all answers are usable."""
    errors: list[str] = []

    def bad(field: str, expected: str) -> None:
        errors.append(f"{field}: {answers.get(field)!r} is not valid; expected {expected}")

    for field in ("project_name", "author_name"):
        if not str(answers.get(field, "")).strip():
            bad(field, "a non-empty value")

    slug = answers.get("project_slug", "")
    if not SLUG.match(slug) or len(slug) > SAGEMAKER_NAME_MAX:
        bad("project_slug", "lowercase letters, digits and single hyphens, at most 63 characters")

    package = answers.get("package_name", "")
    if not PACKAGE.match(package) or keyword.iskeyword(package):
        bad("package_name", "a lowercase Python identifier such as churn_model")

    model = answers.get("model_name", "")
    if not MODEL_NAME.match(model) or not SAGEMAKER_NAME.match(model) or len(model) > MODEL_NAME_MAX:
        bad(
            "model_name",
            f"SageMaker's name pattern in lowercase, [a-z0-9](-*[a-z0-9])*, at most {MODEL_NAME_MAX} "
            "characters (suffixes such as '-feature' must still fit in 63)",
        )

    owner = answers.get("github_owner", "")
    if not GITHUB_OWNER.match(owner):
        bad("github_owner", "a GitHub user or organisation: letters, digits, single hyphens, 1-39 characters")
    repo = answers.get("github_repo", "")
    if not GITHUB_REPO.match(repo) or repo in (".", ".."):
        bad("github_repo", "a GitHub repository name: letters, digits, '.', '_', '-', 1-100 characters")

    reviewers = str(answers.get("prod_reviewers", "")).split()
    # The default reviewers are derived from github_owner: a bad owner is reported once, as the owner.
    derived_from_bad_owner = reviewers == [f"@{owner}/ml-leads"] and not GITHUB_OWNER.match(owner)
    if not derived_from_bad_owner and not (reviewers and all(GITHUB_HANDLE.match(handle) for handle in reviewers)):
        bad("prod_reviewers", "one or more GitHub handles separated by spaces, each @user or @org/team")

    region = answers.get("aws_region", "")
    if region not in sagemaker_regions():
        bad("aws_region", "an AWS region where SageMaker is available, such as us-east-1")
    elif region not in FRAMEWORK_IMAGE_REGIONS:
        bad(
            "aws_region",
            "a region where SageMaker hosts its scikit-learn, XGBoost and Model Monitor images, such as "
            f"us-east-1 ({region} has SageMaker but not those images)",
        )

    for field in ACCOUNT_FIELDS:
        if not ACCOUNT_ID.match(str(answers.get(field, ""))):
            bad(field, "a 12-digit AWS account ID")

    for field in ("dev_branch", "prod_branch", "feature_branch_prefix"):
        problem = branch_problem(str(answers.get(field, "")))
        if problem:
            bad(field, problem)
    if answers.get("dev_branch") == answers.get("prod_branch"):
        bad("prod_branch", "a branch different from dev_branch")
    prefix = str(answers.get("feature_branch_prefix", ""))
    for field in ("dev_branch", "prod_branch"):
        if prefix and str(answers.get(field, "")).startswith(prefix):
            bad(field, f"a branch that does not start with the feature prefix {prefix!r}")

    for field, values in CHOICES.items():
        if answers.get(field) not in values:
            bad(field, f"one of {', '.join(values)}")

    for field in INSTANCE_FIELDS:
        if not INSTANCE_TYPE.match(str(answers.get(field, ""))):
            bad(field, "a SageMaker instance type such as ml.m5.large")

    try:
        threshold = float(answers.get("metric_threshold", ""))
    except ValueError:
        threshold = -1.0
    if not 0.0 < threshold <= 1.0:
        bad("metric_threshold", "a number greater than 0 and at most 1, such as 0.90")

    return errors


def main(answers: dict) -> int:
    errors = validate(answers)
    for message in errors:
        print(f"ERROR: {message}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}""")))
