"""The platform's own code calls byok here, in-process. The member gateway endpoint is a thin view over this.

    from byok import llm

    result = llm.complete(user=user, workspace="acme", task="complex",
                          messages=[{"role": "user", "content": "Summarise …"}], max_tokens=512)
    result.output, result.model, result.source, result.usage       # source: "byok" or "platform"

    bound = llm.client_for(user=user, workspace="acme", task="standard")
    bound.client      # a ready SDK client: boto3 bedrock-runtime, anthropic.Anthropic/AnthropicBedrock or openai.OpenAI
    bound.model       # the model id to pass it (Bedrock ids carry the inference-profile prefix)

`complete` falls back to platform credentials, keeps the circuit breaker and usage records; `client_for` hands
out the client for callers that need the SDK itself (streaming, tools), without fallback.
"""

from dataclasses import dataclass
from typing import Any

from accounts.models import User, Workspace

from .gateway.clients import client_for as _client_for
from .gateway.resolve import Resolution, credentials_resolve
from .gateway.routing import CallOutcome, llm_complete
from .providers.registry import get_provider


def _slug(workspace: Workspace | str) -> str:
    return workspace if isinstance(workspace, str) else workspace.slug


def complete(*, user: User, workspace: Workspace | str, messages: list[dict], task: str = "standard",
             max_tokens: int = 1024, provider: str | None = None) -> CallOutcome:
    """Run one completion. `task` is "standard" (Claude Sonnet 4.5 tier) or "complex" (Opus 4.5 tier)."""
    return llm_complete(user=user, workspace_slug=_slug(workspace), task=task, messages=messages,
                        max_tokens=max_tokens, provider=provider)


@dataclass(frozen=True)
class BoundClient:
    client: Any
    model: str
    resolution: Resolution

    @property
    def source(self) -> str:
        return self.resolution.source


def client_for(*, user: User, workspace: Workspace | str, task: str = "standard",
               provider: str | None = None) -> BoundClient:
    family = get_provider(provider).family if provider else None
    resolution = credentials_resolve(user=user, workspace_slug=_slug(workspace), family=family)
    _, client = _client_for(resolution)
    return BoundClient(client=client, model=resolution.model_for(task), resolution=resolution)
