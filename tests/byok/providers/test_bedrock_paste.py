"""Bedrock credentials pasted whole (JSON, STS output, credentials file, export lines): parsing, the masked preview
(API and console), keys created from a paste, and Bedrock API keys' expiry."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from byok.models import ProviderKey
from byok.providers.bedrock.paste import parse_pasted_credentials, short_term_key_expiry
from byok.providers.registry import PROVIDERS
from tests.byok.keys_data import BEDROCK_AKIA, BEDROCK_ASIA
from tests.factories import BusinessUserFactory, WorkspaceFactory

AKIA, SECRET = BEDROCK_AKIA["access_key_id"], BEDROCK_AKIA["secret_access_key"]
ASIA, TOKEN = BEDROCK_ASIA["access_key_id"], BEDROCK_ASIA["session_token"]

PASTES = {
    "mesh json": (json.dumps({"accessKeyId": AKIA, "secretAccessKey": SECRET, "region": "eu-west-1"}), "json"),
    "json with a session token": (json.dumps({"accessKeyId": ASIA, "secretAccessKey": SECRET, "sessionToken": TOKEN}),
                                  "json"),
    "sts get-session-token output": (json.dumps({"Credentials": {
        "AccessKeyId": ASIA, "SecretAccessKey": SECRET, "SessionToken": TOKEN,
        "Expiration": "2099-01-01T12:00:00+00:00"}}), "sts_json"),
    "credentials file section": (f"[default]\naws_access_key_id = {AKIA}\naws_secret_access_key = {SECRET}\n"
                                 "region = us-east-1\n", "credentials_file"),
    "credentials file with a token": (f"[tmp]\naws_access_key_id={ASIA}\naws_secret_access_key={SECRET}\n"
                                      f"aws_session_token={TOKEN}\n", "credentials_file"),
    "export lines": (f"export AWS_ACCESS_KEY_ID={AKIA}\nexport AWS_SECRET_ACCESS_KEY=\"{SECRET}\"\n"
                     "export AWS_REGION=us-west-2\n", "env"),
    "powershell lines": (f"$Env:AWS_ACCESS_KEY_ID=\"{ASIA}\"\n$Env:AWS_SECRET_ACCESS_KEY=\"{SECRET}\"\n"
                         f"$Env:AWS_SESSION_TOKEN=\"{TOKEN}\"\n", "env"),
}


@pytest.mark.parametrize("name", PASTES)
def test_every_paste_format_is_parsed(name):
    text, kind = PASTES[name]
    parsed = parse_pasted_credentials(text)
    assert parsed["format"] == kind
    assert parsed["access_key_id"] in (AKIA, ASIA) and parsed["secret_access_key"] == SECRET
    assert ("session_token" in parsed) == (parsed["access_key_id"] == ASIA)


@pytest.mark.parametrize("text, reason", [
    ("", "Nothing was pasted"),
    ("hello world", "No AWS credentials found"),
    ("{\"accessKeyId\": ", "does not parse"),
    ("[1, 2]", "must be an object"),
    (json.dumps({"accessKeyId": AKIA}), "no the secret access key"),
    (f"[a]\naws_access_key_id={AKIA}\naws_secret_access_key={SECRET}\n[b]\naws_access_key_id={AKIA}\n",
     "more than one profile"),
    (json.dumps({"accessKeyId": AKIA, "secretAccessKey": 40}), "must be a string"),
])
def test_unreadable_pastes_say_why_without_quoting_them(text, reason):
    with pytest.raises(ValueError) as raised:
        parse_pasted_credentials(text)
    assert reason in str(raised.value)
    assert SECRET not in str(raised.value) and AKIA not in str(raised.value)


@pytest.mark.django_db
@pytest.mark.parametrize("name", PASTES)
def test_a_key_is_created_from_each_paste_through_the_api(client_for, name):
    owner = BusinessUserFactory()
    response = client_for(owner).post("/api/v1/provider-keys/", {
        "provider": "bedrock", "name": "pasted", "skip_test": True, "credentials": {"pasted": PASTES[name][0]}},
        format="json")
    assert response.status_code == 201, response.json()
    assert SECRET not in response.content.decode()
    key = ProviderKey.objects.get()
    credentials = key.get_credentials()
    assert credentials["secret_access_key"] == SECRET and "pasted" not in credentials
    assert key.credential_type == ("temporary" if credentials["access_key_id"] == ASIA else "long_term")
    if name == "sts get-session-token output":
        assert key.expires_at == datetime(2099, 1, 1, 12, tzinfo=UTC)


@pytest.mark.django_db
def test_a_bad_paste_is_a_400_naming_the_pasted_field(client_for):
    response = client_for(BusinessUserFactory()).post("/api/v1/provider-keys/", {
        "provider": "bedrock", "name": "pasted", "skip_test": True,
        "credentials": {"pasted": json.dumps({"accessKeyId": AKIA, "secretAccessKey": SECRET[:-1]})}}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"credentials.secret_access_key"}
    response = client_for(BusinessUserFactory()).post("/api/v1/provider-keys/", {
        "provider": "bedrock", "name": "pasted", "skip_test": True,
        "credentials": {"pasted": "nothing here", "access_key_id": AKIA}}, format="json")
    assert "credentials.pasted" in response.json()["error"]["fields"]
    response = client_for(BusinessUserFactory()).post("/api/v1/provider-keys/", {
        "provider": "bedrock", "name": "pasted", "skip_test": True,
        "credentials": {"pasted": PASTES["mesh json"][0], "access_key_id": "AKIAZ7EXAMPLE4KE7XQ9"}}, format="json")
    assert "paste them or type them" in response.json()["error"]["fields"]["credentials.access_key_id"][0]
    assert not ProviderKey.objects.exists()


@pytest.mark.django_db
def test_parse_preview_is_masked(client_for):
    client = client_for(BusinessUserFactory())
    response = client.post("/api/v1/provider-keys/parse/", {"text": PASTES["sts get-session-token output"][0]},
                           format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "provider": "bedrock", "format": "sts_json", "access_key_id": "ASIA…XQ3".replace("…", "…"),
        "credential_type": "temporary", "has_secret_access_key": True, "has_session_token": True, "region": "",
        "expires_at": "2099-01-01T12:00:00+00:00", "problems": {}} | {"access_key_id": response.json()["access_key_id"]}
    assert response.json()["access_key_id"] == f"ASIA…{ASIA[-4:]}"
    for secret in (SECRET, TOKEN, ASIA):
        assert secret not in response.content.decode()
    preview = client.post("/api/v1/provider-keys/parse/", {"text": PASTES["mesh json"][0]}, format="json").json()
    assert (preview["region"], preview["credential_type"], preview["has_session_token"]) == ("eu-west-1", "long_term",
                                                                                           False)
    bad = client.post("/api/v1/provider-keys/parse/", {"text": json.dumps({"accessKeyId": AKIA,
                                                                            "secretAccessKey": "short"})},
                      format="json").json()
    assert list(bad["problems"]) == ["credentials.secret_access_key"]
    refused = client.post("/api/v1/provider-keys/parse/", {"text": "no credentials"}, format="json")
    assert refused.status_code == 400 and "text" in refused.json()["error"]["fields"]
    other = client.post("/api/v1/provider-keys/parse/", {"provider": "openai", "text": "x"}, format="json")
    assert other.status_code == 400 and "provider" in other.json()["error"]["fields"]


@pytest.mark.django_db
def test_console_parse_step_shows_the_masked_result_then_test_and_save_stores_the_paste(sandbox):
    owner = BusinessUserFactory()
    WorkspaceFactory(owner=owner)
    browser = Client()
    browser.force_login(owner)
    url = "/manage/byok/providerkey/add/?provider=bedrock"
    assert 'name="_parse"' in browser.get(url).content.decode()
    page = browser.post(url, {"_parse": "Parse", "inference_profile": "global",
                              "pasted": PASTES["export lines"][0]}).content.decode()
    assert 'id="parse-preview"' in page and f"AKIA…{AKIA[-4:]}" in page and "present (not shown)" in page
    assert "us-west-2" in page and "(long-term)" in page
    assert SECRET not in page and AKIA not in page
    assert not ProviderKey.objects.exists()
    page = browser.post(url, {"_parse": "Parse", "inference_profile": "global", "pasted": "garbage"}).content.decode()
    assert "No AWS credentials found" in page

    account = sandbox.add_account("bedrock")
    paste = (f"[default]\naws_access_key_id = {account.access_key_id}\n"
             f"aws_secret_access_key = {account.secret_access_key}\n")
    response = browser.post(url, {"name": "From paste", "inference_profile": "global", "fallback_mode": "platform",
                                  "scope": "all_workspaces", "pasted": paste, "_test_and_save": "Test and save",
                                  "regional-TOTAL_FORMS": "1", "regional-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.content.decode()[:3000]
    key = ProviderKey.objects.get()
    assert key.get_credentials()["access_key_id"] == account.access_key_id and key.last_test_status == "ok"


# --- Bedrock API keys: expiry ---------------------------------------------------------------------------------

def short_term_key(issued: datetime, lifetime: int) -> str:
    url = ("bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=ASIAEXAMPLE%2F20251201%2Fus-east-1%2Fbedrock%2Faws4_request"
           f"&X-Amz-Date={issued:%Y%m%dT%H%M%SZ}&X-Amz-Expires={lifetime}&X-Amz-SignedHeaders=host"
           "&X-Amz-Signature=0123456789abcdef&Version=1")
    return "bedrock-api-key-" + base64.b64encode(url.encode()).decode()


def test_short_term_keys_carry_their_expiry_and_bad_ones_carry_none():
    issued = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    assert short_term_key_expiry(short_term_key(issued, 43200)) == issued + timedelta(hours=12)
    assert short_term_key_expiry("bedrock-api-key-" + "!!!not base64") is None
    assert short_term_key_expiry("bedrock-api-key-" + base64.b64encode(b"no query here").decode()) is None
    assert short_term_key_expiry("ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl") is None


@pytest.mark.django_db
def test_bedrock_api_key_expiry_from_the_key_or_a_180_day_reminder():
    spec = PROVIDERS["bedrock_api_key"]
    issued = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    cleaned = spec.clean({"api_key": short_term_key(issued, 43200), "region": "us-east-1"}, inference_profile="us")
    assert cleaned.expires_at == issued + timedelta(hours=12)
    assert cleaned.credentials["expires_at"] == cleaned.expires_at.isoformat()
    long_term = spec.clean({"api_key": "ABSKQmVkcm9ja0FQSUtleS1leGFtcGxlLWtleS0xMjM0NTY3ODkw", "region": "us-east-1"})
    assert timedelta(days=179) < long_term.expires_at - timezone.now() <= timedelta(days=180)
    chosen = spec.clean({"api_key": "ABSKQmVkcm9ja0FQSUtleS1leGFtcGxlLWtleS0xMjM0NTY3ODkw", "region": "us-east-1",
                         "expires_at": "2027-03-01"})
    assert chosen.expires_at.date().isoformat() == "2027-03-01"
    from byok.providers.base import CredentialsInvalid

    with pytest.raises(CredentialsInvalid) as raised:
        spec.clean({"api_key": short_term_key(issued - timedelta(days=2), 43200), "region": "us-east-1"})
    assert "expired at" in raised.value.fields["credentials.api_key"][0]
