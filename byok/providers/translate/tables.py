"""The per-family rules of every Chat Completions field, as docs/providers.md shows them (a test keeps the two the
same): one table written from the declarations, never by hand."""

from .anthropic_chat import CHAT_TO_MESSAGES
from .bedrock_chat import CHAT_TO_CONVERSE
from .chat import CHAT_FIELDS, Map, Own, Refuse, Rule
from .gemini_chat import CHAT_TO_GEMINI

CHAT_RULES = {"Claude (Anthropic API, Vertex AI)": CHAT_TO_MESSAGES, "Bedrock Converse": CHAT_TO_CONVERSE,
              "Gemini (Vertex AI)": CHAT_TO_GEMINI}


def _cell(rule: Rule) -> str:
    if isinstance(rule, Map):
        return f"→ `{rule.to}`" if rule.to else "passed on"
    if isinstance(rule, Own):
        return "translated"
    if isinstance(rule, Refuse):
        return f"400: {rule.reason}"
    return f"dropped: {rule.reason}"


def rules_table() -> str:
    """Markdown: a row per field, a column per translating family."""
    rows = ["| field | " + " | ".join(CHAT_RULES) + " |", "|" + " --- |" * (len(CHAT_RULES) + 1)]
    rows += [f"| `{name}` | " + " | ".join(_cell(rules[name]) for rules in CHAT_RULES.values()) + " |"
             for name in CHAT_FIELDS]
    return "\n".join(rows)
