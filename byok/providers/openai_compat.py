"""OpenAI and the providers that speak its protocol on their official base URLs (no user-supplied URL)."""

from collections.abc import Mapping
from typing import Any

from . import http_sdk, transport
from .base import Call, CredentialField, EndpointOverride, Provider, Validator, endpoint, hint, pattern_validator
from .outcomes import CheckResult, Failure, check_timeout
from .translate import RequestInvalid
from .translate import responses
from .translate.chat import checked
from .translate.embeddings import embeddings_checked


class OpenAICompatibleProvider(Provider):
    def __init__(self, *, id: str, name: str, base_url: str, models: dict[str, str], key_validator: Validator,
                 docs_url: str = "", speaks: frozenset[str] = frozenset({"chat"}),
                 embedding_models: tuple[str, ...] = (), gen_ai_provider: str = ""):
        self.id = self.family = id
        self.gen_ai_provider = gen_ai_provider
        self.speaks = speaks
        self.name = name
        self.base_url = base_url
        self.models = models
        self.embedding_models = embedding_models
        self.docs_url = docs_url
        self.endpoint = EndpointOverride(f"BYOK_{id.upper()}_BASE_URL", simulator_path=f"/{id}/v1")
        self.endpoints = (self.endpoint,)
        self.credential_fields = (CredentialField("api_key", "API key", secret=True, validate=key_validator),)

    def hint(self, credentials: Mapping[str, Any]) -> str:
        key = credentials["api_key"]
        prefix = next((p for p in ("sk-proj-", "sk-svcacct-", "sk-", "xai-", "gsk_") if key.startswith(p)), "")
        return hint(key, prefix=len(prefix) or 4)

    def describe(self) -> dict:
        return {**super().describe(), "base_url": self.base_url}

    @property
    def console(self) -> str:
        return self.docs_url or self.name

    def async_client(self, credentials, *, region: str = "", timeout: float) -> transport.ApiClient:
        """The official base URL unless an override (simulator, proxy) is configured; never a user-supplied URL."""
        base_url = endpoint(self.endpoint.setting) or self.base_url
        return transport.ApiClient(base_url, headers={"Authorization": f"Bearer {credentials['api_key']}"},
                                   timeout=timeout)

    async def acall(self, client: transport.ApiClient, call: Call):
        """Chat Completions and Embeddings pass through (the model replaced; an embeddings answer goes back as the
        provider's bytes); streams always ask for usage, so it is recorded. The Responses API too, where the provider
        speaks it (the model replaced, events passed one by one)."""
        if call.api == "responses" and "responses" in self.speaks:
            async for item in self._responses(client, call):
                yield item
            return
        if call.api == "embeddings" and self.embedding_models:
            embeddings_checked(call.body)
            yield await client.post_json("/embeddings", {**call.body, "model": call.model}, verbatim=True)
            return
        if call.api != "chat":
            raise RequestInvalid(f"{self.name} serves no {call.api} here: its models are served on "
                                 "/v1/chat/completions.", param="model")
        checked(call.body)
        body = {**call.body, "model": call.model}
        if not call.stream:
            body.pop("stream", None)
            yield await client.post_json("/chat/completions", body)
            return
        body.update(stream=True, stream_options={**(body.get("stream_options") or {}), "include_usage": True})
        async for _, data in transport.sse_events(await client.post("/chat/completions", body)):
            if data == "[DONE]":
                break
            chunk = transport.parse_json(data)
            if chunk.get("error"):
                raise http_sdk.stream_error(chunk["error"], name=self.name, console=self.console)
            yield chunk

    async def _responses(self, client: transport.ApiClient, call: Call):
        responses.checked(call.body)
        body = {**call.body, "model": call.model}
        if not call.stream:
            body.pop("stream", None)
            yield await client.post_json("/responses", body)
            return
        async for _, data in transport.sse_events(await client.post("/responses", {**body, "stream": True})):
            event = transport.parse_json(data)
            if event.get("type") == "error":
                raise http_sdk.stream_error({"type": event.get("code")}, name=self.name, console=self.console)
            yield event

    def classify(self, exc: BaseException, *, model: str = "", **context) -> Failure:
        return http_sdk.classify(exc, name=self.name, console=self.console, model=model)

    def check(self, credentials, *, inference_profile: str = "", models=None) -> list[CheckResult]:
        client = self.async_client(credentials, timeout=check_timeout())

        async def model_ids() -> list[str]:
            return [model["id"] for model in (await client.get_json("/models")).get("data") or []]

        return http_sdk.model_list_checks(model_ids, models=models or self.models, name=self.name,
                                          console=self.console, classify=self.classify)


_openai_key_shape = pattern_validator(
    label="API key", regex=r"sk-[A-Za-z0-9_-]{20,300}", prefixes=("sk-",),
    expectation="an OpenAI key looks like sk-proj-… or sk-… (from platform.openai.com).",
)


def _openai_key(value: str) -> str:
    if value.startswith("sk-admin-"):
        raise ValueError("This is an OpenAI admin key (sk-admin-…), which cannot make model calls; use a project key.")
    if value.startswith("sk-ant-"):
        raise ValueError("This is an Anthropic key (sk-ant-…); add it under the Anthropic provider instead.")
    return _openai_key_shape(value)


_openai_key.pattern = _openai_key_shape.pattern  # for the API schema (admin and Anthropic keys are refused too)


OPENAI = OpenAICompatibleProvider(
    id="openai", name="OpenAI", base_url="https://api.openai.com/v1",
    models={"standard": "gpt-5-mini", "complex": "gpt-5"}, key_validator=_openai_key,
    embedding_models=("text-embedding-3-small",),
    docs_url="https://platform.openai.com/docs/api-reference", speaks=frozenset({"chat", "responses"}),
)
MISTRAL = OpenAICompatibleProvider(
    id="mistral", name="Mistral AI", base_url="https://api.mistral.ai/v1",
    models={"standard": "mistral-medium-latest", "complex": "mistral-large-latest"},
    embedding_models=("mistral-embed",),
    key_validator=pattern_validator(label="API key", regex=r"[A-Za-z0-9]{32}",
                                    expectation="a Mistral key is 32 letters and digits."),
    docs_url="https://docs.mistral.ai/api/", gen_ai_provider="mistral_ai",
)
DEEPSEEK = OpenAICompatibleProvider(
    id="deepseek", name="DeepSeek", base_url="https://api.deepseek.com/v1",
    models={"standard": "deepseek-v4-flash", "complex": "deepseek-v4-pro"},
    key_validator=pattern_validator(label="API key", regex=r"sk-[A-Za-z0-9]{32,64}", prefixes=("sk-",),
                                    expectation="a DeepSeek key looks like sk- followed by 32 letters or digits."),
    docs_url="https://api-docs.deepseek.com/",
)
XAI = OpenAICompatibleProvider(
    id="xai", name="xAI", base_url="https://api.x.ai/v1",
    models={"standard": "grok-4-fast", "complex": "grok-4"},
    key_validator=pattern_validator(label="API key", regex=r"xai-[A-Za-z0-9]{20,200}", prefixes=("xai-",),
                                    expectation="an xAI key looks like xai-…"),
    docs_url="https://docs.x.ai/docs/api-reference", gen_ai_provider="x_ai",
)
ZAI = OpenAICompatibleProvider(
    id="zai", name="Z.ai", base_url="https://api.z.ai/api/paas/v4",
    models={"standard": "glm-4.5-air", "complex": "glm-4.6"}, embedding_models=("embedding-3",),
    key_validator=pattern_validator(label="API key", regex=r"[A-Za-z0-9]{20,64}\.[A-Za-z0-9]{8,64}",
                                    expectation="a Z.ai key looks like <id>.<secret>."),
    docs_url="https://docs.z.ai/api-reference/introduction",
)
GROQ = OpenAICompatibleProvider(
    id="groq", name="Groq", base_url="https://api.groq.com/openai/v1",
    models={"standard": "llama-3.1-8b-instant", "complex": "llama-3.3-70b-versatile"},
    key_validator=pattern_validator(label="API key", regex=r"gsk_[A-Za-z0-9]{52}", prefixes=("gsk_",),
                                    expectation="a Groq key looks like gsk_ followed by 52 letters or digits."),
    docs_url="https://console.groq.com/docs/api-reference",
)
