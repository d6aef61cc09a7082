"""moto stand-ins for what moto 5.2.5 lacks, shared by the infra tests.

- `MotoShims`: CloudFormation models for AWS::IAM::OIDCProvider, AWS::S3::BucketPolicy and
  AWS::SageMaker::ModelPackageGroup (moto's CloudFormation has none), and an AWS::KMS::Key model
  that passes a KeyPolicy given as a JSON object on as the JSON text the KMS API takes. Each makes
  the same moto backend calls CloudFormation would; the group shim keeps the resolved
  ModelPackageGroupPolicy on moto's group object (moto has no group policy API).
- `RegistryShim`: DeleteModelPackage / DeleteModelPackageGroup answered on moto's backend
  (refusing, as SageMaker does, a group that still has versions).
- `keep_network_isolation`: CreateModel keeps `EnableNetworkIsolation`, which DescribeModel
  answers (moto 5.2.5 drops it; a deploy checks that a model it finds is the planned one).
"""

from __future__ import annotations

import copy
import json
from typing import Any, ClassVar

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from deploy_helpers import REGION


class MotoShims:
    """CloudFormation models for the resource types moto 5.2.5's CloudFormation lacks."""

    installed: ClassVar[list[type]] = []

    @classmethod
    def install(cls) -> None:
        if cls.installed:
            return
        from moto.cloudformation import parsing
        from moto.core.common_models import CloudFormationModel
        from moto.iam.models import iam_backends
        from moto.kms.models import Key
        from moto.s3.models import s3_backends
        from moto.sagemaker.models import sagemaker_backends

        def without_no_value(value: Any) -> Any:
            # moto leaves `!Ref AWS::NoValue` inside lists as None; CloudFormation drops it.
            if isinstance(value, dict):
                return {k: without_no_value(v) for k, v in value.items() if v is not None}
            if isinstance(value, list):
                return [without_no_value(v) for v in value if v is not None]
            return value

        class Shim:
            """Shared behaviour; each model below subclasses CloudFormationModel directly,
            because moto finds models through CloudFormationModel.__subclasses__()."""

            def __init__(self, physical_id: str) -> None:
                self.physical_resource_id = physical_id

            @staticmethod
            def cloudformation_name_type() -> str:
                return ""

            @classmethod
            def has_cfn_attr(cls, attr: str) -> bool:
                return attr in ("Arn", "ModelPackageGroupArn")

            def get_cfn_attribute(self, attribute_name: str) -> str:
                return self.physical_resource_id

            @classmethod
            def update_from_cloudformation_json(
                cls, original_resource: Any, *args: Any, **kwargs: Any
            ) -> Any:
                raise AssertionError("the bootstrap never updates a stack whose template is unchanged")

            @classmethod
            def delete_from_cloudformation_json(cls, *args: Any, **kwargs: Any) -> None:
                return None

            def is_created(self) -> bool:
                return True

        class OidcProvider(Shim, CloudFormationModel):
            # moto files models by the second part of their module name.
            __module__ = "shims.cloudformation"

            @staticmethod
            def cloudformation_type() -> str:
                return "AWS::IAM::OIDCProvider"

            @classmethod
            def create_from_cloudformation_json(
                cls, resource_name, cloudformation_json, account_id, region_name, **kw
            ):
                props = cloudformation_json["Properties"]
                backend = iam_backends[account_id]["aws"]
                provider = backend.create_open_id_connect_provider(
                    props["Url"], props.get("ThumbprintList", []), props["ClientIdList"], []
                )
                return cls(provider.arn)

        class BucketPolicy(Shim, CloudFormationModel):
            # moto files models by the second part of their module name.
            __module__ = "shims.cloudformation"

            @staticmethod
            def cloudformation_type() -> str:
                return "AWS::S3::BucketPolicy"

            @classmethod
            def create_from_cloudformation_json(
                cls, resource_name, cloudformation_json, account_id, region_name, **kw
            ):
                props = cloudformation_json["Properties"]
                s3_backends[account_id]["aws"].put_bucket_policy(
                    props["Bucket"], json.dumps(without_no_value(props["PolicyDocument"])).encode()
                )
                return cls(props["Bucket"])

        class ModelPackageGroup(Shim, CloudFormationModel):
            # moto files models by the second part of their module name.
            __module__ = "shims.cloudformation"

            @staticmethod
            def cloudformation_type() -> str:
                return "AWS::SageMaker::ModelPackageGroup"

            @classmethod
            def create_from_cloudformation_json(
                cls, resource_name, cloudformation_json, account_id, region_name, **kw
            ):
                props = cloudformation_json["Properties"]
                backend = sagemaker_backends[account_id][region_name]
                name = props["ModelPackageGroupName"]
                arn = backend.create_model_package_group(
                    name, props.get("ModelPackageGroupDescription", ""), []
                )
                policy = props.get("ModelPackageGroupPolicy")
                backend.model_package_groups[name].resource_policy = (
                    without_no_value(policy) if policy else None
                )
                return cls(arn)

        class KmsKey(Shim, CloudFormationModel):
            """moto's own AWS::KMS::Key model stores a KeyPolicy given as a JSON object unparsed
            and then fails on every call to the key; CloudFormation accepts either form, so
            this passes the policy on as the JSON text the KMS API takes."""

            __module__ = "shims.cloudformation"

            @staticmethod
            def cloudformation_type() -> str:
                return "AWS::KMS::Key"

            @classmethod
            def create_from_cloudformation_json(
                cls, resource_name, cloudformation_json, account_id, region_name, **kw
            ):
                resource = copy.deepcopy(cloudformation_json)
                policy = resource["Properties"]["KeyPolicy"]
                if not isinstance(policy, str):
                    resource["Properties"]["KeyPolicy"] = json.dumps(without_no_value(policy))
                return Key.create_from_cloudformation_json(
                    resource_name, resource, account_id, region_name, **kw
                )

        cls.installed += [OidcProvider, BucketPolicy, ModelPackageGroup, KmsKey]
        for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
            cached.cache_clear()


class RegistryShim:
    """DeleteModelPackage / DeleteModelPackageGroup on moto's backend (moto 5.2.5 lacks both)."""

    def __call__(self, session: Any, account: str) -> None:
        from moto.sagemaker.models import sagemaker_backends

        backend = sagemaker_backends[account][REGION]

        def answer(model: Any, params: dict[str, Any], **_: Any) -> Any:
            body = json.loads(params["body"])
            if model.name == "DeleteModelPackage":
                backend.model_packages.pop(body["ModelPackageName"])
            else:
                group = body["ModelPackageGroupName"]
                if any(p.model_package_group_name == group for p in backend.model_packages.values()):
                    raise ClientError(
                        {"Error": {"Code": "ConflictException", "Message": f"group {group} has versions"}},
                        model.name,
                    )
                backend.model_package_groups.pop(group)
            return AWSResponse(None, 200, {}, None), {}

        for operation in ("DeleteModelPackage", "DeleteModelPackageGroup"):
            session.events.register(f"before-call.sagemaker.{operation}", answer)


def keep_network_isolation() -> None:
    """Make moto's CreateModel keep EnableNetworkIsolation (once per process)."""
    from moto.sagemaker.responses import SageMakerResponse

    create = SageMakerResponse.create_model
    if getattr(create, "keeps_isolation", False):
        return

    def create_model(self: Any) -> Any:
        result = create(self)
        model = self.sagemaker_backend.describe_model(self._get_param("ModelName"))
        model.enable_network_isolation = self._get_param("EnableNetworkIsolation") is True
        return result

    create_model.keeps_isolation = True  # type: ignore[attr-defined]
    SageMakerResponse.create_model = create_model  # type: ignore[method-assign]
