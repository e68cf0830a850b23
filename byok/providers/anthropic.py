"""Anthropic's API with an owner's `sk-ant-…` key."""

import json
from functools import partial

import anthropic as anthropic_sdk

from . import http_sdk, transport
from .base import Call, CredentialField, Provider, endpoint, pattern_validator
from .outcomes import CheckResult, Completion, Failure, check_timeout
from .translate.anthropic_chat import MessagesStreamToChat, chat_to_messages, message_to_chat

CLAUDE_MODELS = {"standard": "claude-sonnet-5-5", "complex": "claude-opus-4-5-20251101"}
CONSOLE = "console.anthropic.com"
API_VERSION = "2023-06-01"  # the Messages API version byok speaks (what the SDKs send)


class AnthropicProvider(Provider):
    id = "anthropic"
    name = "Anthropic"
    family = "anthropic"
    models = CLAUDE_MODELS
    docs_url = "https://docs.anthropic.com/en/api/getting-started"
    hint_prefix = 7
    credential_fields = (
        CredentialField(
            "api_key", "API key", secret=True,
            validate=pattern_validator(
                label="API key", regex=r"sk-ant-[A-Za-z0-9_-]{20,200}", prefixes=("sk-ant-",),
                expectation="an Anthropic key looks like sk-ant-api03-… (from console.anthropic.com).",
            ),
        ),
    )

    def client(self, credentials, *, region: str = "", timeout: float) -> anthropic_sdk.Anthropic:
        # No SDK retries: byok decides what a failure means (fallback, breaker) and must answer fast.
        return anthropic_sdk.Anthropic(api_key=credentials["api_key"], base_url=endpoint("BYOK_ANTHROPIC_BASE_URL"),
                                       timeout=timeout, max_retries=0)

    def classify(self, exc: BaseException, *, model: str = "", **context) -> Failure:
        return http_sdk.classify(exc, anthropic_sdk, name=self.name, console=CONSOLE, model=model)

    def check(self, credentials, *, inference_profile: str = "", models=None) -> list[CheckResult]:
        sdk_client = self.client(credentials, timeout=check_timeout())
        return http_sdk.model_list_checks(lambda: [m.id for m in sdk_client.models.list(limit=1000)],
                                          models=models or self.models, name=self.name, console=CONSOLE,
                                          classify=self.classify)

    def complete(self, sdk_client, *, model: str, messages: list[dict], max_tokens: int) -> Completion:
        return messages_complete(sdk_client, model=model, messages=messages, max_tokens=max_tokens)

    def async_client(self, credentials, *, region: str = "", timeout: float) -> transport.ApiClient:
        return transport.ApiClient(endpoint("BYOK_ANTHROPIC_BASE_URL") or "https://api.anthropic.com",
                                   headers={"x-api-key": credentials["api_key"], "anthropic-version": API_VERSION},
                                   timeout=timeout)

    def acall(self, client: transport.ApiClient, call: Call):
        return messages_acall(partial(client.post, "/v1/messages"), call)


def messages_complete(sdk_client, *, model: str, messages: list[dict], max_tokens: int) -> Completion:
    """One call of the Anthropic Messages API (also how Bedrock API keys call Claude, via AnthropicBedrock)."""
    system = "\n".join(m["content"] for m in messages if m["role"] == "system")
    turns = [{"role": m["role"], "content": m["content"]} for m in messages if m["role"] != "system"]
    kwargs = {"system": system} if system else {}
    response = sdk_client.messages.create(model=model, messages=turns, max_tokens=max_tokens, **kwargs)
    return Completion(
        output="".join(getattr(block, "text", "") for block in response.content),
        model=model,
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
        stop_reason=response.stop_reason or "",
    )


async def messages_acall(post, call: Call, *, name: str = "Anthropic", console: str = CONSOLE):
    """A data-plane call on the Anthropic Messages API (the Anthropic API, or Claude on Vertex): Messages requests pass
    through; chat requests are translated there and back. `post(body)` sends a Messages body and returns the
    response, body unread."""
    if call.api == "chat":
        body = chat_to_messages(call.body, model=call.model)
    else:
        body = {**{k: v for k, v in call.body.items() if k != "stream"}, "model": call.model}
    translator = MessagesStreamToChat(model=call.model) if call.api == "chat" else None
    if not call.stream:
        message = await transport.read_json(await post(body))
        yield message_to_chat(message, model=call.model) if translator else {**message, "model": call.model}
        return
    async for event, data in transport.sse_events(await post({**body, "stream": True})):
        item = json.loads(data)
        if event == "error" or item.get("type") == "error":
            raise http_sdk.stream_error(item.get("error"), name=name, console=console)
        if translator is None:
            yield item
        else:
            for chunk in translator.feed(item):
                yield chunk
