"""Bedrock Runtime with IAM credentials, asynchronously, without boto3: httpx2 (the HTTP client under the official
SDKs) for transport, botocore's SigV4 signer for authentication and its EventStreamBuffer for the binary event
streams of ConverseStream and InvokeModelWithResponseStream.

Errors come back as botocore `ClientError`s shaped as botocore would raise them, so `aws.classify` reads them the
same way for the sync and async paths.
"""

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx2
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as AwsCredentials
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError
from django.views.decorators.debug import sensitive_variables

from ..base import endpoint

# Stream exceptions (lower camel case in the frame header) and the HTTP status botocore would attach.
_STREAM_STATUS = {"throttlingException": 429, "validationException": 400, "serviceQuotaExceededException": 429}


class BedrockAsyncClient:
    """One set of IAM credentials in one region: signs and sends Bedrock Runtime calls over a shared pool."""

    @sensitive_variables("values")
    def __init__(self, values: Mapping[str, Any], *, region: str, timeout: float) -> None:
        self._credentials = AwsCredentials(values["access_key_id"], values["secret_access_key"],
                                           values.get("session_token") or None)
        self.region = region
        self.base_url = endpoint("BYOK_BEDROCK_ENDPOINT_URL") or f"https://bedrock-runtime.{region}.amazonaws.com"
        self.http = httpx2.AsyncClient(timeout=timeout, limits=httpx2.Limits(max_connections=None,
                                                                             max_keepalive_connections=256))

    def __repr__(self) -> str:
        return f"<BedrockAsyncClient {self.region}>"

    async def aclose(self) -> None:
        await self.http.aclose()

    def _request(self, model: str, action: str, body: dict, *, stream: bool) -> httpx2.Request:
        url = f"{self.base_url}/model/{quote(model, safe='')}/{action}"
        data = json.dumps(body, separators=(",", ":")).encode()
        accept = "application/vnd.amazon.eventstream" if stream else "application/json"
        signed = AWSRequest(method="POST", url=url, data=data,
                            headers={"Content-Type": "application/json", "Accept": accept})
        SigV4Auth(self._credentials, "bedrock", self.region).add_auth(signed)
        return self.http.build_request("POST", url, content=data, headers=dict(signed.headers.items()))

    async def call(self, model: str, action: str, body: dict) -> dict:
        """Converse or InvokeModel: the JSON answer, or a ClientError."""
        response = await self.http.send(self._request(model, action, body, stream=False))
        if response.status_code >= 300:
            raise _client_error(response.status_code, response.headers, response.content, action)
        return response.json()

    async def stream(self, model: str, action: str, body: dict) -> AsyncIterator[tuple[str, dict]]:
        """ConverseStream or InvokeModelWithResponseStream: (event type, payload) pairs, or a ClientError."""
        response = await self.http.send(self._request(model, action, body, stream=True), stream=True)
        try:
            if response.status_code >= 300:
                raise _client_error(response.status_code, response.headers, await response.aread(), action)
            buffer = EventStreamBuffer()
            async for data in response.aiter_bytes():
                buffer.add_data(data)
                for message in buffer:
                    headers = message.headers
                    kind = headers.get(":message-type")
                    if kind == "event":
                        yield headers.get(":event-type", ""), json.loads(message.payload or b"{}")
                    else:
                        code = headers.get(":exception-type") or headers.get(":error-code") or "StreamError"
                        payload = json.loads(message.payload or b"{}")
                        status = _STREAM_STATUS.get(code, 500)
                        raise ClientError({"Error": {"Code": code[:1].upper() + code[1:],
                                                     "Message": payload.get("message", "")},
                                           "ResponseMetadata": {"HTTPStatusCode": status}}, action)
        finally:
            await response.aclose()


def _client_error(status: int, headers, content: bytes, action: str) -> ClientError:
    code = headers.get("x-amzn-errortype", "").split(":")[0]
    try:
        payload = json.loads(content or b"{}")
    except ValueError:
        payload = {}
    message = payload.get("message") or payload.get("Message") or ""
    return ClientError({"Error": {"Code": code or str(status), "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, action)
