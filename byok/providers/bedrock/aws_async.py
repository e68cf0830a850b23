"""Bedrock Runtime with IAM credentials, asynchronously, without boto3: the data plane's transport (..transport),
botocore's SigV4 signer for authentication and its EventStreamBuffer for the binary event streams of ConverseStream
and InvokeModelWithResponseStream.

Errors come back as botocore `ClientError`s shaped as botocore would raise them, so `aws.classify` reads them the
same way for the sync and async paths.
"""

import asyncio
import base64
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as AwsCredentials
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError, InvalidRegionError
from botocore.utils import validate_region_name
from django.views.decorators.debug import sensitive_variables

from core import wire_json

from .. import transport
from ..base import Call, endpoint
from ..outcomes import Category, Failure
from ..translate import RequestInvalid
from ..translate.bedrock_chat import ConverseStreamToChat, chat_to_converse, converse_to_chat
from ..translate.bedrock_messages import count_to_invoke, invoke_chunk_event, messages_to_invoke
from ..translate.embeddings import (
    EMBEDDINGS_ON_COHERE_V3,
    EMBEDDINGS_ON_COHERE_V4,
    EMBEDDINGS_ON_TITAN,
    embeddings_request,
    embeddings_response,
)
from .profiles import BEDROCK_RUNTIME_ENDPOINT, INFERENCE_PROFILES

# Stream exceptions (lower camel case in the frame header) and the HTTP status botocore would attach.
_STREAM_STATUS = {"throttlingException": 429, "validationException": 400, "serviceQuotaExceededException": 429}


class BedrockAsyncClient:
    """One set of IAM credentials (SigV4) or one Bedrock API key (a bearer token) in one region: sends Bedrock
    Runtime calls over the data plane's shared transport."""

    @sensitive_variables("values")
    def __init__(self, values: Mapping[str, Any], *, region: str, timeout: float) -> None:
        self._credentials = AwsCredentials(values["access_key_id"], values["secret_access_key"],
                                           values.get("session_token") or None) if values else None
        self._bearer = ""
        try:
            validate_region_name(region)  # botocore's rule, as on the sync path: the host stays under amazonaws.com
        except InvalidRegionError:
            raise Failure(Category.INVALID_CREDENTIALS, "The key's region is not an AWS region; edit the key.",
                          code="InvalidRegion") from None
        self.region = region
        self.base_url = endpoint(BEDROCK_RUNTIME_ENDPOINT.setting) or f"https://bedrock-runtime.{region}.amazonaws.com"
        self.timeout = timeout

    @classmethod
    @sensitive_variables("api_key")
    def with_api_key(cls, api_key: str, *, region: str, timeout: float) -> "BedrockAsyncClient":
        client = cls({}, region=region, timeout=timeout)
        client._bearer = f"Bearer {api_key}"
        return client

    def __repr__(self) -> str:
        return f"<BedrockAsyncClient {self.region}>"

    async def _post(self, model: str, action: str, body: dict, *, stream: bool):
        url = f"{self.base_url}/model/{quote(model, safe='')}/{action}"
        data = transport.encode(body)
        accept = "application/vnd.amazon.eventstream" if stream else "application/json"
        headers = {"Content-Type": "application/json", "Accept": accept}
        if self._bearer:
            headers["Authorization"] = self._bearer
        else:
            signed = AWSRequest(method="POST", url=url, data=data, headers=headers)
            SigV4Auth(self._credentials, "bedrock", self.region).add_auth(signed)
            headers = dict(signed.headers.items())
        try:
            return await transport.post(url, headers=headers, data=data, timeout=self.timeout)
        except transport.HttpStatusError as exc:
            raise _client_error(exc.status, exc.headers, exc.body, action) from None

    async def call(self, model: str, action: str, body: dict) -> dict:
        """Converse or InvokeModel: the JSON answer, or a ClientError."""
        response = await self._post(model, action, body, stream=False)
        try:
            return transport.parse_json(await response.read())
        finally:
            response.release()

    async def invoke_counted(self, model: str, body: dict) -> tuple[dict, int]:
        """InvokeModel: the JSON answer and the input tokens Bedrock counted (its X-Amzn-Bedrock-Input-Token-Count
        header: Cohere's answers carry no count of their own)."""
        response = await self._post(model, "invoke", body, stream=False)
        try:
            return transport.parse_json(await response.read()), int(response.headers.get("X-Amzn-Bedrock-Input-Token-Count") or 0)
        finally:
            response.release()

    async def stream(self, model: str, action: str, body: dict) -> AsyncIterator[tuple[str, dict]]:
        """ConverseStream or InvokeModelWithResponseStream: (event type, payload) pairs, or a ClientError."""
        buffer = EventStreamBuffer()
        async for data in transport.chunks(await self._post(model, action, body, stream=True)):
            buffer.add_data(data)
            for message in buffer:
                headers = message.headers
                kind = headers.get(":message-type")
                if kind == "event":
                    yield headers.get(":event-type", ""), transport.parse_json(message.payload or b"{}")
                else:
                    code = headers.get(":exception-type") or headers.get(":error-code") or "StreamError"
                    payload = wire_json.loads(message.payload or b"{}")
                    status = _STREAM_STATUS.get(code, 500)
                    raise ClientError({"Error": {"Code": code[:1].upper() + code[1:],
                                                 "Message": payload.get("message", "")},
                                       "ResponseMetadata": {"HTTPStatusCode": status}}, action)


async def bedrock_acall(client: BedrockAsyncClient, call: Call):
    """Chat requests on Converse / ConverseStream; Messages requests on InvokeModel[WithResponseStream]; embeddings on
    InvokeModel (Titan, Cohere Embed); token counting on CountTokens."""
    if call.api == "embeddings":
        yield await bedrock_embeddings(client, call)
        return
    if call.api == "count_tokens":
        body = {"input": {"invokeModel": {"body": base64.b64encode(transport.encode(count_to_invoke(call.body, betas=call.betas)))
                                          .decode()}}}
        answer = await client.call(foundation_model(call.model), "count-tokens", body)
        yield {"input_tokens": answer["inputTokens"]}
        return
    if call.api == "chat":
        body = chat_to_converse(call.body)
        if not call.stream:
            yield converse_to_chat(await client.call(call.model, "converse", body), model=call.model)
            return
        translator = ConverseStreamToChat(model=call.model)
        async for kind, payload in client.stream(call.model, "converse-stream", body):
            for chunk in translator.feed((kind, payload)):
                yield chunk
        return
    if call.api != "messages":
        raise RequestInvalid(f"Unknown API {call.api!r}.")
    body = messages_to_invoke(call.body, betas=call.betas)
    if not call.stream:
        yield {**await client.call(call.model, "invoke", body), "model": call.model}
        return
    async for kind, payload in client.stream(call.model, "invoke-with-response-stream", body):
        if kind == "chunk":
            yield invoke_chunk_event(payload)


TITAN_MAX_INPUTS = 256  # Titan embeds one text per call: up to this many calls per request, IN_FLIGHT at a time
COHERE_BATCH = 96  # texts per Cohere Embed call
IN_FLIGHT = 16


async def bedrock_embeddings(client: BedrockAsyncClient, call: Call) -> dict:
    """Titan Text Embeddings (one InvokeModel call per text, run concurrently) or Cohere Embed (96 texts a call,
    `input_type: search_document`), answered in OpenAI's shape."""
    model = foundation_model(call.model)
    if model.startswith("amazon.titan-embed"):
        fields, texts = embeddings_request(call.body, EMBEDDINGS_ON_TITAN, family="Bedrock Titan")
        if len(texts) > TITAN_MAX_INPUTS:
            raise RequestInvalid(f"input: Titan embeds one text per call; byok sends at most {TITAN_MAX_INPUTS} per "
                                 f"request (got {len(texts)}).", param="input")
        bodies = [{"inputText": text, "normalize": True, **fields} for text in texts]
    elif model.startswith("cohere.embed"):
        rules = EMBEDDINGS_ON_COHERE_V4 if model.startswith("cohere.embed-v4") else EMBEDDINGS_ON_COHERE_V3
        fields, texts = embeddings_request(call.body, rules, family="Bedrock Cohere Embed")
        bodies = [{"texts": texts[start:start + COHERE_BATCH], "input_type": "search_document",
                   "embedding_types": ["float"], **fields} for start in range(0, len(texts), COHERE_BATCH)]
    else:
        raise RequestInvalid(f"{call.model} is not an embedding model byok can call on Bedrock.", param="model")
    in_flight = asyncio.Semaphore(IN_FLIGHT)

    async def invoke(body: dict) -> tuple[dict, int]:
        async with in_flight:
            return await client.invoke_counted(model, body)

    answers = await asyncio.gather(*(invoke(body) for body in bodies))
    vectors = [vector for answer, _ in answers for vector in _vectors(answer)]
    tokens = sum(answer.get("inputTextTokenCount") or counted for answer, counted in answers)
    return embeddings_response(vectors, model=call.model, input_tokens=tokens,
                               encoding_format=call.body.get("encoding_format"))


def _vectors(answer: dict) -> list[list[float]]:
    """Titan's one vector, or Cohere's list (`embeddings` a list, or by type under `float`)."""
    if "embedding" in answer:
        return [answer["embedding"]]
    embeddings = answer["embeddings"]
    return embeddings["float"] if isinstance(embeddings, dict) else embeddings


def foundation_model(model: str) -> str:
    """The model id without an inference-profile prefix (CountTokens takes a foundation model's id)."""
    prefix, _, rest = model.partition(".")
    return rest if prefix in INFERENCE_PROFILES and "." in rest else model


def _client_error(status: int, headers, content: bytes, action: str) -> ClientError:
    code = headers.get("x-amzn-errortype", "").split(":")[0]
    try:
        payload = wire_json.loads(content or b"{}")
    except ValueError:
        payload = {}
    message = payload.get("message") or payload.get("Message") or ""
    return ClientError({"Error": {"Code": code or str(status), "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, action)
