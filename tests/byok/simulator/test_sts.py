"""STS through the real boto3: caller identity, session tokens, and Bedrock accepting what STS issued."""

from __future__ import annotations

import time
from types import SimpleNamespace

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from byok.simulator import accounts as accounts_module
from byok.simulator.accounts import new_account

from .helpers import NO_RETRIES, SONNET, USER_MESSAGE, aws_client, timed_in_parallel


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = excinfo.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def session_client(service: str, url: str, credentials: dict) -> object:
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=NO_RETRIES,
    )


def test_get_caller_identity_names_the_account_and_user(sim):
    account = sim.account("demo-bedrock")

    identity = aws_client("sts", sim.url, account).get_caller_identity()

    assert identity["Account"] == "111122223333"
    assert identity["Arn"] == "arn:aws:iam::111122223333:user/byok-demo"
    assert identity["UserId"].startswith("AIDA")


def test_session_token_credentials_work_on_bedrock(sim):
    account = sim.add_account("bedrock", models=[SONNET])

    credentials = aws_client("sts", sim.url, account).get_session_token(DurationSeconds=3600)["Credentials"]

    assert len(credentials["AccessKeyId"]) == 20 and credentials["AccessKeyId"].startswith("ASIA")
    assert credentials["AccessKeyId"].isupper() and credentials["AccessKeyId"].isalnum()
    assert len(credentials["SecretAccessKey"]) == 40
    assert credentials["SessionToken"]
    remaining = credentials["Expiration"].timestamp() - time.time()
    assert 3590 < remaining <= 3600
    bedrock = session_client("bedrock-runtime", sim.url, credentials)
    assert bedrock.converse(modelId=f"us.{SONNET}", messages=USER_MESSAGE)["stopReason"] == "end_turn"
    assert sim.calls("sts.GetSessionToken") == {account.access_key_id: 1}
    assert sim.calls("bedrock.Converse") == {credentials["AccessKeyId"]: 1}
    assert sim.server.stats()["by_account"][account.name] == {"sts.GetSessionToken": 1, "bedrock.Converse": 1}


def test_session_token_defaults_to_twelve_hours(sim):
    credentials = aws_client("sts", sim.url, sim.add_account("bedrock")).get_session_token()["Credentials"]

    assert 43190 < credentials["Expiration"].timestamp() - time.time() <= 43200


def test_session_credentials_expire(sim, monkeypatch):
    credentials = aws_client("sts", sim.url, sim.add_account("bedrock")).get_session_token(DurationSeconds=900)[
        "Credentials"
    ]
    bedrock = session_client("bedrock-runtime", sim.url, credentials)
    # Move only the simulator's notion of "now" past the expiry; request signing keeps the real clock.
    monkeypatch.setattr(accounts_module, "time", SimpleNamespace(time=lambda: time.time() + 901))

    with pytest.raises(ClientError) as excinfo:
        bedrock.converse(modelId=SONNET, messages=USER_MESSAGE)

    assert error_of(excinfo) == (403, "ExpiredTokenException")


def test_session_credentials_with_a_wrong_token_are_unrecognized(sim):
    credentials = aws_client("sts", sim.url, sim.add_account("bedrock")).get_session_token()["Credentials"]
    bedrock = session_client("bedrock-runtime", sim.url, {**credentials, "SessionToken": "IQoJforged"})

    with pytest.raises(ClientError) as excinfo:
        bedrock.converse(modelId=SONNET, messages=USER_MESSAGE)

    assert error_of(excinfo) == (403, "UnrecognizedClientException")


def test_get_session_token_with_session_credentials_is_refused(sim):
    credentials = aws_client("sts", sim.url, sim.add_account("bedrock")).get_session_token()["Credentials"]

    with pytest.raises(ClientError) as excinfo:
        session_client("sts", sim.url, credentials).get_session_token()

    assert error_of(excinfo) == (403, "AccessDenied")
    assert excinfo.value.response["Error"]["Message"] == "Cannot call GetSessionToken with session credentials"


def test_get_session_token_without_permission_is_access_denied(sim):
    account = sim.account("demo-bedrock-no-sts")

    with pytest.raises(ClientError) as excinfo:
        aws_client("sts", sim.url, account).get_session_token()

    assert error_of(excinfo) == (403, "AccessDenied")
    assert "sts:GetSessionToken" in excinfo.value.response["Error"]["Message"]
    assert aws_client("sts", sim.url, account).get_caller_identity()["Account"] == account.account_id


def test_duration_out_of_range_is_a_validation_error(sim):
    account = sim.account("demo-bedrock")
    # botocore checks the range itself; switch that off to see what the service says.
    client = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=sim.url,
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
        config=NO_RETRIES.merge(Config(parameter_validation=False)),
    )

    with pytest.raises(ClientError) as excinfo:
        client.get_session_token(DurationSeconds=899)

    assert error_of(excinfo) == (400, "ValidationError")


def test_wrong_secret_does_not_match(sim):
    account = sim.account("demo-bedrock")

    with pytest.raises(ClientError) as excinfo:
        aws_client("sts", sim.url, account, secret="A" * 40).get_caller_identity()

    assert error_of(excinfo) == (403, "SignatureDoesNotMatch")


def test_unknown_access_key_is_an_invalid_client_token_id(sim):
    with pytest.raises(ClientError) as excinfo:
        aws_client("sts", sim.url, new_account("bedrock")).get_caller_identity()

    assert error_of(excinfo) == (403, "InvalidClientTokenId")


def test_expired_credentials_are_an_expired_token(sim):
    with pytest.raises(ClientError) as excinfo:
        aws_client("sts", sim.url, sim.account("demo-bedrock-expired")).get_caller_identity()

    assert error_of(excinfo) == (400, "ExpiredToken")


@pytest.mark.parametrize(
    ("behaviour", "status", "code"),
    [
        ("throttled", 400, "Throttling"),
        ("server_error", 500, "InternalFailure"),
        ("unavailable", 503, "ServiceUnavailable"),
    ],
)
def test_account_behaviour_becomes_the_sts_error(sim, behaviour, status, code):
    with pytest.raises(ClientError) as excinfo:
        aws_client("sts", sim.url, sim.add_account("bedrock", behaviour=behaviour)).get_session_token()

    assert error_of(excinfo) == (status, code)


def test_each_key_calls_get_session_token_exactly_once(sim):
    accounts = [sim.add_account("bedrock") for _ in range(3)]

    for account in accounts:
        aws_client("sts", sim.url, account).get_session_token()

    assert sim.calls("sts.GetSessionToken") == {account.access_key_id: 1 for account in accounts}


def test_slow_account_delays_sts_without_blocking_others(sim):
    client = aws_client("sts", sim.url, sim.add_account("bedrock", latency_ms=300))

    wall, durations = timed_in_parallel(client.get_caller_identity)

    assert min(durations) >= 0.3
    assert wall < 0.55
