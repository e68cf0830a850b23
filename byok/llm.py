"""The platform's own code calls byok here, in-process, on the data plane's core (byok.gateway.bridge): the same
call path, rules, fallback, breaker and usage records as a member's `/v1` call.

    from byok import llm

    result = llm.complete(user=user, workspace="acme", task="complex",
                          messages=[{"role": "user", "content": "Summarise …"}], max_tokens=512)
    result.output, result.model, result.source, result.as_dict()["usage"]   # source: "byok" or "platform"
"""

from accounts.models import User, Workspace

from .gateway.bridge import CallOutcome
from .gateway.bridge import complete as _complete


def complete(*, user: User, workspace: Workspace | str, messages: list[dict], task: str = "standard",
             max_tokens: int = 1024, provider: str | None = None) -> CallOutcome:
    """Run one completion on the workspace's tier model (`task`: "standard" or "complex"), its usage written when it
    returns. `provider` picks a family other than the workspace's default."""
    return _complete(user=user, workspace_slug=workspace if isinstance(workspace, str) else workspace.slug,
                     task=task, messages=messages, max_tokens=max_tokens, provider=provider)
