"""The owner console at /manage/: who gets in, what they see, and that every button goes through the services."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import strip_tags

from accounts.models import Membership, Plan
from audit.models import AuditAction, AuditEvent
from byok.crypto import keyring
from byok.models import Model, ProviderKey, UsageRecord
from byok.providers.base import hint
from byok.providers.bedrock.profiles import SONNET_4_5
from byok.services.keys import provider_key_create
from tests.byok.catalog.test_catalog import edit
from tests.byok.console.conftest import signed_in
from tests.factories import BusinessUserFactory, UserFactory, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db

KEYS = "/manage/byok/providerkey/"


def bedrock_key(owner, account, **fields) -> ProviderKey:
    return provider_key_create(owner=owner, provider="bedrock", name=fields.pop("name", "Production"),
                               credentials={"access_key_id": account.access_key_id,
                                            "secret_access_key": account.secret_access_key},
                               skip_test=True, **fields)


def bedrock_form(account, **extra) -> dict:
    return {"name": "Production", "inference_profile": "global", "access_key_id": account.access_key_id,
            "secret_access_key": account.secret_access_key, "fallback_mode": "platform", "scope": "all_workspaces",
            "regional-TOTAL_FORMS": "1", "regional-INITIAL_FORMS": "0", **extra}


# --- who gets in --------------------------------------------------------------------------------------------


def test_owner_without_staff_flag_opens_the_console(owner, workspace):
    response = signed_in(owner).get("/manage/")
    assert response.status_code == 200
    assert "Bring your own key" in response.content.decode()


def test_member_is_sent_to_the_login_page_and_sees_no_keys(owner, workspace, sim):
    bedrock_key(owner, sim.account("demo-bedrock"))
    member = add_member(workspace)
    client = signed_in(member)
    for url in ("/manage/", KEYS, "/manage/usage/", "/manage/audit/auditevent/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/manage/login/"), url


def test_member_cannot_sign_in(owner, workspace):
    add_member(workspace, UserFactory(username="mark"))
    response = Client().post("/manage/login/", {"username": "mark", "password": "byok-demo-2026"})
    assert response.status_code == 200
    assert "This console is for workspace owners and admins" in response.content.decode()


def test_staff_flag_without_a_workspace_does_not_open_the_console():
    staff = UserFactory(is_staff=True)
    assert signed_in(staff).get("/manage/").status_code == 302


def test_another_owners_key_answers_404_on_every_key_url(owner, workspace, sim):
    other = BusinessUserFactory()
    WorkspaceFactory(owner=other)
    key = bedrock_key(other, sim.account("demo-bedrock"))
    client = signed_in(owner)
    for suffix in ("change/", "rotate/", "delete/", "history/"):
        assert client.get(f"{KEYS}{key.pk}/{suffix}").status_code == 404, suffix
    for suffix in ("test/", "enable/", "disable/", "change/"):
        assert client.post(f"{KEYS}{key.pk}/{suffix}").status_code == 404, suffix
    assert ProviderKey.objects.get(pk=key.pk).enabled


def test_the_list_shows_only_the_owners_keys(owner, workspace, sim):
    bedrock_key(owner, sim.account("demo-bedrock"), name="Mine")
    other = BusinessUserFactory()
    bedrock_key(other, sim.account("demo-bedrock-no-opus"), name="Theirs")
    html = signed_in(owner).get(KEYS).content.decode()
    assert "Mine" in html and "Theirs" not in html


def test_autocomplete_offers_no_lookups(owner, workspace):
    response = signed_in(owner).get("/manage/autocomplete/", {"app_label": "byok", "model_name": "providerkey",
                                                              "field_name": "owner", "term": "a"})
    assert response.status_code == 403


def test_workspace_admin_sees_the_owners_key_read_only(owner, workspace, sim):
    key = bedrock_key(owner, sim.account("demo-bedrock"))
    admin_user = add_member(workspace, role=Membership.Role.ADMIN)
    client = signed_in(admin_user)
    html = client.get(f"{KEYS}{key.pk}/change/").content.decode()
    assert key.key_hint in html and "only they can change it" in html and "Test connection" not in html
    assert client.post(f"{KEYS}{key.pk}/disable/").status_code == 403
    assert client.post(f"{KEYS}{key.pk}/change/", {"name": "Hijacked"}).status_code == 403
    assert ProviderKey.objects.get(pk=key.pk).enabled


def test_workspace_admin_does_not_see_keys_scoped_to_other_workspaces(owner, workspace, sim):
    private = WorkspaceFactory(owner=owner)
    bedrock_key(owner, sim.account("demo-bedrock"), name="Private", scope="selected", workspaces=[private])
    admin_user = add_member(workspace, role=Membership.Role.ADMIN)
    assert "Private" not in signed_in(admin_user).get(KEYS).content.decode()


# --- adding a key --------------------------------------------------------------------------------------------


def test_add_asks_for_the_provider_first(owner, workspace):
    html = signed_in(owner).get(f"{KEYS}add/").content.decode()
    assert "?provider=bedrock" in html and "?provider=anthropic" in html and 'name="api_key"' not in html


def test_add_shows_only_the_chosen_providers_fields_with_secrets_as_password_inputs(owner, workspace):
    html = signed_in(owner).get(f"{KEYS}add/?provider=anthropic").content.decode()
    assert 'type="password" name="api_key"' in html
    assert "access_key_id" not in html and "inference_profile" not in html


def test_bedrock_add_offers_profiles_with_their_purpose_and_the_iam_policy(owner, workspace):
    html = signed_in(owner).get(f"{KEYS}add/?provider=bedrock").content.decode()
    assert "EU — Data stays in the European Union." in html
    assert "inference-profile/eu.anthropic.claude-opus-4-5" in html and "sts:GetSessionToken" in html
    assert "Copy policy" in html and "Model access" in html and 'name="regional-0-regions"' in html


def test_role_add_shows_the_external_id_the_trust_policy_and_the_permission_policy(owner, workspace, settings):
    from byok.services.roles import owner_external_id

    settings.BYOK_PLATFORM_AWS_ACCOUNT_ID = "999900001111"
    html = signed_in(owner).get(f"{KEYS}add/?provider=bedrock_role").content.decode()
    external_id = owner_external_id(owner)
    assert 'name="role_arn"' in html and "secret_access_key" not in html
    assert html.count(external_id) == 2  # shown, and inside the trust policy; no input to change it
    assert "arn:aws:iam::999900001111:root" in html and "&quot;sts:ExternalId&quot;" in html
    assert "Copy external ID" in html and "Copy trust policy" in html and "Copy permission policy" in html
    assert "sts:GetSessionToken" not in html
    assert signed_in(owner).get(f"{KEYS}add/?provider=bedrock_role").content.decode().count(external_id) == 2


def test_role_page_derives_the_platform_account_from_the_platform_credentials(owner, workspace, sandbox, settings):
    from tests.byok.routing_helpers import use_platform_account

    use_platform_account(settings, sandbox, account_id="999900002222")
    settings.BYOK_PLATFORM_AWS_ACCOUNT_ID = ""
    html = signed_in(owner).get(f"{KEYS}add/?provider=bedrock_role").content.decode()
    assert "arn:aws:iam::999900002222:root" in html


def test_test_and_save_stores_a_working_key(owner, workspace, sandbox):
    response = signed_in(owner).post(f"{KEYS}add/?provider=bedrock", bedrock_form(sandbox.account("demo-bedrock")))
    key = ProviderKey.objects.get(owner=owner)
    assert response.status_code == 302 and response.url == f"{KEYS}{key.pk}/change/"
    assert key.get_credentials()["secret_access_key"] == sandbox.account("demo-bedrock").secret_access_key


def test_test_and_save_with_a_failing_model_shows_each_check_and_stores_nothing(owner, workspace, sandbox):
    response = signed_in(owner).post(f"{KEYS}add/?provider=bedrock",
                                     bedrock_form(sandbox.account("demo-bedrock-no-opus")))
    html = response.content.decode()
    assert response.status_code == 200 and not ProviderKey.objects.exists()
    assert "model_access" in html and "Model access, submit the Anthropic use-case form" in html
    assert html.count('class="byok-check ok"') == 3 and html.count('class="byok-check failed"') == 1


def test_a_malformed_secret_is_reported_on_its_field_and_not_echoed(owner, workspace, sandbox):
    bad = "x" * 39
    response = signed_in(owner).post(f"{KEYS}add/?provider=bedrock",
                                     bedrock_form(sandbox.account("demo-bedrock"), secret_access_key=bad))
    html = response.content.decode()
    assert 'field-secret_access_key' in html and "exactly 40 characters" in html and bad not in html
    assert not ProviderKey.objects.exists()


def test_a_second_owner_wide_key_joins_the_pool_with_the_order_and_weight_the_owner_gives(owner, workspace, sandbox):
    bedrock_key(owner, sandbox.account("demo-bedrock"), name="First")
    response = signed_in(owner).post(f"{KEYS}add/?provider=bedrock", bedrock_form(
        sandbox.add_account("bedrock"), name="Second", priority="0", weight="3"))
    assert response.status_code == 302
    assert list(ProviderKey.objects.order_by("name").values_list("name", "priority", "weight")) == [
        ("First", 0, 1), ("Second", 0, 3)]
    page = signed_in(owner).get(f"{KEYS}{ProviderKey.objects.get(name='Second').pk}/change/").content.decode()
    assert "Priority 0, weight 3" in page


def test_test_and_save_is_throttled_with_a_message(owner, workspace, sandbox, settings):
    settings.BYOK_CONNECTION_TEST_RATE = "0/min"
    html = signed_in(owner).post(f"{KEYS}add/?provider=bedrock",
                                 bedrock_form(sandbox.account("demo-bedrock"))).content.decode()
    assert "Too many connection tests" in html and not ProviderKey.objects.exists()


def test_free_plan_owner_sees_which_plan_is_needed_and_no_add_button():
    frank = UserFactory(username="frank")
    WorkspaceFactory(owner=frank)
    client = signed_in(frank)
    html = client.get(KEYS).content.decode()
    assert "does not include bring-your-own-key" in html and "Business or Enterprise" in html
    assert f'href="{KEYS}add/"' not in html
    refused = client.get(f"{KEYS}add/?provider=bedrock")
    assert refused.status_code == 403 and "Business or Enterprise" in refused.content.decode()
    assert 'name="secret_access_key"' not in refused.content.decode()


# --- changing a key ----------------------------------------------------------------------------------------


def test_edit_with_blank_secret_keeps_the_stored_secret_and_says_so(owner, workspace, sim):
    account = sim.account("demo-bedrock")
    key = bedrock_key(owner, account)
    client = signed_in(owner)
    assert "Leave blank to keep the stored value." in client.get(f"{KEYS}{key.pk}/change/").content.decode()
    response = client.post(f"{KEYS}{key.pk}/change/", {
        "name": "Renamed", "inference_profile": "global", "fallback_mode": "none", "scope": "all_workspaces",
        "regional-TOTAL_FORMS": "1", "regional-INITIAL_FORMS": "0"})
    key.refresh_from_db()
    assert response.status_code == 302 and key.name == "Renamed" and key.fallback_mode == "none"
    assert key.get_credentials()["secret_access_key"] == account.secret_access_key


def test_workspace_choices_are_only_the_owners_workspaces(owner, workspace, sim):
    key = bedrock_key(owner, sim.account("demo-bedrock"))
    WorkspaceFactory(name="Someone Else's")
    html = signed_in(owner).get(f"{KEYS}{key.pk}/change/").content.decode()
    assert "Acme" in html and "Someone Else&#x27;s" not in html


def test_test_connection_runs_on_post_only_and_a_reload_goes_to_the_key_page(owner, workspace, sim):
    key = bedrock_key(owner, sim.account("demo-bedrock"))
    response = signed_in(owner).get(f"{KEYS}{key.pk}/test/")
    assert response.status_code == 302 and response.url.startswith(f"{KEYS}{key.pk}/change/")
    assert sim.server.stats()["total"] == 0


def test_test_connection_shows_each_check_the_account_and_keeps_the_result(owner, workspace, sandbox):
    key = bedrock_key(owner, sandbox.account("demo-bedrock"))
    response = signed_in(owner).post(f"{KEYS}{key.pk}/test/")
    assert response.status_code == 302 and "tested=1" in response.url  # post-redirect-get
    html = signed_in(owner).get(response.url).content.decode()
    assert html.count('class="byok-check ok"') == 4 and "111122223333" in html
    assert "Claude Sonnet 4.5 (standard tier)" in html and "Claude Opus 4.5 (complex tier)" in html
    key.refresh_from_db()
    assert key.last_test_status == "ok"


def test_test_connection_throttled_is_a_message(owner, workspace, sandbox, settings):
    key = bedrock_key(owner, sandbox.account("demo-bedrock"))
    settings.BYOK_CONNECTION_TEST_RATE = "0/min"
    response = signed_in(owner).post(f"{KEYS}{key.pk}/test/", follow=True)
    assert "Too many connection tests" in response.content.decode() and sandbox.server.stats()["total"] == 0


def test_rotate_tests_the_new_credentials_then_replaces_them(owner, workspace, sandbox):
    key = bedrock_key(owner, sandbox.account("demo-bedrock-no-sts"))
    new = sandbox.account("demo-bedrock")
    response = signed_in(owner).post(f"{KEYS}{key.pk}/rotate/", {
        "access_key_id": new.access_key_id, "secret_access_key": new.secret_access_key,
        "regional-TOTAL_FORMS": "1", "regional-INITIAL_FORMS": "0"})
    key.refresh_from_db()
    assert response.status_code == 302 and key.rotated_at is not None
    assert key.get_credentials()["access_key_id"] == new.access_key_id


def test_rotate_to_failing_credentials_keeps_the_old_ones(owner, workspace, sandbox):
    old = sandbox.account("demo-bedrock")
    key = bedrock_key(owner, old)
    new = sandbox.account("demo-bedrock-no-opus")
    html = signed_in(owner).post(f"{KEYS}{key.pk}/rotate/", {
        "access_key_id": new.access_key_id, "secret_access_key": new.secret_access_key,
        "regional-TOTAL_FORMS": "1", "regional-INITIAL_FORMS": "0"}).content.decode()
    key.refresh_from_db()
    assert "model_access" in html and key.get_credentials()["access_key_id"] == old.access_key_id


def test_disable_button_disables_the_key_through_the_service(owner, workspace, sim):
    key = bedrock_key(owner, sim.account("demo-bedrock"))
    signed_in(owner).post(f"{KEYS}{key.pk}/disable/")
    key.refresh_from_db()
    assert not key.enabled
    assert AuditEvent.objects.filter(action=AuditAction.KEY_DISABLED, target_key_id=key.pk).exists()


def test_refresh_session_now_stores_a_new_session_for_a_long_term_key(owner, workspace, sandbox):
    key = bedrock_key(owner, sandbox.account("demo-bedrock"))
    response = signed_in(owner).post(f"{KEYS}{key.pk}/refresh-session/", follow=True)
    key.refresh_from_db()
    assert "New session token, valid until" in response.content.decode()
    assert key.session_token_expires_at > timezone.now()


def test_refresh_session_is_not_offered_for_temporary_credentials(owner, workspace, sim):
    account = sim.account("demo-bedrock-expired")
    key = provider_key_create(owner=owner, provider="bedrock", name="Temp", skip_test=True, credentials={
        "access_key_id": account.access_key_id, "secret_access_key": account.secret_access_key,
        "session_token": account.session_token})
    client = signed_in(owner)
    assert "Refresh session now" not in client.get(f"{KEYS}{key.pk}/change/").content.decode()
    assert client.post(f"{KEYS}{key.pk}/refresh-session/").status_code == 403


def test_enable_action_in_the_list_enables_selected_keys(owner, workspace, sim):
    key = bedrock_key(owner, sim.account("demo-bedrock"))
    ProviderKey.objects.filter(pk=key.pk).update(enabled=False)
    signed_in(owner).post(KEYS, {"action": "enable_keys", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.enabled


def test_delete_goes_through_the_service(owner, workspace, sim):
    key = bedrock_key(owner, sim.account("demo-bedrock"))
    signed_in(owner).post(f"{KEYS}{key.pk}/delete/", {"post": "yes"})
    assert not ProviderKey.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.KEY_DELETED, target_key_id=key.pk).exists()


# --- badges and filters ------------------------------------------------------------------------------------


def test_badges_show_session_expiry_and_rotation_due(owner, workspace, sim, settings):
    settings.BYOK_ROTATION_REMINDER_DAYS = 30
    key = bedrock_key(owner, sim.account("demo-bedrock"))
    ProviderKey.objects.filter(pk=key.pk).update(created_at=timezone.now() - timedelta(days=31),
                                                 session_token_expires_at=timezone.now() + timedelta(hours=5, minutes=30))
    html = signed_in(owner).get(KEYS).content.decode()
    assert "byok-badge-active" in html and "session expires in 6 h" in html and "rotation due" in html


def test_plan_downgrade_shows_plan_inactive_badge(owner, workspace, sim):
    bedrock_key(owner, sim.account("demo-bedrock"))
    owner.plan_id = "free"
    owner.save()
    assert "Plan inactive" in signed_in(owner).get(KEYS).content.decode()


def test_status_filter_selects_disabled_keys(owner, workspace, sim):
    bedrock_key(owner, sim.account("demo-bedrock"), name="On")
    off = bedrock_key(owner, sim.account("demo-bedrock-no-opus"), name="Off", scope="selected", workspaces=[workspace])
    ProviderKey.objects.filter(pk=off.pk).update(enabled=False)
    html = signed_in(owner).get(KEYS, {"status": "disabled"}).content.decode()
    assert f"{KEYS}{off.pk}/change/" in html and ">On<" not in html


# --- revert --------------------------------------------------------------------------------------------------


def test_revert_needs_the_confirmation_box(owner, workspace, sim):
    bedrock_key(owner, sim.account("demo-bedrock"))
    html = signed_in(owner).post(f"{KEYS}revert/", {}).content.decode()
    assert "Tick the box to confirm" in html and ProviderKey.objects.count() == 1


def test_revert_with_confirmation_deletes_every_key(owner, workspace, sim):
    bedrock_key(owner, sim.account("demo-bedrock"))
    response = signed_in(owner).post(f"{KEYS}revert/", {"confirm": "on"})
    assert response.status_code == 302 and not ProviderKey.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.BYOK_REVERTED, owner=owner).exists()


def test_workspace_admin_cannot_revert_the_owners_keys(owner, workspace, sim):
    bedrock_key(owner, sim.account("demo-bedrock"))
    admin_user = add_member(workspace, role=Membership.Role.ADMIN)
    assert signed_in(admin_user).post(f"{KEYS}revert/", {"confirm": "on"}).status_code == 403
    assert ProviderKey.objects.count() == 1


# --- sandbox banner --------------------------------------------------------------------------------------------


def test_sandbox_banner_is_on_every_console_page_including_login(owner, workspace, sandbox):
    client = signed_in(owner)
    for url in ("/manage/", KEYS, f"{KEYS}add/", "/manage/accounts/workspace/", "/manage/usage/",
                "/manage/audit/auditevent/"):
        assert f"the simulator at <code>{sandbox.url.rstrip('/')}" in client.get(url).content.decode(), url
    assert "Sandbox mode" in Client().get("/manage/login/").content.decode()


def test_no_sandbox_banner_with_real_endpoints(owner, workspace, settings):
    settings.BYOK_ENDPOINTS = {}
    assert "Sandbox mode" not in signed_in(owner).get("/manage/").content.decode()


# --- workspaces and members -----------------------------------------------------------------------------------


def workspace_url(workspace, suffix=""):
    return f"/manage/accounts/workspace/{workspace.pk}/{suffix}"


def test_removing_the_owner_shows_the_ownership_rule(owner, workspace):
    admin_user = add_member(workspace, role=Membership.Role.ADMIN)
    response = signed_in(admin_user).post(workspace_url(workspace, f"members/{owner.pk}/remove/"), follow=True)
    assert "transfer ownership before removing them" in response.content.decode()
    assert Membership.objects.filter(workspace=workspace, user=owner).exists()


def test_owner_changes_a_members_role(owner, workspace):
    member = add_member(workspace)
    signed_in(owner).post(workspace_url(workspace, f"members/{member.pk}/role/"), {"role": "admin"})
    assert Membership.objects.get(workspace=workspace, user=member).role == "admin"


def test_owner_transfers_ownership_and_stays_admin(owner, workspace):
    member = add_member(workspace)
    signed_in(owner).post(workspace_url(workspace, f"members/{member.pk}/make-owner/"))
    workspace.refresh_from_db()
    assert workspace.owner == member
    assert Membership.objects.get(workspace=workspace, user=owner).role == "admin"


def test_another_owners_workspace_answers_404(owner, workspace):
    other = WorkspaceFactory()
    client = signed_in(owner)
    assert client.get(workspace_url(other, "change/")).status_code == 404
    assert client.post(workspace_url(other, "invitations/"), {"email": "x@example.com"}).status_code == 404


# --- usage and audit ------------------------------------------------------------------------------------------


def test_usage_shows_calls_by_source_and_model_and_credits_left(owner, workspace):
    common = {"workspace": workspace, "owner": owner, "provider": "bedrock", "task": "chat", "input_tokens": 100,
              "output_tokens": 20}
    UsageRecord.objects.create(source="byok", model="global.anthropic.claude-sonnet-4-5", **common)
    UsageRecord.objects.create(source="platform", model="global.anthropic.claude-opus-4-5", credits_charged=1,
                               **common)
    html = signed_in(owner).get("/manage/usage/").content.decode()
    assert "BYOK (your keys)" in html and "global.anthropic.claude-opus-4-5" in html
    assert f"<td>{owner.plan.monthly_platform_credits}</td>" in html


def test_audit_trail_lists_only_the_owners_events(owner, workspace, sim):
    key = bedrock_key(owner, sim.account("demo-bedrock"))
    other = BusinessUserFactory()
    WorkspaceFactory(owner=other, name="Elsewhere")
    bedrock_key(other, sim.account("demo-bedrock-no-opus"), name="Not yours")
    client = signed_in(owner)
    html = client.get("/manage/audit/auditevent/").content.decode()
    assert key.key_hint in html and "Elsewhere" not in html
    foreign = AuditEvent.objects.filter(owner=other).first()
    assert client.get(f"/manage/audit/auditevent/{foreign.pk}/change/").status_code == 404


def test_audit_trail_is_read_only(owner, workspace):
    event = AuditEvent.objects.filter(owner=owner).first()
    client = signed_in(owner)
    html = client.get(f"/manage/audit/auditevent/{event.pk}/change/").content.decode()
    assert 'name="_save"' not in html
    assert client.get("/manage/audit/auditevent/add/").status_code == 403


# --- queries ----------------------------------------------------------------------------------------------------


def many_keys(owner, workspace, count: int) -> None:
    secret = keyring().encrypt_json({"api_key": "sk-proj-" + "x" * 40})
    ProviderKey.objects.bulk_create(
        ProviderKey(owner=owner, provider="openai", family="openai", name=f"Key {i}", secret=secret,
                    key_hint="sk-pro…xxxx", credential_type="api_key", scope="selected")
        for i in range(count))
    through = ProviderKey.workspaces.through
    through.objects.bulk_create(through(providerkey_id=pk, workspace_id=workspace.pk)
                                for pk in ProviderKey.objects.filter(owner=owner).values_list("pk", flat=True))


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("url", [KEYS, f"{KEYS}?status=active&provider=openai"])
def test_key_list_makes_as_many_queries_for_1000_keys_as_for_10(owner, workspace, url):
    client = signed_in(owner)
    many_keys(owner, workspace, 10)
    few = queries_for(client, url)
    ProviderKey.objects.all().delete()
    many_keys(owner, workspace, 1000)
    assert queries_for(client, url) == few


def many_events(owner, workspace, count: int) -> None:
    AuditEvent.objects.bulk_create(
        AuditEvent(action=AuditAction.KEY_UPDATED, actor=owner, actor_label=owner.username, owner=owner,
                   workspace=workspace, target_hint="AKIA…TEST") for _ in range(count))


def test_audit_list_makes_as_many_queries_for_1000_events_as_for_10(owner, workspace):
    client = signed_in(owner)
    many_events(owner, workspace, 10)
    few = queries_for(client, "/manage/audit/auditevent/")
    many_events(owner, workspace, 990)
    assert queries_for(client, "/manage/audit/auditevent/") == few


# --- the add form: Test only, kept fields, error summary --------------------------------------------------


def test_test_button_on_the_add_page_tests_and_saves_nothing(owner, workspace, sandbox):
    account = sandbox.account("demo-bedrock-no-opus")
    form = bedrock_form(account, name="", _test="Test")  # the name is only needed to save
    html = signed_in(owner).post(f"{KEYS}add/?provider=bedrock", form).content.decode()
    assert not ProviderKey.objects.exists()
    assert "Test only: nothing was saved" in html and 'class="byok-check failed"' in html
    assert "Claude Opus 4.5 (complex tier)" in html and "model_access" in html
    assert account.secret_access_key not in html and account.access_key_id not in html
    assert AuditEvent.objects.filter(action=AuditAction.KEY_CREATED).count() == 0


def test_the_test_lists_the_models_the_key_can_use(owner, workspace, sandbox):
    account = sandbox.add_account("openai")
    html = signed_in(owner).post(f"{KEYS}add/?provider=openai", {
        "api_key": account.api_key, "name": "", "fallback_mode": "platform", "scope": "all_workspaces",
        "_test": "Test"}).content.decode()
    assert not ProviderKey.objects.exists()
    listed = re.search(r'id="test-models".*?</details>', html, re.S).group(0)
    assert all(f"<code>{model}</code>" in listed for model in account.models), listed
    assert account.api_key not in html


def test_test_button_is_throttled_like_every_test(owner, workspace, sandbox, settings):
    settings.BYOK_CONNECTION_TEST_RATE = "0/min"
    form = bedrock_form(sandbox.account("demo-bedrock"), _test="Test")
    html = signed_in(owner).post(f"{KEYS}add/?provider=bedrock", form).content.decode()
    assert "Too many connection tests" in html and sandbox.server.stats()["total"] == 0


def test_failed_submit_keeps_non_secret_fields_with_an_error_summary(owner, workspace, sandbox):
    account = sandbox.account("demo-bedrock-no-opus")
    form = bedrock_form(account, name="Kept name", fallback_mode="none", inference_profile="eu")
    html = signed_in(owner).post(f"{KEYS}add/?provider=bedrock", form).content.decode()
    assert not ProviderKey.objects.exists()
    assert 'value="Kept name"' in html
    assert re.search(r'<input[^>]*name="fallback_mode" value="none"[^>]*checked', html)
    assert re.search(r'<input[^>]*name="inference_profile" value="eu"[^>]*checked', html)
    assert 'id="error-summary"' in html
    assert account.access_key_id not in html and account.secret_access_key not in html


def test_error_summary_links_each_field_error(owner, workspace):
    html = signed_in(owner).post(f"{KEYS}add/?provider=bedrock", {
        "regional-TOTAL_FORMS": "1", "regional-INITIAL_FORMS": "0"}).content.decode()
    assert 'id="error-summary"' in html and 'href="#id_name"' in html


def test_add_page_title_uses_the_right_article(owner, workspace):
    client = signed_in(owner)
    assert "Add an AWS Bedrock" in client.get(f"{KEYS}add/?provider=bedrock").content.decode()
    assert "Add an OpenAI key" in client.get(f"{KEYS}add/?provider=openai").content.decode()
    assert "Add a Mistral AI key" in client.get(f"{KEYS}add/?provider=mistral").content.decode()


# --- roles and chrome -------------------------------------------------------------------------------------


def test_changelist_titles_are_plain(owner, workspace):
    html = signed_in(owner).get(KEYS).content.decode()
    assert "<h1>Provider keys</h1>" in html and "Select provider key to change" not in html


def test_audit_trail_has_no_database_column_names(owner, workspace, sim):
    key = bedrock_key(owner, sim.account("demo-bedrock"))
    client = signed_in(owner)
    event = AuditEvent.objects.filter(target_key_id=key.pk).first()
    for html in (client.get("/manage/audit/auditevent/").content.decode(),
                 client.get(f"/manage/audit/auditevent/{event.pk}/change/").content.decode()):
        assert "Actor label" not in html and "Chain sequence" not in html
        assert "UTC" in html


def test_console_403_and_404_are_console_pages(owner, workspace, sim):
    key = bedrock_key(owner, sim.account("demo-bedrock"))
    admin_user = add_member(workspace, role=Membership.Role.ADMIN)
    forbidden = signed_in(admin_user).post(f"{KEYS}{key.pk}/disable/")
    assert forbidden.status_code == 403 and 'id="console-error"' in forbidden.content.decode()
    missing = signed_in(owner).get(f"{KEYS}99999/change/")
    assert missing.status_code == 404 and "Back to the console home" in missing.content.decode()


def test_admin_reads_whose_workspaces_a_key_serves_and_no_owner_actions(owner, workspace, sim):
    bedrock_key(owner, sim.account("demo-bedrock"))
    admin_user = add_member(workspace, role=Membership.Role.ADMIN)
    html = signed_in(admin_user).get(KEYS).content.decode()
    assert "All my workspaces" not in html and "All of olivia&#x27;s workspaces" in html
    assert "Revert to platform keys" not in html and 'id="read-only-note"' in html
    assert "Add provider key" not in html


def test_free_owner_reads_an_upgrade_path_and_no_revert(sim):
    frank = UserFactory(username="frank")
    WorkspaceFactory(owner=frank)
    html = signed_in(frank).get(KEYS).content.decode()
    assert 'id="upgrade-path"' in html and "Revert to platform keys" not in html and "Add provider key" not in html


def test_sign_in_without_next_lands_on_the_console(owner, workspace, settings):
    owner.set_password("pw-123456789")
    owner.save()
    response = Client().post("/manage/login/", {"username": "olivia", "password": "pw-123456789"})
    assert response.status_code == 302 and response.url == "/manage/"


def test_delete_confirmation_says_what_serves_next(owner, workspace, sim, settings):
    settings.BYOK_PLATFORM_ENV = {}
    key = bedrock_key(owner, sim.account("demo-bedrock"))
    html = signed_in(owner).get(f"{KEYS}{key.pk}/delete/").content.decode()
    assert 'id="after-delete"' in html and "no platform credentials are configured for AWS Bedrock" in html


# --- model lifecycle ------------------------------------------------------------------------------------------


def test_the_key_list_and_the_keys_page_tell_of_a_model_their_traffic_uses_retiring(owner, workspace, sim):
    key = bedrock_key(owner, sim.account("demo-bedrock"))
    today = timezone.localdate()
    UsageRecord.objects.create(workspace=workspace, owner=owner, provider="bedrock", model="global." + SONNET_4_5,
                               source="byok", task="standard")
    UsageRecord.objects.create(workspace=workspace, owner=owner, provider="openai", model="gpt-5", source="platform",
                               task="complex")
    haiku = Model.objects.get(family="bedrock", model_id="anthropic.claude-haiku-4-5-20251001-v1:0")
    edit(Model.objects.get(family="bedrock", model_id=SONNET_4_5), status="available",
         retires_on=today + timedelta(days=9), replacement=haiku)
    edit(Model.objects.get(family="openai", model_id="gpt-5"), status="deprecated")
    sentence = (f"Claude Sonnet 4.5 (used by your traffic in Acme) retires on {today + timedelta(days=9):%Y-%m-%d}; "
                f"byok will move the standard tier to Claude Haiku 4.5 then.")

    listing = " ".join(strip_tags(signed_in(owner).get(KEYS).content.decode()).split())
    assert sentence in listing and "GPT-5 (used by your traffic in Acme) is deprecated" in listing
    page = signed_in(owner).get(f"{KEYS}{key.pk}/change/").content.decode()
    text = " ".join(strip_tags(page).split())
    assert sentence in text and "GPT-5" not in text  # the key's family only
    # Where the page lists the models to enable, the replacement is named too.
    assert ("Claude Sonnet 4.5 retires on " f"{today + timedelta(days=9):%Y-%m-%d}: byok moves the standard tier to "
            "Claude Haiku 4.5 (anthropic.claude-haiku-4-5-20251001-v1:0) then; enable it too.") in text


# --- what was typed survives a Test, a Parse or a refusal --------------------------------------------------------


def kept_token(html: str) -> str:
    return re.search(r'name="_kept" value="([^"]+)"', html).group(1)


def test_the_access_key_id_survives_a_test_sealed_and_masked(owner, workspace, sandbox):
    account = sandbox.account("demo-bedrock")
    client = signed_in(owner)
    html = client.post(f"{KEYS}add/?provider=bedrock", bedrock_form(account, _test="Test")).content.decode()
    assert "Access Key ID:" in html and hint(account.access_key_id) in html.split('id="kept-fields"')[1]
    assert account.access_key_id not in html and account.secret_access_key not in html
    retyped = {k: v for k, v in bedrock_form(account).items() if k != "access_key_id"}
    client.post(f"{KEYS}add/?provider=bedrock", {**retyped, "_kept": kept_token(html)})
    assert ProviderKey.objects.get().get_credentials()["access_key_id"] == account.access_key_id


def test_pasted_credentials_survive_parse_and_save_with_nothing_retyped(owner, workspace, sandbox):
    account = sandbox.account("demo-bedrock")
    pasted = (f"[default]\naws_access_key_id = {account.access_key_id}\n"
              f"aws_secret_access_key = {account.secret_access_key}\n")
    client = signed_in(owner)
    form = {k: v for k, v in bedrock_form(account).items() if k not in ("access_key_id", "secret_access_key")}
    html = client.post(f"{KEYS}add/?provider=bedrock", {**form, "pasted": pasted, "_parse": "Parse"}).content.decode()
    kept = html.split('id="kept-fields"')[1].split("</div>")[0]
    assert hint(account.access_key_id) in kept and "secret present" in kept
    assert account.secret_access_key not in html and account.access_key_id not in html
    client.post(f"{KEYS}add/?provider=bedrock", {**form, "_kept": kept_token(html)})
    assert ProviderKey.objects.get().key_hint == hint(account.access_key_id)


def test_kept_values_are_only_for_the_user_who_typed_them(owner, workspace, sandbox):
    account = sandbox.account("demo-bedrock")
    html = signed_in(owner).post(f"{KEYS}add/?provider=bedrock",
                                 bedrock_form(account, _test="Test")).content.decode()
    other = BusinessUserFactory(username="oscar")
    WorkspaceFactory(owner=other)
    retyped = {k: v for k, v in bedrock_form(account).items() if k != "access_key_id"}
    html = signed_in(other).post(f"{KEYS}add/?provider=bedrock",
                                 {**retyped, "_kept": kept_token(html)}).content.decode()
    assert not ProviderKey.objects.exists() and 'id="error-summary"' in html


def test_a_free_owner_sees_what_business_adds_and_requests_it_staff_are_told_and_it_is_audited(
        sim, django_capture_on_commit_callbacks):
    from django.core import mail

    frank = UserFactory(username="frank")
    WorkspaceFactory(owner=frank)
    UserFactory(username="staffer", email="staff@example.com", is_staff=True)
    html = signed_in(frank).get("/manage/").content.decode()
    upgrade = html.split('id="upgrade-path"')[1].split("</div>")[0]
    assert "Business adds" in upgrade and "bring your own provider keys" in upgrade
    assert 'value="Request Business"' in upgrade and "Price on request" in upgrade  # staff have set no price
    Plan.objects.filter(code="business").update(monthly_price=Decimal("1250"))
    upgrade = signed_in(frank).get("/manage/").content.decode().split('id="upgrade-path"')[1].split("</div>")[0]
    business = upgrade.split('value="Request Business"')[0].split('<form')[-1]
    assert "$1,250.00 a month" in business and "Price on request" not in business
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(frank).post("/manage/plan/upgrade/", {"plan": "business"}, follow=True)
    assert "Your request is sent" in response.content.decode()
    requested = AuditEvent.objects.get(action=AuditAction.PLAN_UPGRADE_REQUESTED)
    assert requested.details["plan"] == {"from": "free", "to": "business"} and requested.actor_label == "frank"
    assert mail.outbox[-1].to == ["staff@example.com"] and "set_plan frank business" in mail.outbox[-1].body
    again = signed_in(frank).post("/manage/plan/upgrade/", {"plan": "business"}, follow=True).content.decode()
    assert "already asked in the last 24 hours" in again
    assert AuditEvent.objects.filter(action=AuditAction.PLAN_UPGRADE_REQUESTED).count() == 1
    frank.refresh_from_db()
    assert frank.plan_id == "free"  # staff approve with set_plan or the admin
