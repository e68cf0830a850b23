"""The console's newer flows in a real browser: invitations (as olivia and ada), the usage range and its CSV, the
audit trail's sentences, a member turned away, the Free owner's upgrade path, a rotation replacing the last test,
and a fallback after a simulated provider failure seen on the home page."""

import dataclasses
import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import Invitation, Membership, User
from accounts.services import api_key_create
from byok.models import ProviderKey, UsageRecord
from byok.services.keys import provider_key_create
from byok_project.stack import sandbox_platform_env
from tests.byok.routing_helpers import MESSAGES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEYS = "/manage/byok/providerkey/"
ALL_MODELS = ["anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-opus-4-5-20251101-v1:0",
              "anthropic.claude-haiku-4-5-20251001-v1:0"]


def acme():
    return User.objects.get(username="olivia").owned_workspaces.get(slug="acme")


def olivias_key(account, name="EU key") -> ProviderKey:
    return provider_key_create(owner=User.objects.get(username="olivia"), provider="bedrock", name=name,
                               credentials={"access_key_id": account.access_key_id,
                                            "secret_access_key": account.secret_access_key})


def test_owner_invites_and_the_invitee_signs_in_and_accepts(open_as, browser, live_server, settings):
    page = open_as("olivia")
    page.goto(f"/manage/accounts/workspace/{acme().pk}/change/")
    page.fill("#invite input[name=email]", "newcomer@example.com")
    page.select_option("#invite select[name=role]", "admin")
    page.get_by_role("button", name="Send invitation").click()
    page.wait_for_load_state()
    assert "Invitation sent to newcomer@example.com" in page.locator("ul.messagelist").inner_text()
    assert "newcomer@example.com" in page.locator("#invitations").inner_text()
    assert page.locator("tr.member-olivia input[value=Remove]").count() == 0  # the owner's own row
    link = re.search(r"https?://\S+/manage/invitations/\S+/", mail.outbox[-1].body).group(0)

    User.objects.create_user("nina", email="Newcomer@Example.com", password=settings.BYOK_DEMO_PASSWORD)
    context = browser.new_context(base_url=live_server.url)
    invitee = context.new_page()
    invitee.goto(link)
    invitee.get_by_role("link", name="Sign in to accept").click()
    invitee.fill("#id_username", "nina")
    invitee.fill("#id_password", settings.BYOK_DEMO_PASSWORD)
    invitee.get_by_role("button", name="Sign in").click()
    invitee.wait_for_load_state()
    invitee.get_by_role("button", name="Accept and join Acme").click()
    invitee.wait_for_load_state()
    assert invitee.url.endswith("/manage/")  # an admin lands in the console
    assert "You joined Acme as an admin" in invitee.locator("ul.messagelist").inner_text()
    invitee.goto(link)
    assert "already been used" in invitee.locator("#invitation-state").inner_text()
    context.close()
    assert Membership.objects.get(workspace=acme(), user__username="nina").role == "admin"


def test_admin_reads_keys_read_only_and_invites_members_only(open_as, sandbox):
    key = olivias_key(sandbox.account("demo-bedrock"))
    page = open_as("ada")
    page.goto(f"{KEYS}{key.pk}/change/")
    assert "only they can change it" in page.locator("#content-main").inner_text()
    assert page.get_by_role("button", name="Test connection").count() == 0
    page.goto(f"/manage/accounts/workspace/{acme().pk}/change/")
    assert page.locator("#invite select[name=role] option").all_inner_texts() == ["Member"]
    assert page.locator("#members input[value=Remove]").count() == 0
    assert page.locator("#members input[value='Change role']").count() == 0
    page.fill("#invite input[name=email]", "member@example.com")
    page.get_by_role("button", name="Send invitation").click()
    page.wait_for_load_state()
    assert "Invitation sent to member@example.com" in page.locator("ul.messagelist").inner_text()
    assert Invitation.objects.get().role == "member"


def test_member_is_told_the_console_is_not_for_them(browser, live_server, demo, settings):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.goto("/manage/login/")
    page.fill("#id_username", "mark")
    page.fill("#id_password", settings.BYOK_DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state()
    assert "This console is for workspace owners and admins" in page.locator(".errornote").inner_text()
    # Signed in elsewhere (an invitation's sign-in), the console still says why, in its own words.
    page.goto("/manage/invitations/sign-in/?next=/manage/")
    page.fill("#id_username", "mark")
    page.fill("#id_password", settings.BYOK_DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/manage/")
    assert "/manage/login/" in page.url
    assert "You are signed in as mark, a member" in page.locator("#not-for-members").inner_text()
    context.close()


def test_free_owner_is_shown_the_upgrade_path_not_a_form(open_as):
    page = open_as("frank")
    page.goto(KEYS)
    assert page.locator("#upgrade-path").is_visible()
    assert page.get_by_role("link", name="Add provider key").count() == 0
    response = page.goto(f"{KEYS}add/?provider=bedrock")
    assert response.status == 403 and "Business" in page.locator("#content-main").inner_text()


def test_usage_range_and_csv_link(open_as):
    workspace, olivia = acme(), User.objects.get(username="olivia")
    mark = User.objects.get(username="mark")
    laptop, _ = api_key_create(workspace=workspace, user=mark, name="laptop", actor=mark)
    UsageRecord.objects.bulk_create(
        UsageRecord(workspace=workspace, owner=olivia, user=mark, api_key=laptop, provider="bedrock",
                    model="claude-sonnet", task="standard", source="byok", input_tokens=10, output_tokens=5)
        for _ in range(3))
    page = open_as("olivia")
    page.goto("/manage/usage/")
    page.fill("input[name=since]", "2026-01-01")
    page.fill("input[name=until]", "2026-12-31")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert "since=2026-01-01" in page.url
    assert "From 2026-01-01 to 2026-12-31 included" in page.locator("#usage-period").inner_text()
    assert "mark\t3" in page.locator("#usage-by-member").inner_text()
    assert f"laptop {laptop.key_hint}\tmark\tacme\t3" in page.locator("#usage-by-api-key").inner_text()
    href = page.locator("#usage-csv").get_attribute("href")
    assert href == "/manage/usage/csv/?since=2026-01-01&until=2026-12-31"
    csv_text = page.request.get(href).text()
    assert csv_text.splitlines()[0].startswith("date,workspace,member,api_key,api_key_hint,source")
    assert f",mark,laptop,{laptop.key_hint},byok," in csv_text
    page.fill("input[name=since]", "2026-12-31")
    page.fill("input[name=until]", "2026-01-01")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert "must be on or before" in page.locator("#usage-range").inner_text()


def test_audit_trail_reads_as_sentences_with_details_one_click_away(open_as, sandbox):
    key = olivias_key(sandbox.account("demo-bedrock"))
    page = open_as("olivia")
    page.goto("/manage/audit/auditevent/")
    row = page.locator("tr", has_text="an AWS Bedrock (IAM credentials) key").first
    assert f"“EU key” ({key.key_hint})" in row.inner_text()
    raw = row.locator("details.byok-raw pre")
    assert not raw.is_visible()
    row.locator("details.byok-raw summary").click()
    assert raw.is_visible() and '"name": "EU key"' in raw.inner_text()


def test_rotating_replaces_the_last_test_shown(open_as, sandbox):
    key = olivias_key(sandbox.account("demo-bedrock"))
    replacement = sandbox.add_account("bedrock", account_id="444455556666", models=ALL_MODELS)
    page = open_as("olivia")
    page.goto(f"{KEYS}{key.pk}/change/")
    assert "111122223333" in page.locator("#content-main").inner_text()
    page.goto(f"{KEYS}{key.pk}/rotate/")
    page.fill('input[name="access_key_id"]', replacement.access_key_id)
    page.fill('input[name="secret_access_key"]', replacement.secret_access_key)
    page.get_by_role("button", name="Test and rotate").click()
    page.wait_for_load_state()
    assert "is rotated" in page.locator("ul.messagelist").inner_text()
    content = page.locator("#content-main").inner_text()
    assert "444455556666" in content and "111122223333" not in content
    page.goto("/manage/audit/auditevent/")
    key.refresh_from_db()
    assert f"olivia rotated “EU key” ({key.key_hint})" in page.locator("#result_list").inner_text()


def test_changing_the_profile_replaces_the_last_test_shown(open_as, sandbox):
    key = olivias_key(sandbox.add_account("bedrock", models=ALL_MODELS))
    page = open_as("olivia")
    page.goto(f"{KEYS}{key.pk}/change/")
    assert "us-east-1" in page.locator("#test-result").inner_text()  # the Global profile's region
    page.check('input[name="inference_profile"][value="eu"]')
    page.locator('.submit-row input[name="_save"]').click()
    page.wait_for_load_state()
    result = page.locator("#test-result").inner_text()
    assert "eu-central-1" in result and "us-east-1" not in result


def test_a_provider_failure_shows_as_a_fallback_on_the_home_page(open_as, sandbox, settings):
    settings.BYOK_PLATFORM_ENV = {k: v for k, v in sandbox_platform_env().items() if k.startswith("PLATFORM_")}
    account = sandbox.add_account("bedrock", models=ALL_MODELS)
    olivias_key(account, name="Production")
    mark = Client()
    mark.force_login(User.objects.get(username="mark"))

    def call() -> str:
        response = mark.post("/api/v1/workspaces/acme/completions/", {"messages": MESSAGES},
                             content_type="application/json")
        assert response.status_code == 200, response.content
        return response.json()["source"]

    assert call() == "byok"
    # The provider stops accepting the key (a failure of the whole key; a model the key lost opens that model's
    # breaker only, and the other tier keeps being served by the key).
    sandbox.server.add_accounts([dataclasses.replace(account, behaviour="expired")])
    assert call() == "platform"
    page = open_as("olivia")
    workspace = page.locator("#workspace-acme").inner_text()
    assert "platform credentials instead of “Production”" in workspace and "credentials expired" in workspace
    incidents = page.locator("#incidents").inner_text()
    assert "Production" in incidents and "expired" in incidents
