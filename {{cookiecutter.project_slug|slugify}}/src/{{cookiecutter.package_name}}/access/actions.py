"""The IAM actions and conditions the access table's rows (`access/table.py`) are made of."""

from __future__ import annotations

DESCRIBE_PACKAGE = "sagemaker:DescribeModelPackage"
CREATE_MODEL = "sagemaker:CreateModel"
CREATE_PACKAGE = "sagemaker:CreateModelPackage"
UPDATE_PACKAGE = "sagemaker:UpdateModelPackage"
PASS_ROLE = "iam:PassRole"  # noqa: S105 - an IAM action, not a password
REGISTER = (
    "sagemaker:CreateModelPackage",
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:ListModelPackages",
)
READ_REGISTRY = (
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:ListModelPackages",
)
READ_VERSIONS = ("sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages")
READ_OBJECTS = ("s3:GetObject", "s3:GetObjectVersion")
WRITE_OBJECTS = ("s3:AbortMultipartUpload", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject")
LIST_BUCKET = ("s3:GetBucketLocation", "s3:ListBucket")
DATA_SCIENCE_KEY = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")
# What the build roles do with their pipelines (upsert, start, watch, stop).
PIPELINE_ACTIONS = (
    "sagemaker:AddTags",
    "sagemaker:CreatePipeline",
    "sagemaker:DescribePipeline",
    "sagemaker:DescribePipelineExecution",
    "sagemaker:ListPipelineExecutionSteps",
    "sagemaker:ListPipelineExecutions",
    "sagemaker:ListTags",
    "sagemaker:StartPipelineExecution",
    "sagemaker:StopPipelineExecution",
    "sagemaker:UpdatePipeline",
)
# Key use by other accounts goes through these services only (kms:ViaService).
S3_AND_SAGEMAKER = ("s3", "sagemaker")
KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
)
APPROVAL_STATUS_KEY = "sagemaker:ModelApprovalStatus"
# Conditions: (operator, key, values).
Condition = tuple[tuple[str, str, tuple[str, ...]], ...]
PASSED_TO_SAGEMAKER: Condition = (("StringEquals", "iam:PassedToService", ("sagemaker.amazonaws.com",)),)
# A version registered as anything but PendingManualApproval (or with no status: IfExists is
# true when the key is absent) is denied, so no pipeline job can register an Approved version.
UNLESS_PENDING: Condition = (("StringNotEqualsIfExists", APPROVAL_STATUS_KEY, ("PendingManualApproval",)),)
# Setting a version Approved.
WHEN_APPROVED: Condition = (("StringEquals", APPROVAL_STATUS_KEY, ("Approved",)),)
