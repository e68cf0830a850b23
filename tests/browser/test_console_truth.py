"""The issue's walks in a real browser: the README's "Try it" fallback walk checked against a /v1 call's headers,
a rotation that keeps a regional set and says so, and a new person who accepts an invitation and creates a workspace
API key in the console."""

import dataclasses
import re

import openai
import pytest
from django.core import mail

from accounts.models import ApiKey, User
from byok.models import ProviderKey
from byok.providers.base import hint
from byok.services.keys import provider_key_create
from byok_project.stack import sandbox_platform_env
from tests.byok.routing_helpers import regional_set

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEYS = "/manage/byok/providerkey/"
HELLO = [{"role": "user", "content": "Hello"}]


def test_the_readme_fallback_walk_home_page_agrees_with_the_v1_headers(open_as, dataplane, sandbox, settings):
    settings.BYOK_PLATFORM_ENV = {k: v for k, v in sandbox_platform_env().items() if k.startswith("PLATFORM_")}
    settings.BYOK_BREAKER_COOLDOWN_SECONDS = 0  # the probe after the fix comes with the next call
    account = sandbox.account("demo-bedrock")
    page = open_as("olivia")
    page.goto(f"{KEYS}add/?provider=bedrock")  # the README: add a Bedrock key with the demo-bedrock credentials
    page.fill("#id_name", "Demo Bedrock")
    page.fill("#id_access_key_id", account.access_key_id)
    page.fill("#id_secret_access_key", account.secret_access_key)
    page.get_by_role("button", name="Test and save", exact=True).click()
    page.wait_for_load_state()
    assert "is saved" in page.locator("ul.messagelist").inner_text()
    mark = User.objects.get(username="mark")
    sdk = dataplane.openai(mark, mark.workspaces.get(slug="acme"))

    def ask() -> dict:
        return sdk.chat.completions.with_raw_response.create(model="bedrock/standard", messages=HELLO).headers

    def header_hint(headers) -> str:
        return headers["x-byok-key-hint"].replace("...", "…")  # headers are ASCII: the page's ellipsis is one character

    def serving() -> str:
        page.goto("/manage/")
        return page.locator("#workspace-acme .byok-serving tbody tr").first.inner_text()

    headers = ask()
    assert headers["x-byok-source"] == "byok"
    assert "own key" in serving() and f"“Demo Bedrock” {header_hint(headers)}" in serving()

    # The provider takes every model away from demo-bedrock (as an IAM policy change would).
    sandbox.server.add_accounts([dataclasses.replace(account, models=())])
    headers = ask()  # the first fallback
    assert (headers["x-byok-source"], headers["x-byok-fallback-reason"]) == ("platform", "model_access")
    said = serving()
    assert "platform credentials instead of “Demo Bedrock”" in said and "your key lost access to the model" in said
    assert page.locator("#incidents").inner_text().count("ongoing") == 1

    sandbox.server.add_accounts([account])  # the models are back
    headers = ask()
    assert headers["x-byok-source"] == "byok"
    said = serving()
    assert "own key" in said and f"“Demo Bedrock” {header_hint(headers)}" in said
    assert "ongoing" not in page.locator("#incidents").inner_text()


def test_rotation_keeps_a_regional_set_and_says_so(open_as, sandbox):
    main, eu, new_main = (sandbox.add_account("bedrock") for _ in range(3))
    key = provider_key_create(owner=User.objects.get(username="olivia"), provider="bedrock", name="EU key",
                              inference_profile="eu", regional_credentials=[regional_set(eu, "eu-west-1")],
                              credentials={"access_key_id": main.access_key_id,
                                           "secret_access_key": main.secret_access_key})
    page = open_as("olivia")
    page.goto(f"{KEYS}{key.pk}/rotate/")
    assert f"eu-west-1 ({hint(eu.access_key_id)})" in page.locator("#kept-regional-sets").inner_text()
    page.fill("#id_access_key_id", new_main.access_key_id)
    page.fill("#id_secret_access_key", new_main.secret_access_key)
    page.get_by_role("button", name="Test and rotate").click()
    page.wait_for_load_state()
    message = page.locator("ul.messagelist").inner_text()
    assert "is rotated" in message and f"Regional sets kept: eu-west-1 ({hint(eu.access_key_id)})" in message
    assert f"eu-west-1 {hint(eu.access_key_id)}" in page.locator("table.byok-meta").inner_text()
    key.refresh_from_db()
    assert key.key_hint == hint(new_main.access_key_id) and key.region_hints == {"eu-west-1": hint(eu.access_key_id)}
    page.goto("/manage/audit/auditevent/")
    assert "regional sets kept: eu-west-1" in page.locator("tr", has_text="rotated").first.inner_text()


def test_a_new_person_accepts_an_invitation_and_creates_a_workspace_api_key(open_as, browser, live_server,
                                                                           dataplane, settings):
    settings.BYOK_PLATFORM_ENV = {k: v for k, v in sandbox_platform_env().items() if k.startswith("PLATFORM_")}
    page = open_as("olivia")
    acme = User.objects.get(username="olivia").owned_workspaces.get(slug="acme")
    page.goto(f"/manage/accounts/workspace/{acme.pk}/change/")
    page.fill("#invite input[name=email]", "nina@example.com")
    page.select_option("#invite select[name=role]", "member")
    page.get_by_role("button", name="Send invitation").click()
    page.wait_for_load_state()
    link = re.search(r"https?://\S+/manage/invitations/\S+/", mail.outbox[-1].body).group(0)

    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    nina = context.new_page()
    nina.goto(link)
    nina.get_by_role("link", name="Create an account and join").click()
    assert "nina@example.com" in nina.locator("#sign-up-email").inner_text()
    nina.fill("#id_username", "nina")
    nina.fill("#id_password", "12345")
    nina.fill("#id_password_again", "12345")
    nina.get_by_role("button", name="Create account and join Acme").click()
    nina.wait_for_load_state()
    assert not User.objects.filter(username="nina").exists()
    assert "too short" in nina.locator("#invitation-sign-up-form").inner_text()
    nina.fill("#id_password", "a long and private phrase")
    nina.fill("#id_password_again", "a long and private phrase")
    nina.get_by_role("button", name="Create account and join Acme").click()
    nina.wait_for_load_state()
    assert nina.url.endswith("/manage/me/")
    assert "You joined Acme as a member" in nina.locator("ul.messagelist").inner_text()
    assert User.objects.get(username="nina").email == "nina@example.com"

    nina.fill("#id_name", "laptop")
    nina.get_by_role("button", name="Create API key").click()
    nina.wait_for_load_state()
    raw = nina.locator("#new-api-key-value").input_value()
    assert ApiKey.objects.get(user__username="nina", name="laptop").key_hash == ApiKey.hash_of(raw)
    listed = openai.OpenAI(base_url=f"{dataplane.url}/v1", api_key=raw, max_retries=0).models.list()
    assert listed.data  # the new key works with an official SDK
    nina.reload()
    assert raw not in nina.content() and "laptop" in nina.locator("#my-api-keys").inner_text()
    context.close()
    assert ProviderKey.objects.count() == 0
