"""Bedrock through an IAM role: byok assumes the owner's role with its own credentials and the owner's external ID,
keeps the role session on the key and refreshes it like session tokens; a role it can no longer assume fails the key
with a hint that says why."""

import dataclasses
import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from byok import tasks
from byok.models import ProviderKey, RoleExternalId
from byok.providers.registry import PROVIDERS
from byok.services import sessions
from byok.services.keys import byok_revert_to_platform, provider_key_create, provider_key_rotate
from byok.services.roles import owner_external_id, role_session_name
from tests.byok.routing_helpers import MESSAGES, team, use_platform_account
from tests.factories import BusinessUserFactory

from .conftest import expire_session

pytestmark = pytest.mark.django_db(transaction=True)  # LLM calls run on the data plane's loop, in other threads

PLATFORM_ACCOUNT = "999900001111"


@pytest.fixture
def platform(sandbox, settings):
    """byok's own AWS credentials, in an account of their own: the principal every role trusts."""
    account = use_platform_account(settings, sandbox, account_id=PLATFORM_ACCOUNT)
    settings.BYOK_PLATFORM_AWS_ACCOUNT_ID = PLATFORM_ACCOUNT
    return account


def role_account(sandbox, owner, *, account_id="210987654321", role="byok-bedrock", trusted=PLATFORM_ACCOUNT,
                 external_id=None, **fields):
    """The owner's AWS account with a role trusting `trusted` with the owner's external ID (or `external_id`)."""
    roles = [{"name": role, "trusted_account": trusted,
              "external_id": owner_external_id(owner) if external_id is None else external_id}]
    account = sandbox.add_account("bedrock", account_id=account_id, roles=roles, **fields)
    return account, f"arn:aws:iam::{account_id}:role/{role}"


def role_key(owner, role_arn, **options):
    return provider_key_create(owner=owner, provider="bedrock_role", name=options.pop("name", "role key"),
                               credentials={"role_arn": role_arn}, inference_profile="us", **options)


def test_the_whole_life_of_a_role_key(sandbox, platform, client_for, django_capture_on_commit_callbacks):
    owner, workspace, member = team()
    account, arn = role_account(sandbox, owner)

    # Test without saving: AssumeRole, then GetCallerIdentity as the role, then each tier model on the profile.
    tested = client_for(owner).post("/api/v1/provider-keys/test/", {
        "provider": "bedrock_role", "credentials": {"role_arn": arn}, "inference_profile": "us"}, format="json")
    assert tested.status_code == 200, tested.content
    result = tested.json()
    assert result["ok"] and [c["name"] for c in result["checks"]] == [
        "sts:AssumeRole", "sts:GetCallerIdentity", "model:standard", "model:complex"]
    assert result["account"] == "210987654321"
    assert not ProviderKey.objects.exists()

    # Save (tested again), through the API.
    with django_capture_on_commit_callbacks(execute=True):
        created = client_for(owner).post("/api/v1/provider-keys/", {
            "provider": "bedrock_role", "name": "Production role", "credentials": {"role_arn": arn},
            "inference_profile": "us"}, format="json")
    assert created.status_code == 201, created.content
    key = ProviderKey.objects.get()
    assert (key.family, key.credential_type, key.key_hint) == ("bedrock", "role", "…4321:role/byok-bedrock")
    assert key.refreshes_session and arn not in json.dumps(created.json())
    assert sandbox.calls("sts.AssumeRole") == {platform.access_key_id: 2}  # both tests, with byok's credentials

    # A member's call signs with the role session, in the owner's account.
    call = client_for(member).post(f"/api/v1/workspaces/{workspace.slug}/completions/",
                                   {"messages": MESSAGES}, format="json")
    assert call.status_code == 200, call.content
    assert call.json()["source"] == "byok"
    key.refresh_from_db()
    session = key.get_session()
    assert session["access_key_id"].startswith("ASIA")
    assert sandbox.calls("bedrock.Converse")[session["access_key_id"]] == 1  # (the tests used their own sessions)
    assert sandbox.calls("sts.AssumeRole") == {platform.access_key_id: 3}  # the first session, inline
    assert key.session_token_expires_at <= timezone.now() + timedelta(hours=1, minutes=1)

    # The refresh task: once while due, not again while fresh.
    expire_session(key, in_=timedelta(minutes=10))
    assert tasks.refresh_session.apply(args=(key.pk,)).result == "refreshed"
    assert tasks.refresh_session.apply(args=(key.pk,)).result == "skipped"
    assert sandbox.calls("sts.AssumeRole") == {platform.access_key_id: 4}
    assert ProviderKey.objects.get(pk=key.pk).get_session()["access_key_id"] != session["access_key_id"]

    # Rotate to another role (tested first); the old session is gone.
    _, new_arn = role_account(sandbox, owner, account_id="210987650000", role="service/byok-bedrock-2")
    provider_key_rotate(key=key, credentials={"role_arn": new_arn}, actor=owner)
    key.refresh_from_db()
    assert key.key_hint == "…0000:role/byok-bedrock-2" and key.session_secret is None
    assert key.get_credentials().to_json() == {"role_arn": new_arn}
    assert ProviderKey.objects.get(pk=key.pk).last_test_status == "ok"

    # Revert: the key is gone; the external ID stays the owner's.
    external_id = owner_external_id(owner)
    assert byok_revert_to_platform(owner=owner, actor=owner, confirm=True) == 1
    assert not ProviderKey.objects.exists() and owner_external_id(owner) == external_id


def test_assume_role_sends_the_external_id_and_a_session_name_naming_the_owner(sandbox, platform):
    owner = BusinessUserFactory(username="olivia.o'brien+ops/eu")
    _, arn = role_account(sandbox, owner)
    key = role_key(owner, arn, skip_test=True)
    assert sessions.session_refresh(key_id=key.pk).status == "refreshed"
    session = ProviderKey.objects.get(pk=key.pk).get_session()
    from byok.providers.bedrock.aws import sts_client

    identity = sts_client(session, region="us-east-1", timeout=5).get_caller_identity()
    assert identity["Arn"] == "arn:aws:sts::210987654321:assumed-role/byok-bedrock/byok-olivia.o-brien+ops-eu"
    assert role_session_name("x" * 100) == "byok-" + "x" * 59


def test_one_external_id_per_owner_generated_once():
    owner, other = BusinessUserFactory(), BusinessUserFactory()
    first = owner_external_id(owner)
    assert first.startswith("byok-") and len(first) == 29 and first[5:].isalnum()
    assert owner_external_id(owner) == first and owner_external_id(other) != first
    assert RoleExternalId.objects.count() == 2


@pytest.mark.parametrize("situation", ["wrong_external_id", "untrusted_account", "role_deleted"])
def test_a_role_byok_cannot_assume_fails_the_key_with_a_hint(situation, sandbox, platform, settings,
                                                             django_capture_on_commit_callbacks, ship_audit):
    owner, workspace, member = team()
    account, arn = role_account(sandbox, owner)
    key = role_key(owner, arn, skip_test=True)
    role = account.roles[0]
    changed = {"wrong_external_id": (dataclasses.replace(role, external_id="byok-someoneelse000000000000"),),
               "untrusted_account": (dataclasses.replace(role, trusted_account="123412341234"),),
               "role_deleted": ()}[situation]
    sandbox.server.add_accounts([dataclasses.replace(account, roles=changed)])  # same account, its role changed
    with django_capture_on_commit_callbacks(execute=True):
        outcome = tasks.refresh_session.apply(args=(key.pk,))
    assert outcome.result == "failed"
    key.refresh_from_db()
    assert key.status == "failing" and key.failure_reason == "permission_denied"
    event = AuditEvent.objects.get(action=AuditAction.SESSION_REFRESH_FAILED)
    assert "trust policy" in event.details["hint"] and "external ID" in event.details["hint"]
    assert event.details["provider_code"] == "AccessDenied"
    ship_audit()
    assert len(mail.outbox) == 1 and "trust policy" in mail.outbox[0].body
    # A member's call falls back to platform credentials meanwhile.
    from byok import llm

    assert llm.complete(user=member, workspace=workspace, messages=MESSAGES).source == "platform"


def test_a_test_of_a_role_that_does_not_trust_byok_says_so_and_nothing_is_stored(sandbox, platform, client_for):
    owner = BusinessUserFactory()
    _, arn = role_account(sandbox, owner, external_id="byok-notyours0000000000000000")
    response = client_for(owner).post("/api/v1/provider-keys/", {
        "provider": "bedrock_role", "name": "r", "credentials": {"role_arn": arn}}, format="json")
    assert response.status_code == 400, response.content
    body = response.content.decode()
    assert "sts:AssumeRole" in body and "external ID" in body
    assert not ProviderKey.objects.exists()


def test_no_such_entity_and_platform_credential_errors_are_told_apart():
    from botocore.exceptions import ClientError

    from byok.providers.bedrock.aws import classify_assume_role

    def error(code):
        return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                           "AssumeRole")

    assert classify_assume_role(error("NoSuchEntity")).category == "invalid_credentials"
    assert "deleted" in classify_assume_role(error("NoSuchEntity")).hint
    assert classify_assume_role(error("AccessDenied")).category == "permission_denied"
    platform = classify_assume_role(error("InvalidClientTokenId"))
    assert platform.category == "provider_unavailable" and "byok's side" in platform.hint  # retried, key untouched


def test_without_platform_aws_credentials_a_role_is_never_blamed(sandbox, settings):
    settings.BYOK_PLATFORM_ENV = {}
    owner = BusinessUserFactory()
    key = role_key(owner, "arn:aws:iam::210987654321:role/byok-bedrock", skip_test=True)
    with pytest.raises(sessions.SessionRefreshRetryable):
        sessions.session_refresh(key_id=key.pk)
    assert ProviderKey.objects.get(pk=key.pk).failing_since is None


def test_the_trust_and_permission_policies(settings):
    provider = PROVIDERS["bedrock_role"]
    trust = provider.trust_policy(platform_account_id=PLATFORM_ACCOUNT, external_id="byok-abc")
    statement = trust["Statement"][0]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{PLATFORM_ACCOUNT}:root"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": "byok-abc"}}
    actions = [a for s in provider.access_policy("eu")["Statement"] for a in s["Action"]]
    assert actions == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream",
                       "bedrock:CountTokens"]  # no sts:GetSessionToken
