"""Events cannot be changed or deleted: not through the ORM, the admin, the API, nor (on PostgreSQL) raw SQL."""

import pytest
from django.contrib.admin.sites import site
from django.db import DatabaseError, connection, transaction

from accounts.services import user_plan_change
from audit.models import AppendOnlyViolation, AuditEvent
from audit.services.chain import audit_chain_extend
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(owner):
    user_plan_change(user=owner, plan_code="enterprise", actor=owner)
    return AuditEvent.objects.get(owner=owner)


def test_orm_cannot_change_or_delete_an_event(event):
    event.details = {"plan": "forged"}
    with pytest.raises(AppendOnlyViolation):
        event.save()
    with pytest.raises(AppendOnlyViolation):
        event.delete()
    with pytest.raises(AppendOnlyViolation):
        AuditEvent.objects.filter(pk=event.pk).update(actor_label="mallory")
    with pytest.raises(AppendOnlyViolation):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyViolation):
        AuditEvent.objects.bulk_update([event], ["details"])
    assert AuditEvent.objects.get(pk=event.pk).details["plan"] == {"from": "business", "to": "enterprise"}


def test_the_chain_columns_are_written_once(event):
    audit_chain_extend(owner_id=event.owner_id)
    with pytest.raises(AppendOnlyViolation):
        AuditEvent.objects.link_into_chain(event_id=event.pk, chain_sequence=9, previous_hash="0" * 64,
                                           content_hash="f" * 64, chain_hash="f" * 64)
    assert AuditEvent.objects.get(pk=event.pk).chain_sequence == 1


@pytest.mark.parametrize("statement", [
    "UPDATE byok_auditevent SET details = '{}' WHERE id = %s",
    "UPDATE byok_auditevent SET actor_label = 'mallory' WHERE id = %s",
    "DELETE FROM byok_auditevent WHERE id = %s",
])
def test_postgresql_trigger_rejects_raw_changes_to_content_and_deletes(postgres, event, statement):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk, actor_label=event.actor_label).exists()


def test_postgresql_trigger_rejects_rewriting_a_chained_link(postgres, event):
    audit_chain_extend(owner_id=event.owner_id)
    with pytest.raises(DatabaseError, match="already chained"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE byok_auditevent SET chain_hash = %s WHERE id = %s", ["f" * 64, event.pk])


def test_admin_is_read_only(admin_client, admin_user, event, rf):
    model_admin = site._registry[AuditEvent]
    request = rf.get("/")
    request.user = admin_user
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)

    assert admin_client.get(f"/admin/audit/auditevent/{event.pk}/change/").status_code == 200  # view only
    assert admin_client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"actor_label": "x"}).status_code == 403
    assert admin_client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/admin/audit/auditevent/add/").status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).actor_label == event.actor_label


def test_admin_list_filters_searches_and_has_no_query_per_row(admin_client, owner,
                                                               django_assert_max_num_queries):
    user_plan_change(user=owner, plan_code="enterprise", actor=owner)
    with django_assert_max_num_queries(12) as few:
        assert admin_client.get("/admin/audit/auditevent/").status_code == 200
    for plan in ["pro", "free", "business", "enterprise"] * 5:
        user_plan_change(user=owner, plan_code=plan, actor=owner)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert admin_client.get("/admin/audit/auditevent/").status_code == 200
    response = admin_client.get("/admin/audit/auditevent/", {"q": owner.username, "action__exact": "PLAN_CHANGED"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 21


def test_api_offers_no_way_to_write(client_for, owner, event):
    workspace = WorkspaceFactory(owner=owner)
    url = f"/api/v1/workspaces/{workspace.slug}/audit-events/"
    client = client_for(owner)
    for method in (client.post, client.put, client.patch, client.delete):
        assert method(url, {}, format="json").status_code == 405
