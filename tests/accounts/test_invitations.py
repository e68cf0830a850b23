"""Membership by invitation: who may invite whom, the link's life (expiry, revocation, one use), the e-mail, and
that nothing tells an inviter whether an account exists for an address."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.errors import (
    AlreadyMember,
    InvitationNotForYou,
    InvitationNotSent,
    InvitationUnusable,
    MembershipNotAllowed,
)
from accounts.models import Invitation, Membership
from accounts.services import (
    invitation_accept,
    invitation_create,
    invitation_revoke,
    membership_remove,
    membership_role_change,
    workspace_ownership_transfer,
)
from audit.models import AuditAction, AuditEvent
from tests.factories import UserFactory, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db


def link(token: str) -> str:
    return f"https://byok.test/manage/invitations/{token}/"


def invite(workspace, email, role="member", actor=None):
    return invitation_create(workspace=workspace, email=email, role=role, actor=actor or workspace.owner,
                             link_for=link)


@pytest.fixture
def workspace():
    return WorkspaceFactory(name="Acme", slug="acme")


def test_invitation_stores_only_the_tokens_hash_and_mails_the_link(workspace, settings):
    settings.BYOK_INVITATION_DAYS = 3
    invitation, token = invite(workspace, "New.Person@Example.com", role="admin")
    assert invitation.token_hash == Invitation.hash_of(token) and token not in invitation.token_hash
    assert timedelta(days=3) - (invitation.expires_at - timezone.now()) < timedelta(minutes=1)
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["New.Person@Example.com"] and "Acme" in email.subject
    assert link(token) in email.body and "admin" in email.body
    event = AuditEvent.objects.get(action=AuditAction.INVITATION_SENT)
    assert event.details["email"] == "New.Person@Example.com" and event.details["role"] == "admin"
    assert token not in str(event.details)


def test_accepting_makes_the_signed_in_user_a_member_whatever_the_case_of_the_address(workspace):
    _, token = invite(workspace, "New.Person@Example.com", role="admin")
    user = UserFactory(email="new.person@example.COM")
    membership = invitation_accept(token=token, user=user)
    assert membership.role == "admin" and membership.workspace == workspace
    invitation = Invitation.objects.get()
    assert invitation.accepted_at is not None and invitation.accepted_by == user
    event = AuditEvent.objects.get(action=AuditAction.INVITATION_ACCEPTED)
    assert event.actor == user and event.details["invited_by"] == workspace.owner.username


def test_a_link_is_used_once(workspace):
    _, token = invite(workspace, "x@example.com")
    invitation_accept(token=token, user=UserFactory(email="x@example.com"))
    with pytest.raises(InvitationUnusable, match="already been used") as raised:
        invitation_accept(token=token, user=UserFactory(email="x@example.com", username="x2"))
    assert raised.value.state == "accepted"


def test_an_expired_link_says_so(workspace):
    invitation, token = invite(workspace, "x@example.com")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(InvitationUnusable, match="expired"):
        invitation_accept(token=token, user=UserFactory(email="x@example.com"))
    assert not Membership.objects.filter(workspace=workspace, user__email="x@example.com").exists()


def test_a_revoked_link_says_so_and_revocation_is_audited(workspace):
    invitation, token = invite(workspace, "x@example.com")
    invitation_revoke(invitation=invitation, actor=workspace.owner)
    with pytest.raises(InvitationUnusable, match="withdrawn"):
        invitation_accept(token=token, user=UserFactory(email="x@example.com"))
    assert AuditEvent.objects.filter(action=AuditAction.INVITATION_REVOKED, workspace=workspace).exists()
    with pytest.raises(InvitationUnusable, match="nothing to revoke"):
        invitation_revoke(invitation=invitation, actor=workspace.owner)


def test_an_unknown_token_is_not_valid():
    with pytest.raises(InvitationUnusable, match="not valid") as raised:
        invitation_accept(token="made-up", user=UserFactory())
    assert raised.value.state == "unknown"


def test_another_address_cannot_accept(workspace):
    _, token = invite(workspace, "x@example.com")
    with pytest.raises(InvitationNotForYou):
        invitation_accept(token=token, user=UserFactory(email="y@example.com"))
    assert Invitation.objects.get().accepted_at is None


def test_inviting_again_replaces_the_pending_link(workspace):
    _, first = invite(workspace, "x@example.com")
    _, second = invite(workspace, "X@example.com")
    with pytest.raises(InvitationUnusable, match="withdrawn"):
        invitation_accept(token=first, user=UserFactory(email="x@example.com"))
    invitation_accept(token=second, user=UserFactory(email="x@example.com"))


def test_inviting_a_member_is_refused(workspace):
    add_member(workspace, UserFactory(email="member@example.com"))
    with pytest.raises(AlreadyMember):
        invite(workspace, "MEMBER@example.com")
    assert not mail.outbox


def test_nothing_tells_the_inviter_whether_an_account_exists(workspace):
    """The enumeration rule: the same result, the same e-mail and the same audit details for an address with an
    account and one without."""
    UserFactory(email="known@example.com")
    known, _ = invite(workspace, "known@example.com")
    unknown, _ = invite(workspace, "unknown@example.com")
    bodies = [re.sub(r"https://\S+", "LINK", m.body).replace("unknown@", "known@") for m in mail.outbox]
    assert bodies[0] == bodies[1]
    assert mail.outbox[0].subject == mail.outbox[1].subject
    events = AuditEvent.objects.filter(action=AuditAction.INVITATION_SENT).order_by("pk")
    shapes = [{k: v for k, v in e.details.items() if k not in {"invitation_id", "email", "expires_at"}}
              for e in events]
    assert shapes[0] == shapes[1]
    assert {f.name for f in Invitation._meta.fields if getattr(known, f.attname) is None} == \
        {f.name for f in Invitation._meta.fields if getattr(unknown, f.attname) is None}


def test_admins_invite_members_only(workspace):
    admin = add_member(workspace, role="admin")
    invitation, _ = invite(workspace, "m@example.com", actor=admin)
    assert invitation.role == "member"
    with pytest.raises(MembershipNotAllowed, match="Only the owner of Acme invites admins"):
        invite(workspace, "a@example.com", role="admin", actor=admin)


def test_members_cannot_invite(workspace):
    member = add_member(workspace)
    with pytest.raises(MembershipNotAllowed):
        invite(workspace, "m@example.com", actor=member)


def test_admins_cannot_revoke_an_admin_invitation(workspace):
    admin = add_member(workspace, role="admin")
    invitation, _ = invite(workspace, "a@example.com", role="admin")
    with pytest.raises(MembershipNotAllowed):
        invitation_revoke(invitation=invitation, actor=admin)


def test_a_mail_server_outage_saves_no_invitation(workspace, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    with pytest.raises(InvitationNotSent):
        invite(workspace, "x@example.com")
    assert not Invitation.objects.exists() and not AuditEvent.objects.filter(
        action=AuditAction.INVITATION_SENT).exists()


# --- who changes roles and removes members -------------------------------------------------------------------


def test_only_the_owner_grants_or_removes_admin(workspace):
    admin = add_member(workspace, role="admin")
    member = add_member(workspace)
    with pytest.raises(MembershipNotAllowed):
        membership_role_change(workspace=workspace, user=member, role="admin", actor=admin)
    other_admin = add_member(workspace, role="admin")
    with pytest.raises(MembershipNotAllowed):
        membership_role_change(workspace=workspace, user=other_admin, role="member", actor=admin)
    membership_role_change(workspace=workspace, user=member, role="admin", actor=workspace.owner)


def test_admins_cannot_remove_members_or_admins(workspace):
    admin = add_member(workspace, role="admin")
    member = add_member(workspace)
    other_admin = add_member(workspace, role="admin")
    for user in (member, other_admin):
        with pytest.raises(MembershipNotAllowed):
            membership_remove(workspace=workspace, user=user, actor=admin)
    membership_remove(workspace=workspace, user=other_admin, actor=workspace.owner)
    membership_remove(workspace=workspace, user=admin, actor=admin)  # leaving is one's own choice


def test_only_the_owner_hands_the_workspace_over(workspace):
    admin = add_member(workspace, role="admin")
    with pytest.raises(MembershipNotAllowed):
        workspace_ownership_transfer(workspace=workspace, new_owner=admin, actor=admin)
