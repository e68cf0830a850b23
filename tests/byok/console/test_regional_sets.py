"""Several regional credential sets on the key form, without JavaScript: a server-side "Add region" button that
shows the form again with one more empty row, and a "remove" box per row."""

import re

import pytest

from audit.models import AuditEvent
from byok.models import ProviderKey
from byok.providers.base import hint
from tests.byok.console.conftest import signed_in
from tests.byok.routing_helpers import key_for, regional_set
from tests.factories import BusinessUserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

ADD = "/manage/byok/providerkey/add/?provider=bedrock"


@pytest.fixture
def owner():
    owner = BusinessUserFactory(username="olivia")
    WorkspaceFactory(owner=owner)
    return owner


def form_data(main, rows: list[dict], **extra) -> dict:
    data = {"name": "Production", "inference_profile": "global", "access_key_id": main.access_key_id,
            "secret_access_key": main.secret_access_key, "fallback_mode": "platform", "scope": "all_workspaces",
            "regional-TOTAL_FORMS": str(len(rows)), "regional-INITIAL_FORMS": "0", **extra}
    for index, row in enumerate(rows):
        data.update({f"regional-{index}-{name}": value for name, value in row.items()})
    return data


def row_count(html: str) -> int:
    return len(re.findall(r'id="regional-set-\d+"', html))


def test_add_region_shows_one_more_row_keeps_what_was_typed_and_saves_nothing(owner, sim):
    main = sim.account("demo-bedrock")
    html = signed_in(owner).get(ADD).content.decode()
    assert row_count(html) == 1 and 'name="_add_region"' in html and 'name="regional-0-DELETE"' in html
    data = form_data(main, [{"regions": ["eu-west-1"], "access_key_id": "AKIAREGIONAL0000TEST",
                             "secret_access_key": "s" * 40}], _add_region="Add region", name="Kept")
    response = signed_in(owner).post(ADD, data)
    html = response.content.decode()
    assert response.status_code == 200 and not ProviderKey.objects.exists()
    assert row_count(html) == 2 and 'name="regional-TOTAL_FORMS" value="2"' in html
    assert re.search(r'<option value="eu-west-1" selected>', html)  # the first row's regions are kept
    assert 'value="Kept"' in html and 'id="error-summary"' not in html  # nothing was checked yet
    assert "s" * 40 not in html and main.secret_access_key not in html and "AKIAREGIONAL0000TEST" not in html


def test_add_region_drops_rows_ticked_remove(owner, sim):
    main = sim.account("demo-bedrock")
    data = form_data(main, [{"regions": ["eu-west-1"]}, {"regions": ["us-east-1"], "DELETE": "on"}],
                     _add_region="Add region")
    html = signed_in(owner).post(ADD, data).content.decode()
    assert row_count(html) == 2  # one kept + one new
    assert '<option value="us-east-1" selected>' not in html and '<option value="eu-west-1" selected>' in html


def test_two_regional_sets_are_saved_and_a_removed_row_is_not(owner, sandbox):
    main = sandbox.account("demo-bedrock")
    eu, us = sandbox.account("demo-bedrock"), sandbox.account("demo-bedrock")
    rows = [{"regions": ["eu-west-1"], "access_key_id": eu.access_key_id, "secret_access_key": eu.secret_access_key},
            {"regions": ["us-east-1"], "access_key_id": us.access_key_id, "secret_access_key": us.secret_access_key},
            {"regions": ["ap-northeast-1"], "access_key_id": "AKIA-half-typed", "DELETE": "on"}]
    response = signed_in(owner).post(ADD, form_data(main, rows, _test_and_save="Test and save"))
    assert response.status_code == 302, response.content.decode()[:3000]
    regional = ProviderKey.objects.get().get_credentials()["regional"]
    assert [entry["regions"] for entry in regional] == [["eu-west-1"], ["us-east-1"]]


def test_an_error_in_a_later_row_lands_on_that_row(owner, sandbox):
    main = sandbox.account("demo-bedrock")
    rows = [{"regions": ["eu-west-1"], "DELETE": "on"},
            {"regions": ["mars-north-1"], "access_key_id": main.access_key_id,
             "secret_access_key": main.secret_access_key}]
    html = signed_in(owner).post(ADD, form_data(main, rows)).content.decode()
    assert not ProviderKey.objects.exists()
    second = html.split('id="regional-set-1"')[1]
    assert "Select a valid choice" in second or "Unknown AWS region" in second


def test_the_add_region_button_goes_once_every_region_has_a_row(owner, sim):
    from byok.providers.registry import PROVIDERS

    regions = len(PROVIDERS["bedrock"].regions)
    data = form_data(sim.account("demo-bedrock"), [{} for _ in range(regions - 1)], _add_region="Add region")
    html = signed_in(owner).post(ADD, data).content.decode()
    assert row_count(html) == regions and 'name="_add_region"' not in html


def test_enter_in_a_field_saves_rather_than_adding_a_region(owner):
    html = signed_in(owner).get(ADD).content.decode()
    form = html.split('id="providerkey_form"')[1]
    first_submit = re.search(r'<input type="submit"[^>]*>', form).group(0)
    assert 'name="_test_and_save"' in first_submit


@pytest.mark.parametrize("page", ["change", "rotate"])
def test_add_region_works_on_the_edit_and_rotate_pages_too(owner, sim, page):
    from byok.services.keys import provider_key_create

    main = sim.account("demo-bedrock")
    key = provider_key_create(owner=owner, provider="bedrock", name="EU key", skip_test=True,
                              credentials={"access_key_id": main.access_key_id,
                                           "secret_access_key": main.secret_access_key})
    data = form_data(main, [{"regions": ["eu-west-1"]}], _add_region="Add region", name="Renamed")
    response = signed_in(owner).post(f"/manage/byok/providerkey/{key.pk}/{page}/", data)
    html = response.content.decode()
    assert response.status_code == 200 and row_count(html) == 2 and 'id="error-summary"' not in html
    key.refresh_from_db()
    assert key.name == "EU key" and key.key_hint == ProviderKey.objects.get().key_hint


def test_the_key_page_names_each_regions_credential_set_by_its_hint(owner, sim):
    main, eu = sim.add_account("bedrock"), sim.add_account("bedrock")
    key = key_for(owner, main, inference_profile="eu", regional_credentials=[regional_set(eu, "eu-west-1")])
    html = signed_in(owner).get(f"/manage/byok/providerkey/{key.pk}/change/").content.decode()
    assert f"eu-west-1 <code>{hint(eu.access_key_id)}</code>" in html
    assert eu.access_key_id not in html and eu.secret_access_key not in html


def test_rotating_the_main_credentials_keeps_a_regional_set_and_says_so(owner, sandbox):
    main, eu, new_main = sandbox.add_account("bedrock"), sandbox.add_account("bedrock"), sandbox.add_account("bedrock")
    key = key_for(owner, main, inference_profile="eu", regional_credentials=[regional_set(eu, "eu-west-1")])
    page = signed_in(owner).get(f"/manage/byok/providerkey/{key.pk}/rotate/").content.decode()
    assert f"eu-west-1 ({hint(eu.access_key_id)})" in page and 'name="remove_regional_sets"' in page
    response = signed_in(owner).post(f"/manage/byok/providerkey/{key.pk}/rotate/", {
        "access_key_id": new_main.access_key_id, "secret_access_key": new_main.secret_access_key,
        "regional-TOTAL_FORMS": "1", "regional-INITIAL_FORMS": "0"}, follow=True)
    html = response.content.decode()
    assert f"Regional sets kept: eu-west-1 ({hint(eu.access_key_id)})." in html
    key.refresh_from_db()
    assert key.key_hint == hint(new_main.access_key_id) and key.region_hints == {"eu-west-1": hint(eu.access_key_id)}
    assert key.get_credentials()["regional"][0]["secret_access_key"] == eu.secret_access_key
    rotated = AuditEvent.objects.get(action="KEY_ROTATED")
    assert rotated.details["regional_sets"] == {"kept": [f"eu-west-1 ({hint(eu.access_key_id)})"],
                                                "removed": [], "added": []}


def test_a_regional_set_goes_on_rotation_only_when_ticked_and_the_audit_says_so(owner, sandbox):
    main, eu, new_main = sandbox.add_account("bedrock"), sandbox.add_account("bedrock"), sandbox.add_account("bedrock")
    key = key_for(owner, main, inference_profile="eu", regional_credentials=[regional_set(eu, "eu-west-1")])
    response = signed_in(owner).post(f"/manage/byok/providerkey/{key.pk}/rotate/", {
        "access_key_id": new_main.access_key_id, "secret_access_key": new_main.secret_access_key,
        "remove_regional_sets": ["eu-west-1"], "regional-TOTAL_FORMS": "1", "regional-INITIAL_FORMS": "0"},
        follow=True)
    assert f"Regional sets removed: eu-west-1 ({hint(eu.access_key_id)})." in response.content.decode()
    key.refresh_from_db()
    assert key.region_hints == {} and "regional" not in key.get_credentials()
    assert AuditEvent.objects.get(action="KEY_ROTATED").details["regional_sets"]["removed"] == [
        f"eu-west-1 ({hint(eu.access_key_id)})"]


def test_a_new_regional_set_cannot_take_a_kept_sets_region(owner, sim):
    from byok.errors import KeyInvalid
    from byok.services.keys import provider_key_rotate

    main, eu, other = sim.add_account("bedrock"), sim.add_account("bedrock"), sim.add_account("bedrock")
    key = key_for(owner, main, inference_profile="eu", regional_credentials=[regional_set(eu, "eu-west-1")])
    with pytest.raises(KeyInvalid) as refused:
        provider_key_rotate(key=key, actor=owner, skip_test=True, regional_credentials=[regional_set(other, "eu-west-1")],
                            credentials={"access_key_id": other.access_key_id,
                                         "secret_access_key": other.secret_access_key})
    assert "remove that set to replace it" in refused.value.fields["regional_credentials.0.regions"][0]
    key.refresh_from_db()
    assert key.key_hint == hint(main.access_key_id)


def test_each_regional_set_has_labels_of_its_own(owner, sim):
    main = sim.account("demo-bedrock")
    html = signed_in(owner).post(ADD, form_data(main, [{"regions": ["eu-west-1"]}, {"regions": ["us-east-1"]}],
                                               _add_region="Add region")).content.decode()
    labels = re.findall(r'<label for="id_regional-\d-[a-z_]+"[^>]*>([^<]+)</label>', html)
    assert "Set 1: Access Key ID:" in labels and "Set 2: Access Key ID:" in labels
    assert len(labels) == len(set(labels))
