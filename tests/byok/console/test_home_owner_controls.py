"""The console home and the key page say, per key, where its calls and its fallback run — as routing does it — and
the home lists the owner's rate limits with their use this minute."""

import pytest
from django.utils.html import strip_tags

from tests.byok.console.conftest import signed_in
from tests.byok.routing_helpers import key_for, team, use_platform_account

pytestmark = pytest.mark.django_db

KEYS = "/manage/byok/providerkey/"


def pages(owner, key) -> tuple[str, str]:
    home = strip_tags(signed_in(owner).get("/manage/").content.decode())
    key_page = strip_tags(signed_in(owner).get(f"{KEYS}{key.pk}/change/").content.decode())
    return " ".join(home.split()), " ".join(key_page.split())


def test_an_eu_key_with_only_us_platform_credentials_says_it_has_no_fallback(sim, settings):
    owner, workspace, member = team()
    key = key_for(owner, sim.add_account("bedrock"), inference_profile="eu")
    use_platform_account(settings, sim)
    home, key_page = pages(owner, key)
    for page in (home, key_page):
        assert "EU inference profile — data stays in the European Union" in page
        assert "none: no platform credentials are configured in the EU" in page


def test_an_eu_key_with_eu_platform_credentials_names_them(sim, settings):
    owner, workspace, member = team()
    key = key_for(owner, sim.add_account("bedrock"), inference_profile="eu")
    use_platform_account(settings, sim, profile="eu")
    home, key_page = pages(owner, key)
    for page in (home, key_page):
        assert "platform credentials in the EU (eu-central-1, eu profile)" in page


def test_the_console_home_lists_the_owners_rate_limits(sim):
    from byok.services.limits import usage_limit_set

    owner, workspace, member = team()
    usage_limit_set(owner=owner, actor=owner, subject="workspace", workspace=workspace, metric="requests_per_minute",
                    value=100)
    home = " ".join(strip_tags(signed_in(owner).get("/manage/").content.decode()).split())
    assert f"workspace {workspace.name} 100 requests per minute 0 calls are served" in home
