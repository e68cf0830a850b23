"""Every service records its event, in its own transaction, without a secret."""

import pytest
from django.db import transaction

from accounts.services import (
    membership_add,
    membership_remove,
    membership_role_change,
    user_plan_change,
    workspace_ownership_transfer,
)
from audit.models import AuditEvent
from byok.models import ProviderKey
from byok.services import keys as key_services
from tests.byok.keys_data import ANTHROPIC, BEDROCK_AKIA, BEDROCK_ASIA
from tests.factories import BusinessUserFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def trail(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("id"))


def test_whole_key_lifecycle_is_recorded_in_order_with_actor_and_hint(owner):
    key = key_services.provider_key_create(owner=owner, provider="bedrock", name="Production",
                                           credentials=BEDROCK_AKIA, skip_test=True)
    key = key_services.provider_key_update(key=key, actor=owner, name="Renamed", skip_test=True,
                                           credentials={"secret_access_key": "N" * 40})
    key = key_services.provider_key_rotate(key=key, actor=owner, credentials=BEDROCK_ASIA, skip_test=True)
    key = key_services.provider_key_disable(key=key, actor=owner)
    key = key_services.provider_key_enable(key=key, actor=owner)
    first_key_id = key.pk
    key_services.provider_key_delete(key=key, actor=owner)
    second = key_services.provider_key_create(owner=owner, provider="anthropic", name="Claude",
                                              credentials=ANTHROPIC, skip_test=True)
    assert key_services.byok_revert_to_platform(owner=owner, actor=owner, confirm=True) == 1

    events = trail(owner=owner)
    assert [e.action for e in events] == [
        "KEY_CREATED", "KEY_UPDATED", "KEY_ROTATED", "KEY_DISABLED", "KEY_ENABLED", "KEY_DELETED",
        "KEY_CREATED", "BYOK_REVERTED",
    ]
    assert {e.actor_id for e in events} == {owner.pk} and {e.actor_label for e in events} == {owner.username}
    assert [e.target_key_id for e in events] == [first_key_id] * 6 + [second.pk, None]
    assert [e.target_hint for e in events[:6]] == ["AKIA…7XQ2"] * 2 + ["ASIA…7XQ3"] * 4
    assert events[1].details == {"name": {"from": "Production", "to": "Renamed"}, "credentials": "credentials changed"}
    assert events[2].details["credentials"] == "credentials changed"
    assert events[2].details["hint"] == {"from": "AKIA…7XQ2", "to": "ASIA…7XQ3"}
    assert events[7].details["deleted_keys"] == [{"id": second.pk, "hint": second.key_hint, "provider": "anthropic"}]
    assert not ProviderKey.objects.filter(owner=owner).exists()


def test_plan_membership_and_ownership_changes_are_recorded():
    staff = UserFactory(username="staffer", is_staff=True)
    owner = BusinessUserFactory(username="olivia")
    workspace = WorkspaceFactory(owner=owner, slug="acme")
    ada = UserFactory(username="ada")

    user_plan_change(user=owner, plan_code="enterprise", actor=staff)
    membership_add(workspace=workspace, user=ada, role="member", actor=owner)
    membership_role_change(workspace=workspace, user=ada, role="admin", actor=owner)
    workspace = workspace_ownership_transfer(workspace=workspace, new_owner=ada, actor=owner)
    membership_remove(workspace=workspace, user=owner, actor=ada)

    events = trail()
    assert [(e.action, e.actor_label) for e in events] == [
        ("MEMBER_ADDED", "olivia"),  # the workspace's creation, owner as owner member
        ("PLAN_CHANGED", "staffer"),
        ("MEMBER_ADDED", "olivia"),
        ("MEMBER_ROLE_CHANGED", "olivia"),
        ("OWNERSHIP_TRANSFERRED", "olivia"),
        ("MEMBER_REMOVED", "ada"),
    ]
    plan, added, role, transfer, removed = events[1:]
    assert (plan.owner_id, plan.workspace_id, plan.details["plan"]) == (owner.pk, None,
                                                                       {"from": "business", "to": "enterprise"})
    assert {added.workspace_id, role.workspace_id, transfer.workspace_id, removed.workspace_id} == {workspace.pk}
    assert role.details == {"user": "ada", "role": {"from": "member", "to": "admin"}}
    assert (transfer.owner_id, transfer.details) == (ada.pk, {"from": "olivia", "to": "ada"})
    assert removed.details == {"user": "olivia", "role": "admin"}


def test_event_carries_the_request_id_ip_and_user_agent_of_the_request(client_for, owner):
    response = client_for(owner).post(
        "/api/v1/provider-keys/",
        {"provider": "anthropic", "name": "Claude", "credentials": ANTHROPIC, "skip_test": True}, format="json",
        HTTP_USER_AGENT="byok-cli/1.2", HTTP_X_REQUEST_ID="req-audit-0001", REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 201, response.json()
    event = AuditEvent.objects.get(action="KEY_CREATED")
    assert (event.request_id, event.actor_ip, event.actor_user_agent) == ("req-audit-0001", "203.0.113.7",
                                                                          "byok-cli/1.2")
    assert response.headers["X-Request-ID"] == event.request_id


def test_a_change_that_fails_after_its_event_was_created_leaves_neither(bedrock_key, owner,
                                                                        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        with pytest.raises(RuntimeError), transaction.atomic():
            key_services.provider_key_disable(key=bedrock_key, actor=owner)
            assert AuditEvent.objects.filter(action="KEY_DISABLED").exists()
            raise RuntimeError("a later step of the same change fails")
    assert not AuditEvent.objects.filter(action="KEY_DISABLED").exists()
    assert ProviderKey.objects.get(pk=bedrock_key.pk).enabled
    assert queued == []  # nothing is handed to Celery for an event that never committed


def test_commit_queues_the_event_id_and_nothing_else(owner, monkeypatch, django_capture_on_commit_callbacks):
    from audit import tasks

    sent = []
    monkeypatch.setattr(tasks.audit_event_process, "apply_async", lambda **kwargs: sent.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        user_plan_change(user=owner, plan_code="enterprise", actor=owner)
    event = AuditEvent.objects.get(action="PLAN_CHANGED")
    assert [call["args"] for call in sent] == [(event.pk,)]
    assert set(sent[0]) == {"args", "retry", "retry_policy"}
