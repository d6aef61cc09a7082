"""Print GITHUB_ENV lines with moto credentials for STUB_ROLE's account (see action.yml)."""

import os

import boto3

url = os.environ["ACT_STUB_MOTO_URL"]
region = os.environ["STUB_REGION"]
sts = boto3.client(
    "sts", endpoint_url=url, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing"
)
creds = sts.assume_role(RoleArn=os.environ["STUB_ROLE"], RoleSessionName=os.environ["STUB_SESSION"])["Credentials"]
print(f"AWS_ACCESS_KEY_ID={creds['AccessKeyId']}")
print(f"AWS_SECRET_ACCESS_KEY={creds['SecretAccessKey']}")
print(f"AWS_SESSION_TOKEN={creds['SessionToken']}")
print(f"AWS_REGION={region}")
print(f"AWS_DEFAULT_REGION={region}")
print(f"AWS_ENDPOINT_URL={url}")
