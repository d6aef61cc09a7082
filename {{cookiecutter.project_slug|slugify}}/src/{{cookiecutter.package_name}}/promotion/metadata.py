"""SageMaker's rules for customer metadata and tags, checked before a request AWS would refuse.

Customer metadata (CustomerMetadataProperties) and tags: SageMaker's service model gives
values the pattern ([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)${1,256} and keys the same with ${1,128}
(Unicode letters, separators such as spaces, numbers, and _ . : / = + - @), keys 1-128 and
values 1-256 characters, at most 50 entries. Tags use the same characters (key 1-128, value
0-256). Nothing client-side checks the pattern (botocore checks lengths only, moto nothing),
so `check_customer_metadata` and `check_tags` do.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from ..deploy.aws import DeployError

MAX_METADATA_ENTRIES = 50
METADATA_PUNCTUATION = "_.:/=+-@"
METADATA_ALLOWED = "letters, numbers, spaces and _ . : / = + - @"


def _metadata_character(char: str) -> bool:
    """A Unicode letter, separator or number (categories L*, Z*, N*) or one of METADATA_PUNCTUATION."""
    return char in METADATA_PUNCTUATION or unicodedata.category(char)[0] in "LZN"


def _check_text(text: Any, what: str, minimum: int, maximum: int) -> None:
    if not isinstance(text, str):
        raise DeployError(f"{what} must be a string, got {type(text).__name__}")
    if not minimum <= len(text) <= maximum:
        raise DeployError(f"{what} has {len(text)} characters; expected {minimum}-{maximum}")
    bad = "".join(sorted({char for char in text if not _metadata_character(char)}))
    if bad:
        raise DeployError(f"{what} contains {bad!r}, which SageMaker refuses; allowed: {METADATA_ALLOWED}")


def check_customer_metadata(properties: dict[str, Any], where: str) -> dict[str, str]:
    """Check CustomerMetadataProperties against SageMaker's rules; return them unchanged.

    It raises DeployError naming `where`, the key and the refused characters (or the length)
    of the first entry SageMaker would refuse, and when there are more than 50 entries.
    """
    if len(properties) > MAX_METADATA_ENTRIES:
        raise DeployError(
            f"{where}: {len(properties)} customer metadata entries; SageMaker allows {MAX_METADATA_ENTRIES}"
        )
    for key, value in properties.items():
        _check_text(key, f"{where}: customer metadata key {key!r}", 1, 128)
        _check_text(value, f"{where}: customer metadata {key!r} value", 1, 256)
    return properties


def check_tags(tags: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """Check Key/Value tags against SageMaker's tag rules; DeployError names the first bad tag."""
    for tag in tags:
        _check_text(tag["Key"], f"{where}: tag key {tag['Key']!r}", 1, 128)
        _check_text(tag["Value"], f"{where}: tag {tag['Key']!r} value", 0, 256)
    return tags


def metadata_value(text: str) -> str:
    """Fit free text (a login, a branch name) to a customer-metadata value: each refused
    character becomes `_`, at most 256 characters, never empty."""
    return "".join(char if _metadata_character(char) else "_" for char in text)[:256] or "_"
