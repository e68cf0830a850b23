"""byok itself: encryption keys, provider endpoints, platform credentials, routing, sessions and reminders."""

import os
from datetime import timedelta

from .env import PRODUCTION, development_secret, endpoint_settings, env_bool, env_int, env_list, generate_fernet_key

# --- byok -------------------------------------------------------------------------------------------------
# Fernet keys, comma-separated: the first encrypts, all decrypt. Independent of SECRET_KEY. In production they
# must be given (the system check byok.E001 stops start-up otherwise); in development one is generated into ./var/.
BYOK_ENCRYPTION_KEYS = (
    env_list("BYOK_ENCRYPTION_KEYS")
    if PRODUCTION
    else [k.strip() for k in development_secret("BYOK_ENCRYPTION_KEYS", "encryption_keys", generate_fernet_key).split(",")]
)
# Provider endpoints: unset means the real providers. Each provider plug-in declares the settings it reads
# (byok.providers.registry.endpoint_overrides(): BYOK_BEDROCK_ENDPOINT_URL, BYOK_STS_ENDPOINT_URL,
# BYOK_<PROVIDER>_BASE_URL); the check byok.W001 names any set that no provider reads. Any set = sandbox mode.
BYOK_ENDPOINTS = endpoint_settings(os.environ)
BYOK_CONNECTION_TEST_TIMEOUT = float(os.environ.get("BYOK_CONNECTION_TEST_TIMEOUT", "10"))
BYOK_LLM_TIMEOUT = float(os.environ.get("BYOK_LLM_TIMEOUT", "60"))
# Browser apps that may call /v1/* (CORS): exact origins, comma-separated, e.g. https://app.example.com. None by default.
BYOK_CORS_ORIGINS = frozenset(o.strip() for o in os.environ.get("BYOK_CORS_ORIGINS", "").split(",") if o.strip())
# Connection tests per user and per owner: an open test endpoint is an oracle for stolen keys.
BYOK_CONNECTION_TEST_RATE = os.environ.get("BYOK_CONNECTION_TEST_RATE", "10/min")
# Platform credentials: used when a workspace has no usable BYOK key (and for fallback). Each provider reads its own
# PLATFORM_* variables (see docs/operations.md: PLATFORM_AWS_*, PLATFORM_<PROVIDER>_API_KEY); a call that needs platform
# credentials that are missing fails with platform_credentials_missing.
BYOK_PLATFORM_ENV = {name: value for name, value in os.environ.items() if name.startswith("PLATFORM_")}
# The provider family a call uses when the caller names none and the owner has no key.
BYOK_DEFAULT_FAMILY = os.environ.get("BYOK_DEFAULT_FAMILY", "bedrock")
# After a failure that will repeat (credentials, permission, expiry), BYOK is skipped this long before one probe.
BYOK_BREAKER_COOLDOWN_SECONDS = env_int("BYOK_BREAKER_COOLDOWN_SECONDS", 300)
BYOK_DEMO_PASSWORD = os.environ.get("BYOK_DEMO_PASSWORD", "byok-demo-2026")
BYOK_REQUIRE_SERVICES = env_bool("BYOK_REQUIRE_SERVICES", False)
# How long a workspace invitation's link works.
BYOK_INVITATION_DAYS = env_int("BYOK_INVITATION_DAYS", 7)

# --- STS session tokens and credential expiry ---------------------------------------------------------------
# Long-term AKIA keys call models with an STS session (GetSessionToken) that byok refreshes before it expires.
BYOK_SESSION_DURATION = env_int("BYOK_SESSION_DURATION", 43200)  # seconds (STS allows 900-129600)
# A session expiring within this window is refreshed by the 5-minute cycle.
BYOK_SESSION_REFRESH_WINDOW = timedelta(seconds=env_int("BYOK_SESSION_REFRESH_WINDOW", 1800))
BYOK_SESSION_STS_TIMEOUT = float(os.environ.get("BYOK_SESSION_STS_TIMEOUT", "10"))
# IAM-role keys: the principal of the trust policy owners give their roles (byok's own AWS account). Empty: the
# account of the platform's AWS credentials (PLATFORM_AWS_*), read from STS GetCallerIdentity.
BYOK_PLATFORM_AWS_ACCOUNT_ID = os.environ.get("BYOK_PLATFORM_AWS_ACCOUNT_ID", "").strip()
# The model catalog: owners hear of a model their traffic used this many days before it is retired.
BYOK_MODEL_NOTICE_DAYS = env_int("BYOK_MODEL_NOTICE_DAYS", 30)
# Daily reminders: temporary credentials and Bedrock API keys expiring within this many days, and keys older
# than the rotation age.
BYOK_EXPIRY_REMINDER_DAYS = env_int("BYOK_EXPIRY_REMINDER_DAYS", 7)
BYOK_ROTATION_REMINDER_DAYS = env_int("BYOK_ROTATION_REMINDER_DAYS", 90)
