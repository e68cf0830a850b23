"""A local stand-in for the LLM providers byok talks to (AWS Bedrock and STS, Anthropic, OpenAI and
OpenAI-compatible APIs, Google OAuth2 and Vertex AI), speaking their real wire protocols so the official SDKs run
unchanged. See docs/simulator.md.
"""

from .accounts import DEMO_ACCOUNTS_PATH, Account, AccountsError, load_accounts, secret_hint
from .server import SimulatorServer

__all__ = ["DEMO_ACCOUNTS_PATH", "Account", "AccountsError", "SimulatorServer", "load_accounts", "secret_hint"]
