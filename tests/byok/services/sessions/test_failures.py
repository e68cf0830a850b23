"""STS trouble that passes is retried (bounded); credentials AWS rejects are not: failing, audited and emailed once."""

import dataclasses

import pytest
from django.core import mail

from audit.models import AuditAction, AuditEvent
from byok import llm, tasks
from byok.models import ProviderKey
from byok.providers.bedrock import aws as bedrock_aws
from byok.services import sessions
from byok.simulator.accounts import new_account
from tests.byok.routing_helpers import MESSAGES, key_for, use_platform_account

pytestmark = pytest.mark.django_db(transaction=True)  # LLM calls run on the data plane's loop, in other threads


def sts_calls(sandbox, account) -> int:
    return sandbox.calls("sts.GetSessionToken").get(account.access_key_id, 0)


def revoke(sandbox, account) -> None:
    """The account gets new credentials under the same name: the stored access key id is now unknown to AWS."""
    sandbox.server.add_accounts([new_account("bedrock", name=account.name)])


def test_throttled_then_ok_is_retried_by_the_task(sandbox, akia, monkeypatch):
    key, account = akia
    sandbox.server.add_accounts([dataclasses.replace(account, behaviour="throttled")])
    real_sts_client, attempts = bedrock_aws.sts_client, []

    def sts_recovering_on_the_second_attempt(values, **options):
        attempts.append(1)
        if len(attempts) == 2:
            sandbox.server.add_accounts([account])  # behaviour "ok" again
        return real_sts_client(values, **options)

    monkeypatch.setattr(bedrock_aws, "sts_client", sts_recovering_on_the_second_attempt)
    result = tasks.refresh_session.apply(args=(key.pk,))  # eager: the retry runs at once, without the countdown
    assert result.successful() and result.result == "refreshed"
    assert sts_calls(sandbox, account) == 2
    assert ProviderKey.objects.get(pk=key.pk).get_session()["access_key_id"].startswith("ASIA")


def test_throttling_retries_are_bounded_and_leave_the_key_untouched(sandbox, akia):
    key, account = akia
    sandbox.server.add_accounts([dataclasses.replace(account, behaviour="throttled")])
    result = tasks.refresh_session.apply(args=(key.pk,))
    assert result.failed() and isinstance(result.result, sessions.SessionRefreshRetryable)
    assert sts_calls(sandbox, account) == tasks.refresh_session.max_retries + 1
    key.refresh_from_db()
    assert (key.session_secret, key.failing_since) == (None, None)
    assert not AuditEvent.objects.filter(action__startswith="SESSION_").exists()


def test_revoked_credentials_are_not_retried_and_fail_the_key_with_one_email(sandbox, akia, owner_team,
                                                                             django_capture_on_commit_callbacks,
                                                                             ship_audit):
    key, account = akia
    owner = owner_team[0]
    revoke(sandbox, account)
    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.refresh_session.apply(args=(key.pk,))
    assert result.successful() and result.result == "failed"
    assert sts_calls(sandbox, account) == 1  # no retry
    key.refresh_from_db()
    assert key.status == ProviderKey.Status.FAILING and key.failure_reason == "invalid_credentials"
    assert sessions.session_refresh(key_id=key.pk).reason == "cooling_down"  # the next cycle leaves it alone
    with django_capture_on_commit_callbacks(execute=True):
        assert sessions.session_refresh(key_id=key.pk, force=True).status == "failed"  # same incident
    assert sts_calls(sandbox, account) == 2
    events = AuditEvent.objects.filter(action=AuditAction.SESSION_REFRESH_FAILED)
    assert [(e.target_key_id, e.details["category"]) for e in events] == [(key.pk, "invalid_credentials")]
    ship_audit()
    ship_audit()
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [owner.email] and key.key_hint in email.subject
    assert account.secret_access_key not in email.body and account.access_key_id not in email.body


def test_missing_sts_permission_fails_the_key_with_the_policy_hint(sandbox, owner_team,
                                                                   django_capture_on_commit_callbacks, ship_audit):
    account = sandbox.add_account("bedrock", sts_get_session_token=False)
    key = key_for(owner_team[0], account)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = sessions.session_refresh(key_id=key.pk)
    assert (outcome.status, outcome.reason) == ("failed", "permission_denied")
    ship_audit()
    assert "sts:GetSessionToken" in outcome.failure.hint and "sts:GetSessionToken" in mail.outbox[0].body


def test_a_call_whose_inline_refresh_is_rejected_falls_back_to_platform(sandbox, akia, owner_team, settings,
                                                                        django_capture_on_commit_callbacks,
                                                                        ship_audit):
    key, account = akia
    _, workspace, member = owner_team
    platform = use_platform_account(settings, sandbox)
    revoke(sandbox, account)
    with django_capture_on_commit_callbacks(execute=True):
        result = llm.complete(user=member, workspace=workspace, messages=MESSAGES)
    assert (result.source, result.fallback_reason) == ("platform", "invalid_credentials")
    assert sandbox.calls("bedrock.Converse") == {platform.access_key_id: 1}
    assert ProviderKey.objects.get(pk=key.pk).status == ProviderKey.Status.FAILING
    assert AuditEvent.objects.filter(action=AuditAction.SESSION_REFRESH_FAILED).count() == 1
    llm.complete(user=member, workspace=workspace, messages=MESSAGES)  # breaker open: STS is not asked again
    ship_audit()
    assert sts_calls(sandbox, account) == 1 and len(mail.outbox) == 1


def test_a_throttled_inline_refresh_falls_back_without_failing_the_key(sandbox, akia, owner_team, settings):
    key, account = akia
    _, workspace, member = owner_team
    use_platform_account(settings, sandbox)
    sandbox.server.add_accounts([dataclasses.replace(account, behaviour="throttled")])
    result = llm.complete(user=member, workspace=workspace, messages=MESSAGES)
    assert (result.source, result.fallback_reason) == ("platform", "rate_limited")
    assert ProviderKey.objects.get(pk=key.pk).failing_since is None
