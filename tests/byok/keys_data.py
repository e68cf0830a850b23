"""Valid-looking credentials for each provider (never real)."""

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
}
