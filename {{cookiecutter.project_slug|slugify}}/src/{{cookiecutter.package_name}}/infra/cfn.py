"""CloudFormation templates as data: the YAML loader and a resolver of intrinsic functions.

`load_template` parses `infra/*.yaml` (short-form tags such as !Sub become long form);
`Resolver` evaluates a template for one stack's parameters and account, so the policy checks and
tests see the names and ARNs CloudFormation would produce.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Any


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation YAML template, turning short-form tags (!Sub, !Ref...) into long form."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
        return {name: value}

    Loader.add_multi_constructor("!", construct)
    data = yaml.load(path.read_text(), Loader=Loader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict) or "Resources" not in data:
        raise ValueError(f"{path} is not a CloudFormation template (no Resources)")
    return data


_NO_VALUE = object()


class Resolver:
    """Evaluates a template's intrinsic functions for one set of parameters and one account.

    Resource references become the names and ARNs CloudFormation would produce (role ARNs from
    RoleName, bucket ARNs from BucketName, placeholders for generated IDs such as key IDs).
    """

    def __init__(
        self, template: dict[str, Any], parameters: dict[str, str], account: str, region: str
    ) -> None:
        self.template = template
        self.resources = template.get("Resources", {})
        self.params = {k: str(v.get("Default", "")) for k, v in (template.get("Parameters") or {}).items()}
        self.params.update(parameters)
        self.pseudo = {
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "stack",
        }
        self.account, self.region = account, region
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self._conditions[name]

    def active(self, logical_id: str) -> bool:
        cond = self.resources[logical_id].get("Condition")
        return cond is None or self.condition(cond)

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            handler = self._functions().get(key)
            if handler:
                return handler(arg)
        return {k: v for k, v in ((k, self.value(n)) for k, n in node.items()) if v is not _NO_VALUE}

    def _functions(self) -> dict[str, Any]:
        return {
            "Ref": self.ref,
            "Condition": self.condition,
            "Fn::Sub": self.sub,
            "Fn::GetAtt": lambda arg: self.attribute(arg[0], arg[1]),
            "Fn::If": lambda arg: self.value(arg[1] if self.condition(arg[0]) else arg[2]),
            "Fn::Equals": lambda arg: str(self.value(arg[0])) == str(self.value(arg[1])),
            "Fn::Not": lambda arg: not self.value(arg[0]),
            "Fn::And": lambda arg: all(self.value(a) for a in arg),
            "Fn::Or": lambda arg: any(self.value(a) for a in arg),
            "Fn::Join": lambda arg: str(arg[0]).join(str(v) for v in self.value(arg[1])),
            "Fn::Select": lambda arg: self.value(arg[1])[int(self.value(arg[0]))],
            "Fn::Split": lambda arg: str(self.value(arg[1])).split(arg[0]),
        }

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        if name in self.resources:
            return self.attribute(name, "Ref")
        raise ValueError(f"!Ref {name} names no parameter or resource")

    def sub(self, arg: Any) -> str:
        text, variables = (arg[0], self.value(arg[1])) if isinstance(arg, list) else (arg, {})

        def replace(match: re.Match[str]) -> str:
            inner = match[1]
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                return str(variables[inner])
            if "." in inner and inner.split(".", 1)[0] in self.resources:
                return str(self.attribute(*inner.split(".", 1)))
            return str(self.ref(inner))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def prop(self, logical_id: str, name: str) -> Any:
        return self.value(self.resources[logical_id].get("Properties", {}).get(name, f"<{logical_id}>"))

    def attribute(self, logical_id: str, attr: str) -> Any:
        kind = self.resources[logical_id]["Type"]
        acct, region = self.account, self.region
        if kind == "AWS::IAM::Role":
            name = self.prop(logical_id, "RoleName")
            return name if attr == "Ref" else f"arn:aws:iam::{acct}:role/{name}"
        if kind == "AWS::S3::Bucket":
            name = self.prop(logical_id, "BucketName")
            return name if attr == "Ref" else f"arn:aws:s3:::{name}"
        if kind == "AWS::KMS::Key":
            key_id = f"00000000-0000-0000-0000-{zlib.crc32(logical_id.encode()):012d}"
            return key_id if attr in ("Ref", "KeyId") else f"arn:aws:kms:{region}:{acct}:key/{key_id}"
        if kind == "AWS::KMS::Alias":
            return self.prop(logical_id, "AliasName")
        if kind == "AWS::IAM::OIDCProvider":
            url = str(self.prop(logical_id, "Url")).removeprefix("https://")
            return f"arn:aws:iam::{acct}:oidc-provider/{url}"
        if kind == "AWS::SageMaker::ModelPackageGroup":
            name = self.prop(logical_id, "ModelPackageGroupName")
            return f"arn:aws:sagemaker:{region}:{acct}:model-package-group/{name}"
        return f"<{logical_id}.{attr}>"

    def properties(self, logical_id: str) -> dict[str, Any]:
        return self.value(self.resources[logical_id].get("Properties", {}))
