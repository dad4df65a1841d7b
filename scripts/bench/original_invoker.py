"""The original's invoker, as ORIGINAL-SYSTEM.md describes it, for the cold-start comparison:
boto3 clients created at import, the group -> artifact map read from S3, InvokeEndpoint with
TargetModel, the endpoint's body returned with 200 (404 for an unknown model)."""
import json
import os

import boto3
from botocore.config import Config

_s3_config = Config(s3={"addressing_style": "path"})
s3 = boto3.client("s3", config=_s3_config)
runtime = boto3.client("sagemaker-runtime")
sagemaker = boto3.client("sagemaker")
lambda_client = boto3.client("lambda")

BUCKET = os.environ["MMP_BUCKET"]
ENDPOINT = os.environ["MMP_ENDPOINT_NAME"]
MAP_KEY = os.environ.get("MAP_KEY", "endpoint/models/map.json")


def handler(event, context):
    body = json.loads(event.get("body") or "{}")
    mapping = json.loads(s3.get_object(Bucket=BUCKET, Key=MAP_KEY)["Body"].read())
    model = body.get("model")
    if model not in mapping:
        return {"statusCode": 404, "body": f"No model found for {model}"}
    answer = runtime.invoke_endpoint(
        EndpointName=ENDPOINT,
        ContentType="text/csv",
        TargetModel=mapping[model],
        Body=body["data"],
    )
    return {"statusCode": 200, "body": answer["Body"].read().decode()}
