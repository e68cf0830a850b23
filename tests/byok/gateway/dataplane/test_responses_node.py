"""The Vercel AI SDK's default `openai(model)` provider (the Responses API) against the data plane and the
simulator: a streamed text and a tool call. Runs the pinned npm packages of tests/fixtures/node_sdks, installed
ahead of time (`npm ci --prefix tests/fixtures/node_sdks`, as CI does); skipped without node or without them."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from byok.models import UsageRecord
from tests.byok.gateway.dataplane.test_responses_api import member_on

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = Path(__file__).resolve().parents[3] / "fixtures" / "node_sdks"
NODE = shutil.which("node")
if NODE is None or not (CLIENTS / "node_modules" / "ai").is_dir():
    pytest.skip("node or the npm packages of tests/fixtures/node_sdks are not installed (npm ci there)",
                allow_module_level=True)


def run_client(dataplane, member, family: str, mode: str) -> dict:
    env = {"PATH": os.environ.get("PATH", ""), "BYOK_BASE_URL": f"{dataplane.url}/v1",
           "BYOK_API_KEY": dataplane.token(member), "BYOK_MODEL": f"{family}/standard"}
    done = subprocess.run([NODE, "responses_client.mjs", mode], cwd=CLIENTS, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("family", ["openai", "anthropic"])
def test_ai_sdk_streams_a_text(dataplane, sandbox, family):
    answer = run_client(dataplane, member_on(sandbox, family), family, "text")
    assert answer["text"] and answer["deltas"] > 1 and answer["finishReason"] == "stop"
    dataplane.flush_usage()
    assert UsageRecord.objects.get().output_tokens == answer["usage"]["outputTokens"]


@pytest.mark.parametrize("family", ["openai", "anthropic"])
def test_ai_sdk_calls_a_tool(dataplane, sandbox, family):
    answer = run_client(dataplane, member_on(sandbox, family), family, "tool")
    assert answer["finishReason"] == "tool-calls"
    assert [call["name"] for call in answer["calls"]] == ["get_weather"] and answer["calls"][0]["input"]["city"]
