"""SDK clients pointed at the simulator, with retries off so every failure surfaces at once."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
import boto3
import openai
from botocore.config import Config
from google import genai
from google.genai import types as genai_types
from google.oauth2 import service_account

from byok.simulator import Account

# botocore's "max_attempts" counts retries after the first try; "total_max_attempts": 1 means a single try.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
OPUS = "anthropic.claude-opus-4-5-20251101-v1:0"
USER_MESSAGE = [{"role": "user", "content": [{"text": "What is bring your own key?"}]}]


def aws_client(
    service: str, url: str, account: Account, *, secret: str | None = None, region: str = "us-east-1"
) -> Any:
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=url,
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=secret or account.secret_access_key,
        aws_session_token=account.session_token or None,
        config=NO_RETRIES,
    )


def anthropic_client(url: str, api_key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=f"{url}/anthropic", api_key=api_key, max_retries=0)


def openai_client(url: str, api_key: str, provider: str = "openai") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/{provider}/v1", api_key=api_key, max_retries=0)


def timed_in_parallel(call: Callable[[], Any], times: int = 2) -> tuple[float, list[float]]:
    """Run `call` concurrently; return the wall time of the lot and each call's own duration."""

    def timed() -> float:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=times) as pool:
        durations = list(pool.map(lambda _: timed(), range(times)))
    return time.perf_counter() - started, durations


def vertex_credentials(url: str, account: Account) -> service_account.Credentials:
    info = {**account.service_account, "token_uri": f"{url}/vertex/token"}
    return service_account.Credentials.from_service_account_info(
        info, scopes=["https://www.googleapis.com/auth/cloud-platform"])


def anthropic_vertex_client(url: str, account: Account, region: str = "us-east5") -> anthropic.AnthropicVertex:
    return anthropic.AnthropicVertex(base_url=f"{url}/vertex/v1", region=region, project_id=account.project_id,
                                     credentials=vertex_credentials(url, account), max_retries=0)


def genai_vertex_client(url: str, account: Account, region: str = "us-east5") -> genai.Client:
    return genai.Client(vertexai=True, project=account.project_id, location=region,
                        credentials=vertex_credentials(url, account),
                        http_options=genai_types.HttpOptions(base_url=f"{url}/vertex/", api_version="v1"))
