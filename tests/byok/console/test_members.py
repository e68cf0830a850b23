"""The members page in the owner console: invitations by e-mail, the invitation link's page, and the buttons each
role is offered (and refused)."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import ApiKey, Invitation, Membership, User
from audit.models import AuditEvent
from byok.models import UsageRecord
from tests.byok.console.conftest import signed_in
from tests.factories import BusinessUserFactory, UserFactory, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return BusinessUserFactory(username="olivia", email="olivia@example.com")


def workspace_url(workspace, suffix=""):
    return f"/manage/accounts/workspace/{workspace.pk}/{suffix}"


def mailed_link() -> str:
    return re.search(r"http://testserver(/manage/invitations/[^/\s]+/)", mail.outbox[-1].body).group(1)


def test_owner_invites_by_email_and_the_invitee_accepts(owner, workspace):
    response = signed_in(owner).post(workspace_url(workspace, "invitations/"),
                                     {"email": "new@example.com", "role": "admin"}, follow=True)
    html = response.content.decode()
    assert "Invitation sent to new@example.com" in html and 'class="invitation"' in html
    assert not Membership.objects.filter(workspace=workspace, user__email="new@example.com").exists()
    newcomer = UserFactory(email="NEW@example.com")
    client = signed_in(newcomer)
    page = client.get(mailed_link()).content.decode()
    assert "Join Acme" in page and "Accept and join Acme" in page
    response = client.post(mailed_link())
    assert response.status_code == 302 and response.url == "/manage/"  # an admin lands in the console
    assert Membership.objects.get(workspace=workspace, user=newcomer).role == "admin"


def test_a_member_accepts_and_lands_on_their_own_api_keys_page(owner, workspace):
    signed_in(owner).post(workspace_url(workspace, "invitations/"), {"email": "m@example.com", "role": "member"})
    client = signed_in(UserFactory(email="m@example.com"))
    response = client.post(mailed_link(), follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == "/manage/me/"
    assert "You joined Acme as a member" in html and 'id="my-api-key-create"' in html


def invite(owner, workspace, email="newcomer@example.com", role="member") -> str:
    signed_in(owner).post(workspace_url(workspace, "invitations/"), {"email": email, "role": role})
    return mailed_link()


def test_a_new_person_creates_an_account_bound_to_the_invitations_address_and_joins(owner, workspace):
    link = invite(owner, workspace)
    client = Client()
    assert 'id="invitation-sign-up"' in client.get(link).content.decode()
    page = client.get(link + "sign-up/").content.decode()
    assert "newcomer@example.com" in page and 'name="email"' not in page  # the address is the invitation's
    response = client.post(link + "sign-up/", {"username": "nina", "password": "correct horse battery",
                                               "password_again": "correct horse battery"}, follow=True)
    assert response.redirect_chain[-1][0] == "/manage/me/" and "You joined Acme as a member" in response.content.decode()
    nina = User.objects.get(username="nina")
    assert nina.email == "newcomer@example.com" and nina.check_password("correct horse battery")
    assert Membership.objects.get(workspace=workspace, user=nina).role == "member"
    accepted = AuditEvent.objects.get(action="INVITATION_ACCEPTED")
    assert accepted.details["account_created"] is True and "correct horse" not in str(accepted.details)
    assert response.context["user"] == nina  # signed in


@pytest.mark.parametrize("password, says", [("12345678", "entirely numeric"), ("password", "too common"),
                                            ("newcomer1", "too similar")])
def test_sign_up_applies_the_password_validators_and_stores_nothing(owner, workspace, password, says):
    link = invite(owner, workspace)
    html = Client().post(link + "sign-up/", {"username": "newcomer", "password": password,
                                             "password_again": password}).content.decode()
    assert says in html and not User.objects.filter(username="newcomer").exists()
    assert not Membership.objects.filter(workspace=workspace, user__username="newcomer").exists()


def test_sign_up_refuses_a_taken_username_or_an_address_with_an_account(owner, workspace):
    link = invite(owner, workspace)
    UserFactory(username="taken")
    html = Client().post(link + "sign-up/", {"username": "taken", "password": "correct horse battery",
                                             "password_again": "correct horse battery"}).content.decode()
    assert "This username is taken" in html
    UserFactory(email="NEWCOMER@example.com")
    html = Client().post(link + "sign-up/", {"username": "fresh", "password": "correct horse battery",
                                             "password_again": "correct horse battery"}).content.decode()
    assert "sign in with it to accept" in html and not User.objects.filter(username="fresh").exists()


def test_sign_up_follows_the_sign_in_lockout(owner, workspace, settings):
    settings.BYOK_LOGIN_FAILURE_LIMIT = 2
    link = invite(owner, workspace)
    client = Client()
    for _ in range(2):
        client.post(link + "sign-up/", {"username": "x", "password": "1", "password_again": "2"})
    html = client.post(link + "sign-up/", {"username": "nina", "password": "correct horse battery",
                                           "password_again": "correct horse battery"}).content.decode()
    assert "Too many failed sign-in attempts" in html and not User.objects.filter(username="nina").exists()


def test_a_member_creates_sees_once_and_revokes_their_own_api_key(owner, workspace):
    member = UserFactory(username="mark")
    Membership.objects.create(workspace=workspace, user=member, role="member")
    client = signed_in(member)
    html = client.post("/manage/me/", {"workspace": workspace.pk, "name": "laptop"}).content.decode()
    key = ApiKey.objects.get(user=member, name="laptop")
    raw = re.search(r'id="new-api-key-value"[^>]*value="([^"]+)"', html).group(1)
    assert key.key_hint in html and ApiKey.hash_of(raw) == key.key_hash
    listed = client.get("/manage/me/").content.decode()
    assert raw not in listed and key.key_hint in listed
    others = ApiKey.objects.create(workspace=workspace, user=owner, name="owner's", key_hint="bk_…zzzz",
                                   key_hash=ApiKey.hash_of("bk_other"))
    client.post("/manage/me/", {"revoke": others.pk})
    others.refresh_from_db()
    assert others.revoked_at is None  # not theirs: nothing happens
    response = client.post("/manage/me/", {"revoke": key.pk}, follow=True)
    key.refresh_from_db()
    assert key.revoked_at is not None and "is revoked" in response.content.decode()


def test_a_members_page_shows_each_of_their_keys_calls_this_month(owner, workspace):
    member, colleague = UserFactory(username="mark"), UserFactory(username="nina")
    for person in (member, colleague):
        Membership.objects.create(workspace=workspace, user=person, role="member")

    def key(user, name, hint):
        return ApiKey.objects.create(workspace=workspace, user=user, name=name, key_hint=hint,
                                     key_hash=ApiKey.hash_of(f"bk_{name}"))

    laptop, ci, hers = key(member, "laptop", "bk_…aaaa"), key(member, "ci", "bk_…bbbb"), key(colleague, "hers", "bk_…cccc")

    def call(api_key, user, *, source="byok", tokens=(10, 5), cost="0.0100", days_ago=0):
        record = UsageRecord.objects.create(workspace=workspace, user=user, owner=owner, api_key=api_key,
                                            provider="anthropic", model="claude-haiku-4-5", source=source,
                                            task="standard", input_tokens=tokens[0], output_tokens=tokens[1],
                                            estimated_cost=Decimal(cost))
        if days_ago:
            UsageRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - timedelta(days=days_ago))

    call(laptop, member)
    call(laptop, member, source="platform", tokens=(20, 0), cost="0.0200")
    call(laptop, member, days_ago=40)  # last month: not counted
    call(hers, colleague, tokens=(1000, 1000), cost="9.0000")  # a colleague's: not theirs to see
    html = signed_in(member).get("/manage/me/").content.decode()

    def cells(hint):
        row = re.search(rf"<tr>\s*<td>[^<]*</td><td>[^<]*</td><td><code>{re.escape(hint)}</code>.*?</tr>", html, re.S)
        return re.findall(r"<td>([^<]*)</td>", row.group(0))[-3:] if row else None

    assert cells(laptop.key_hint) == ["2", "35", "$0.0300"]
    assert cells(ci.key_hint) == ["0", "0", "$0.0000"]
    assert cells(hers.key_hint) is None and "$9.0000" not in html
    assert re.search(r"<td>Acme</td><td>2</td><td>1</td><td>1</td><td>35</td><td>\$0.0300</td>", html)


def test_the_members_page_asks_a_stranger_to_sign_in():
    response = Client().get("/manage/me/")
    assert response.status_code == 302 and response.url.startswith("/manage/invitations/sign-in/?next=/manage/me/")


def test_the_same_message_whether_or_not_an_account_exists(owner, workspace):
    UserFactory(email="known@example.com")
    client = signed_in(owner)
    said = []
    for email in ("known@example.com", "unknown@example.com"):
        html = client.post(workspace_url(workspace, "invitations/"), {"email": email, "role": "member"},
                           follow=True).content.decode()
        said.append(re.search(r'<li class="success">(.*?)</li>', html).group(1).replace(email, "EMAIL"))
    assert said[0] == said[1]


def test_signed_out_visitor_is_asked_to_sign_in_and_comes_back(owner, workspace):
    signed_in(owner).post(workspace_url(workspace, "invitations/"), {"email": "m@example.com", "role": "member"})
    UserFactory(username="mark", email="m@example.com")
    client = Client()
    html = client.get(mailed_link()).content.decode()
    assert "Sign in to accept" in html and "Accept and join" not in html
    response = client.post(f"/manage/invitations/sign-in/?next={mailed_link()}",
                           {"username": "mark", "password": "byok-demo-2026", "next": mailed_link()})
    assert response.status_code == 302 and response.url == mailed_link()
    assert "Accept and join Acme" in client.get(mailed_link()).content.decode()


def test_signed_in_with_another_address_cannot_accept(owner, workspace):
    signed_in(owner).post(workspace_url(workspace, "invitations/"), {"email": "m@example.com", "role": "member"})
    client = signed_in(UserFactory(email="someone-else@example.com"))
    assert "not the one this invitation was sent to" in client.get(mailed_link()).content.decode()
    assert "another e-mail address" in client.post(mailed_link()).content.decode()
    assert Invitation.objects.get().accepted_at is None


@pytest.mark.parametrize("state, words", [("expired", "has expired"), ("revoked", "was withdrawn"),
                                          ("accepted", "already been used")])
def test_a_dead_link_says_why(owner, workspace, state, words):
    signed_in(owner).post(workspace_url(workspace, "invitations/"), {"email": "m@example.com", "role": "member"})
    invitation = Invitation.objects.get()
    changes = {"expired": {"expires_at": timezone.now() - timedelta(minutes=1)},
               "revoked": {"revoked_at": timezone.now()}, "accepted": {"accepted_at": timezone.now()}}[state]
    Invitation.objects.filter(pk=invitation.pk).update(**changes)
    response = signed_in(UserFactory(email="m@example.com")).get(mailed_link())
    assert response.status_code == 410 and words in response.content.decode()


def test_an_unknown_link_is_not_valid():
    response = Client().get("/manage/invitations/not-a-token/")
    assert response.status_code == 404 and "not valid" in response.content.decode()


def test_owner_revokes_a_pending_invitation(owner, workspace):
    client = signed_in(owner)
    client.post(workspace_url(workspace, "invitations/"), {"email": "m@example.com", "role": "member"})
    invitation = Invitation.objects.get()
    html = client.post(workspace_url(workspace, f"invitations/{invitation.pk}/revoke/"), follow=True).content.decode()
    assert "was revoked" in html and "No pending invitations." in html


# --- what each role is offered --------------------------------------------------------------------------------


def test_owner_row_offers_no_remove_and_the_owner_manages_the_others(owner, workspace):
    add_member(workspace, UserFactory(username="mark"))
    html = signed_in(owner).get(workspace_url(workspace, "change/")).content.decode()
    owner_row = re.search(r'<tr class="member-olivia">.*?</tr>', html, re.S).group(0)
    mark_row = re.search(r'<tr class="member-mark">.*?</tr>', html, re.S).group(0)
    assert "Remove" not in owner_row and "Change role" not in owner_row
    assert "Remove" in mark_row and "Change role" in mark_row and "Make owner" in mark_row
    assert '<option value="admin">Admin</option>' in re.search(r'<form[^>]*id="invite".*?</form>', html,
                                                                re.S).group(0)


def test_admin_invites_members_only_and_changes_nobody(owner, workspace):
    ada = add_member(workspace, UserFactory(username="ada"), role=Membership.Role.ADMIN)
    mark = add_member(workspace, UserFactory(username="mark"))
    client = signed_in(ada)
    html = client.get(workspace_url(workspace, "change/")).content.decode()
    assert "Remove" not in html and "Change role" not in html and "Make owner" not in html
    invite_form = re.search(r'<form[^>]*id="invite".*?</form>', html, re.S).group(0)
    assert 'value="admin"' not in invite_form and 'id="read-only-note"' in html
    html = client.post(workspace_url(workspace, "invitations/"), {"email": "a@example.com", "role": "admin"},
                       follow=True).content.decode()
    assert not Invitation.objects.exists() and "Select a valid choice" in html
    client.post(workspace_url(workspace, "invitations/"), {"email": "m@example.com", "role": "member"})
    assert Invitation.objects.get().role == "member"
    html = client.post(workspace_url(workspace, f"members/{mark.pk}/remove/"), follow=True).content.decode()
    assert "Only the owner of Acme removes members" in html
    html = client.post(workspace_url(workspace, f"members/{mark.pk}/role/"), {"role": "admin"},
                       follow=True).content.decode()
    assert "Only the owner of Acme grants or removes admin" in html
    assert Membership.objects.get(workspace=workspace, user=mark).role == "member"


def test_members_page_queries_do_not_grow_with_invitations(owner, workspace):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = signed_in(owner)

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(workspace_url(workspace, "change/")).status_code == 200
        return len(captured)

    for i in range(3):
        client.post(workspace_url(workspace, "invitations/"), {"email": f"m{i}@example.com", "role": "member"})
    few = count()
    for i in range(3, 30):
        client.post(workspace_url(workspace, "invitations/"), {"email": f"m{i}@example.com", "role": "member"})
    assert count() == few


def test_another_owners_workspace_invitations_answer_404(owner, workspace):
    other = WorkspaceFactory()
    assert signed_in(owner).post(workspace_url(other, "invitations/"), {"email": "x@example.com"}).status_code == 404
    assert not Invitation.objects.exists()


def test_a_signed_in_member_reads_why_the_console_is_closed(workspace):
    mark = add_member(workspace, UserFactory(username="mark"))
    response = signed_in(mark).get("/manage/", follow=True)
    html = response.content.decode()
    assert 'id="not-for-members"' in html and "You are signed in as mark, a member" in html
    assert "but are not authorized" not in html
