"""Anthropic's API with an owner's `sk-ant-…` key."""

from functools import partial

from . import http_sdk, transport
from .base import Call, CredentialField, EndpointOverride, Provider, endpoint, pattern_validator
from .outcomes import CheckResult, Failure, check_timeout
from .translate import RequestInvalid
from .translate.messages import MESSAGES_ON_ANTHROPIC, count_tokens_request, messages_request
from .translate.anthropic_chat import MessagesStreamToChat, chat_to_messages, message_to_chat

CLAUDE_MODELS = {"standard": "claude-sonnet-5-5", "complex": "claude-opus-5-5"}
CONSOLE = "console.anthropic.com"
API_VERSION = "2023-06-01"  # the Messages API version byok speaks (what the SDKs send)
ENDPOINT = EndpointOverride("BYOK_ANTHROPIC_BASE_URL", simulator_path="/anthropic")


class AnthropicProvider(Provider):
    id = "anthropic"
    name = "Anthropic"
    family = "anthropic"
    models = CLAUDE_MODELS
    docs_url = "https://docs.anthropic.com/en/api/getting-started"
    hint_prefix = 7
    endpoints = (ENDPOINT,)
    credential_fields = (
        CredentialField(
            "api_key", "API key", secret=True,
            validate=pattern_validator(
                label="API key", regex=r"sk-ant-[A-Za-z0-9_-]{20,200}", prefixes=("sk-ant-",),
                expectation="an Anthropic key looks like sk-ant-api03-… (from console.anthropic.com).",
            ),
        ),
    )

    def classify(self, exc: BaseException, *, model: str = "", **context) -> Failure:
        return http_sdk.classify(exc, name=self.name, console=CONSOLE, model=model)

    def check(self, credentials, *, inference_profile: str = "", models=None) -> list[CheckResult]:
        client = self.async_client(credentials, timeout=check_timeout())

        async def model_ids() -> list[str]:  # every page of GET /v1/models
            ids, after = [], ""
            while True:
                page = await client.get_json(f"/v1/models?limit=1000{after}")
                ids += [model["id"] for model in page.get("data") or []]
                if not page.get("has_more") or not page.get("last_id"):
                    return ids
                after = f"&after_id={page['last_id']}"

        return http_sdk.model_list_checks(model_ids, models=models or self.models, name=self.name, console=CONSOLE,
                                          classify=self.classify)

    def async_client(self, credentials, *, region: str = "", timeout: float) -> transport.ApiClient:
        return transport.ApiClient(endpoint(ENDPOINT.setting) or "https://api.anthropic.com",
                                   headers={"x-api-key": credentials["api_key"], "anthropic-version": API_VERSION},
                                   timeout=timeout)

    def acall(self, client: transport.ApiClient, call: Call):
        if call.api == "count_tokens":
            return count_tokens_acall(partial(client.post, "/v1/messages/count_tokens"), call)
        return messages_acall(partial(client.post, "/v1/messages"), call)


async def count_tokens_acall(post, call: Call, *, rules=MESSAGES_ON_ANTHROPIC, name: str = "Anthropic"):
    """Claude's token counting (the Anthropic API, or Claude on Vertex): `post(body, extra_headers)` sends a counting
    body with its model and returns the response, body unread; the caller's beta flags travel as `anthropic-beta`."""
    body = {**count_tokens_request(call.body, rules, family=name), "model": call.model}
    betas = {"anthropic-beta": ",".join(call.betas)} if call.betas else None
    answer = await transport.read_json(await post(body, betas))
    yield {"input_tokens": answer["input_tokens"]}


async def messages_acall(post, call: Call, *, rules=MESSAGES_ON_ANTHROPIC, name: str = "Anthropic",
                        console: str = CONSOLE):
    """A data-plane call on the Anthropic Messages API (the Anthropic API, or Claude on Vertex): Messages requests pass
    through; chat requests are translated there and back. `post(body, extra_headers)` sends a Messages body and returns
    the response, body unread; the caller's beta flags travel as the `anthropic-beta` header."""
    if call.api not in ("chat", "messages"):
        raise RequestInvalid(f"{name} offers no {call.api} for Claude.", param="model")
    if call.api == "chat":
        body = chat_to_messages(call.body, model=call.model)
    else:
        body = {**messages_request(call.body, rules, family=name), "model": call.model}
    translator = MessagesStreamToChat(model=call.model) if call.api == "chat" else None
    betas = {"anthropic-beta": ",".join(call.betas)} if call.betas else None
    if not call.stream:
        message = await transport.read_json(await post(body, betas))
        yield message_to_chat(message, model=call.model) if translator else {**message, "model": call.model}
        return
    async for event, data in transport.sse_events(await post({**body, "stream": True}, betas)):
        item = transport.parse_json(data)
        if event == "error" or item.get("type") == "error":
            raise http_sdk.stream_error(item.get("error"), name=name, console=console)
        if translator is None:
            yield item
        else:
            for chunk in translator.feed(item):
                yield chunk
