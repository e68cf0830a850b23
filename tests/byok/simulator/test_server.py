"""The simulator itself: control endpoints, accounts data, keep-alive, and secrets kept out of logs and stats."""

from __future__ import annotations

import http.client
import json
import logging
import re
import urllib.request

import anthropic
import openai
import pytest
from botocore.exceptions import ClientError

from byok.simulator import AccountsError, SimulatorServer, load_accounts
from byok.simulator.accounts import new_account

from .helpers import SONNET, USER_MESSAGE, anthropic_client, aws_client, openai_client


def control(url: str, path: str, payload: object | None = None) -> tuple[int, dict]:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(
        f"{url}/_simulator/{path}", data=data, method="POST" if data or path == "reset" else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_demo_credentials_look_like_real_ones():
    for account in load_accounts():
        if account.provider == "bedrock" and account.roles and not account.access_key_id:
            assert all(re.fullmatch(r"\d{12}", role.trusted_account) for role in account.roles), account.name
        elif account.provider == "bedrock":
            assert re.fullmatch(r"(AKIA|ASIA)[A-Z0-9]{16}", account.access_key_id), account.name
            assert len(account.secret_access_key) == 40, account.name
        elif account.provider == "anthropic":
            assert account.api_key.startswith("sk-ant-api03-")
        elif account.provider == "openai":
            assert account.api_key.startswith("sk-proj-")
        elif account.provider == "vertex":
            assert account.client_email.endswith(".iam.gserviceaccount.com"), account.name
            assert account.service_account["private_key"].startswith("-----BEGIN PRIVATE KEY-----"), account.name
    providers = {account.provider for account in load_accounts()}
    assert providers == {"bedrock", "bedrock_api_key", "anthropic", "openai", "mistral", "deepseek", "xai", "zai", "groq",
                         "vertex"}


def test_stats_count_calls_per_operation_and_principal_and_reset_zeroes_them(sim):
    account = sim.account("demo-bedrock")
    client = aws_client("bedrock-runtime", sim.url, account)
    client.converse(modelId=SONNET, messages=USER_MESSAGE)
    client.converse(modelId=SONNET, messages=USER_MESSAGE)

    status, stats = control(sim.url, "stats")

    assert status == 200
    assert stats["calls"] == {"bedrock.Converse": {account.access_key_id: 2}}
    assert stats["by_account"] == {"demo-bedrock": {"bedrock.Converse": 2}}
    assert stats["statuses"] == {"bedrock.Converse": {"200": 2}}
    assert stats["total"] == 2
    assert control(sim.url, "reset") == (200, {"reset": True})
    assert control(sim.url, "stats")[1]["total"] == 0


def test_accounts_added_over_http_are_live_at_once(sim):
    account = new_account("openai", name="added-over-http", models=["gpt-4o"])
    payload = {
        "accounts": [{"name": account.name, "provider": "openai", "api_key": account.api_key, "models": ["gpt-4o"]}]
    }

    assert control(sim.url, "accounts", payload) == (200, {"accounts": ["added-over-http"]})
    client = openai_client(sim.url, account.api_key)
    assert (
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}]).model == "gpt-4o"
    )


def test_replacing_an_account_retires_its_old_credentials(sim):
    old = sim.add_account("anthropic", name="replaced-account")
    new = sim.add_account("anthropic", name="replaced-account")

    with pytest.raises(anthropic.AuthenticationError):
        anthropic_client(sim.url, old.api_key).models.list()
    assert [model.id for model in anthropic_client(sim.url, new.api_key).models.list()]


@pytest.mark.parametrize(
    ("account", "complaint"),
    [
        (
            {"name": "x", "provider": "bedrock", "access_key_id": "AKIA123", "secret_access_key": "s" * 40},
            "access_key_id",
        ),
        ({"name": "x", "provider": "bedrock", "access_key_id": "AKIA" + "A" * 16, "secret_access_key": "short"}, "40"),
        ({"name": "x", "provider": "openai"}, "api_key"),
        ({"name": "x", "provider": "openai", "api_key": "k", "behaviour": "grumpy"}, "behaviour"),
        ({"name": "x", "provider": "carrier-pigeon", "api_key": "k"}, "provider"),
    ],
)
def test_malformed_accounts_are_refused_with_the_reason(sim, account, complaint):
    status, body = control(sim.url, "accounts", {"accounts": [account]})

    assert status == 400
    assert complaint in body["error"]
    with pytest.raises(AccountsError):
        sim.server.add_accounts([account])


def test_one_keep_alive_connection_serves_many_requests(sim):
    connection = http.client.HTTPConnection(sim.server.host, sim.server.port, timeout=5)
    try:
        for _ in range(3):
            connection.request("GET", "/_simulator/stats")
            response = connection.getresponse()
            assert response.status == 200 and json.load(response)["total"] == 0
        first_socket = connection.sock
        connection.request("GET", "/_simulator/stats")
        connection.getresponse().read()
        assert connection.sock is first_socket
    finally:
        connection.close()


def test_unknown_route_is_a_404(sim):
    connection = http.client.HTTPConnection(sim.server.host, sim.server.port, timeout=5)
    connection.request("GET", "/nowhere")
    assert connection.getresponse().status == 404
    connection.close()


def test_env_points_every_provider_at_the_server(simulator):
    env = simulator.env()

    assert env["BYOK_BEDROCK_ENDPOINT_URL"] == env["BYOK_STS_ENDPOINT_URL"] == simulator.url
    assert env["BYOK_ANTHROPIC_BASE_URL"] == f"{simulator.url}/anthropic"
    assert env["BYOK_XAI_BASE_URL"] == f"{simulator.url}/xai/v1"
    assert set(env) == {
        "BYOK_BEDROCK_ENDPOINT_URL",
        "BYOK_STS_ENDPOINT_URL",
        "BYOK_ANTHROPIC_BASE_URL",
        "BYOK_OPENAI_BASE_URL",
        "BYOK_MISTRAL_BASE_URL",
        "BYOK_DEEPSEEK_BASE_URL",
        "BYOK_XAI_BASE_URL",
        "BYOK_ZAI_BASE_URL",
        "BYOK_GROQ_BASE_URL",
        "BYOK_VERTEX_BASE_URL",
    }


def test_context_manager_frees_the_port():
    account = new_account("openai")
    with SimulatorServer([account]) as server:
        port = server.port
        assert openai_client(server.url, account.api_key).models.list().data

    with pytest.raises(ConnectionRefusedError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()


def test_no_secret_reaches_the_logs_or_the_stats(sim, caplog):
    caplog.set_level(logging.DEBUG, logger="byok.simulator")
    bedrock = sim.account("demo-bedrock")
    wrong_secret = "W" * 40
    wrong_openai_key = new_account("openai").api_key
    wrong_anthropic_key = new_account("anthropic").api_key
    session = aws_client("sts", sim.url, bedrock).get_session_token()["Credentials"]
    aws_client("bedrock-runtime", sim.url, bedrock).converse(modelId=SONNET, messages=USER_MESSAGE)
    with pytest.raises(ClientError):
        aws_client("bedrock-runtime", sim.url, bedrock, secret=wrong_secret).converse(
            modelId=SONNET, messages=USER_MESSAGE
        )
    with pytest.raises(ClientError):
        aws_client("sts", sim.url, sim.account("demo-bedrock-expired")).get_caller_identity()
    with pytest.raises(openai.AuthenticationError):
        openai_client(sim.url, wrong_openai_key).models.list()
    with pytest.raises(anthropic.AuthenticationError):
        anthropic_client(sim.url, wrong_anthropic_key).models.list()
    with pytest.raises(anthropic.RateLimitError):
        anthropic_client(sim.url, sim.add_account("anthropic", behaviour="throttled").api_key).models.list()

    secrets = [wrong_secret, wrong_openai_key, wrong_anthropic_key, session["SecretAccessKey"], session["SessionToken"]]
    for account in sim.server.state.accounts.all():
        secrets += [value for value in (account.secret_access_key, account.session_token, account.api_key) if value]
    logged = caplog.text
    published = json.dumps(control(sim.url, "stats")[1])
    assert "refused" in logged and "issued ASIA…" in logged  # the logs do say what happened
    for secret in secrets:
        assert secret not in logged
        assert secret not in published
