"""Valid-looking credentials for each provider (never real)."""

import json

from byok.simulator.accounts import new_service_account

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


def service_account(**overrides) -> dict:
    """A well-formed service-account key file (a fresh RSA key; never one Google issued) with `overrides`; a None
    value drops the field."""
    info = {**new_service_account(project_id="acme-vertex-prod", account_name="byok-caller",
                                  token_uri=GOOGLE_TOKEN_URI), **overrides}
    return {k: v for k, v in info.items() if v is not None}


BEDROCK_AKIA = {"access_key_id": "AKIAZ7EXAMPLE4KE7XQ2", "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
BEDROCK_ASIA = {
    "access_key_id": "ASIAZ7EXAMPLE4KE7XQ3",
    "secret_access_key": "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    "session_token": "FwoGZXIvYXdzEBYaDHexampleSessionToken0123456789abcdef",
    "expires_at": "2099-01-01T00:00:00Z",
}
BEDROCK_API_KEY = {"api_key": "ABSKQmVkcm9ja0FQSUtleS1leGFtcGxlLWtleS0xMjM0NTY3ODkw", "region": "us-east-1"}
ANTHROPIC = {"api_key": "sk-ant-api03-EXAMPLEexampleEXAMPLEexample0123456789-a1b2"}
OPENAI = {"api_key": "sk-proj-EXAMPLEexampleEXAMPLEexample0123456789c3d4"}
MISTRAL = {"api_key": "EXAMPLEexampleEXAMPLEexample0123"}
DEEPSEEK = {"api_key": "sk-0123456789abcdef0123456789abcdef"}
XAI = {"api_key": "xai-EXAMPLEexampleEXAMPLEexample0123"}
ZAI = {"api_key": "0123456789abcdef0123456789abcdef.EXAMPLEexample12"}
BEDROCK_ROLE = {"role_arn": "arn:aws:iam::123456789012:role/byok-bedrock"}
GROQ = {"api_key": "gsk_EXAMPLEexampleEXAMPLEexample0123456789EXAMPLEexample"}
VERTEX_INFO = service_account()
VERTEX = {"service_account_json": json.dumps(VERTEX_INFO, indent=2), "location": "us-east5"}

VALID = {
    "bedrock": BEDROCK_AKIA,
    "bedrock_api_key": BEDROCK_API_KEY,
    "bedrock_role": BEDROCK_ROLE,
    "anthropic": ANTHROPIC,
    "openai": OPENAI,
    "mistral": MISTRAL,
    "deepseek": DEEPSEEK,
    "xai": XAI,
    "zai": ZAI,
    "groq": GROQ,
    "vertex": VERTEX,
}
