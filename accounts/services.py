"""Writes to accounts. The admin, the API and the staff commands all call these."""

import secrets
import smtplib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.debug import sensitive_variables

from audit.models import AuditAction, AuditEvent
from audit.services.record import audit_record
from core.invalidation import generation_bump

from .errors import (
    AlreadyInvited,
    AlreadyMember,
    ApiKeyAlreadyRevoked,
    ApiKeyExpiryInvalid,
    ApiKeyNotAllowed,
    InvitationNotForYou,
    InvitationNotSent,
    InvitationUnusable,
    MembershipNotAllowed,
    NotAMember,
    OwnershipTransferRequired,
    SignUpInvalid,
    SlugTaken,
    UnknownPlan,
    UpgradeRequestInvalid,
)
from .models import ApiKey, Invitation, Membership, Plan, User, Workspace

# What can stop an API key working (or start it again) bumps this topic; the gateway's key cache listens to it.
# ApiKey writes bump it here; membership, workspace and user changes bump it from accounts.signals.
GATEWAY_TOPIC = "gateway"


def workspace_create(*, owner: User, name: str, slug: str | None = None, actor: User | None = None) -> Workspace:
    """Create a workspace with its owner as the owner member."""
    slug = slug or slugify(name)[:64]
    with transaction.atomic():
        if Workspace.objects.filter(slug=slug).exists():
            raise SlugTaken(f"The slug {slug!r} is already in use.", fields={"slug": ["This slug is already in use."]})
        workspace = Workspace(name=name, slug=slug, owner=owner)
        workspace.full_clean()
        workspace.save()
        Membership.objects.create(workspace=workspace, user=owner, role=Membership.Role.OWNER)
        audit_record(
            action=AuditAction.MEMBER_ADDED,
            actor=actor or owner,
            owner=owner,
            workspace=workspace,
            details={"user": owner.username, "role": Membership.Role.OWNER, "workspace_created": True},
        )
    return workspace


def membership_add(
    *, workspace: Workspace, user: User, role: str = Membership.Role.MEMBER, actor: User | None
) -> Membership:
    if role == Membership.Role.OWNER:
        raise OwnershipTransferRequired(
            "A workspace has one owner; transfer ownership instead.", fields={"role": ["Use ownership transfer."]}
        )
    try:
        with transaction.atomic():
            membership = Membership.objects.create(workspace=workspace, user=user, role=role)
            audit_record(
                action=AuditAction.MEMBER_ADDED,
                actor=actor,
                owner=workspace.owner,
                workspace=workspace,
                details={"user": user.username, "role": role},
            )
    except IntegrityError as exc:
        raise AlreadyMember(f"{user.username} is already a member of {workspace.slug}.") from exc
    return membership


def _membership(workspace: Workspace, user: User) -> Membership:
    try:
        return Membership.objects.select_for_update().get(workspace=workspace, user=user)
    except Membership.DoesNotExist as exc:
        raise NotAMember(f"{user.username} is not a member of {workspace.slug}.") from exc


def _require_owner(workspace: Workspace, actor: User | None, message: str) -> None:
    """Only the workspace's owner (or the system: no actor) may go on."""
    if actor is not None and actor.pk != workspace.owner_id:
        raise MembershipNotAllowed(message)


def membership_remove(*, workspace: Workspace, user: User, actor: User | None) -> None:
    """Remove a member (the owner does), or let a member leave (the member themselves). The owner must transfer
    ownership first; admins remove nobody but themselves."""
    with transaction.atomic():
        membership = _membership(workspace, user)
        if membership.role == Membership.Role.OWNER or user.pk == workspace.owner_id:
            raise OwnershipTransferRequired(
                f"{user.username} owns {workspace.slug}; transfer ownership before removing them."
            )
        if actor is None or actor.pk != user.pk:
            _require_owner(workspace, actor, f"Only the owner of {workspace.name} removes members.")
        membership.delete()
        audit_record(
            action=AuditAction.MEMBER_REMOVED,
            actor=actor,
            owner=workspace.owner,
            workspace=workspace,
            details={"user": user.username, "role": membership.role},
        )


def membership_role_change(*, workspace: Workspace, user: User, role: str, actor: User | None) -> Membership:
    with transaction.atomic():
        membership = _membership(workspace, user)
        if membership.role == Membership.Role.OWNER or role == Membership.Role.OWNER:
            raise OwnershipTransferRequired(
                "The owner's role changes only through ownership transfer.", fields={"role": ["Transfer ownership."]}
            )
        # The only other roles are member and admin: every change grants or removes admin.
        _require_owner(workspace, actor, f"Only the owner of {workspace.name} grants or removes admin.")
        previous = membership.role
        membership.role = role
        membership.full_clean()
        membership.save(update_fields=["role"])
        generation_bump(GATEWAY_TOPIC)  # cached resolutions in every data-plane process drop
        audit_record(
            action=AuditAction.MEMBER_ROLE_CHANGED,
            actor=actor,
            owner=workspace.owner,
            workspace=workspace,
            details={"user": user.username, "role": {"from": previous, "to": role}},
        )
    return membership


def workspace_ownership_transfer(*, workspace: Workspace, new_owner: User, actor: User | None) -> Workspace:
    """Make a member the owner; the previous owner stays on as an admin."""
    with transaction.atomic():
        workspace = Workspace.objects.select_for_update().get(pk=workspace.pk)
        previous_owner = workspace.owner
        _require_owner(workspace, actor, f"Only the owner of {workspace.name} hands it over.")
        if new_owner.pk == previous_owner.pk:
            return workspace
        incoming = _membership(workspace, new_owner)
        Membership.objects.filter(workspace=workspace, user=previous_owner).update(role=Membership.Role.ADMIN)
        incoming.role = Membership.Role.OWNER
        incoming.save(update_fields=["role"])
        workspace.owner = new_owner
        workspace.save(update_fields=["owner"])
        generation_bump(GATEWAY_TOPIC)  # cached resolutions in every data-plane process drop
        audit_record(
            action=AuditAction.OWNERSHIP_TRANSFERRED,
            actor=actor,
            owner=new_owner,
            workspace=workspace,
            details={"from": previous_owner.username, "to": new_owner.username},
        )
    return workspace


# --- invitations ---------------------------------------------------------------------------------------------
#
# Membership by invitation: an owner (any role) or an admin (member role only) invites an e-mail address; the
# link in the e-mail carries a random token (stored as its SHA-256 only) and works for any signed-in user whose
# e-mail address matches, until it expires (BYOK_INVITATION_DAYS), is revoked or is used. Nothing the inviter
# sees or receives depends on whether an account exists for the address: the same message, the same e-mail.

INVITATION_TOKEN_BYTES = 32
INVITABLE_ROLES = (Membership.Role.MEMBER, Membership.Role.ADMIN)


def _require_may_invite(workspace: Workspace, actor: User | None, role: str) -> None:
    if role not in INVITABLE_ROLES:
        raise OwnershipTransferRequired("Invite as member or admin; the owner is changed by ownership transfer.",
                                        fields={"role": ["Choose member or admin."]})
    if actor is None or actor.pk == workspace.owner_id:
        return
    actor_role = Membership.objects.filter(workspace=workspace, user=actor).values_list("role", flat=True).first()
    if actor_role != Membership.Role.ADMIN:
        raise MembershipNotAllowed(f"Only the owner and admins of {workspace.name} invite people.")
    if role != Membership.Role.MEMBER:
        raise MembershipNotAllowed(f"Only the owner of {workspace.name} invites admins; admins invite members.",
                                   fields={"role": ["Admins invite members only."]})


def _invitation_details(invitation: Invitation) -> dict:
    return {"invitation_id": invitation.pk, "email": invitation.email, "role": invitation.role,
            "expires_at": invitation.expires_at.isoformat()}


@sensitive_variables("token")
def invitation_create(*, workspace: Workspace, email: str, role: str = Membership.Role.MEMBER, actor: User | None,
                      link_for: Callable[[str], str]) -> tuple[Invitation, str]:
    """Invite an e-mail address to the workspace and send it the link (`link_for(token)`: the absolute URL of the
    page that accepts it, which is the surface's to say). Inviting an address again replaces its pending invitation (a new link; the old one
    stops working). Answers the invitation and its token, which is never shown again."""
    email = email.strip()
    _require_may_invite(workspace, actor, role)
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        # The members' e-mail addresses are on the inviter's own members page: this reveals nothing new.
        raise AlreadyMember(f"Someone with the e-mail address {email} is already a member of {workspace.name}.",
                            fields={"email": ["Already a member."]})
    token = secrets.token_urlsafe(INVITATION_TOKEN_BYTES)
    now = timezone.now()
    with transaction.atomic():
        pending = list(Invitation.objects.select_for_update().filter(
            workspace=workspace, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True,
            expires_at__gt=now))
        if pending and actor is not None and actor.pk != workspace.owner_id and any(
                p.role != Membership.Role.MEMBER for p in pending):
            raise AlreadyInvited(f"{email} has a pending invitation from the owner; only they can replace it.")
        for previous in pending:
            previous.revoked_at = now
            previous.save(update_fields=["revoked_at"])
        invitation = Invitation(workspace=workspace, email=email, role=role, invited_by=actor,
                                token_hash=Invitation.hash_of(token),
                                expires_at=now + timedelta(days=settings.BYOK_INVITATION_DAYS))
        invitation.full_clean()
        invitation.save()
        audit_record(
            action=AuditAction.INVITATION_SENT,
            actor=actor,
            owner=workspace.owner,
            workspace=workspace,
            details={**_invitation_details(invitation), "replaces": [p.pk for p in pending]},
        )
        _invitation_email(invitation, link=link_for(token))
    return invitation, token


def _invitation_email(invitation: Invitation, *, link: str) -> None:
    """The same e-mail whether or not the address has an account. A mail server that does not take it undoes the
    invitation (the caller's transaction rolls back): an invitation nobody received is no invitation."""
    context = {"invitation": invitation, "workspace": invitation.workspace, "link": link,
               "inviter": invitation.invited_by.get_username() if invitation.invited_by else "byok",
               "role": invitation.get_role_display().lower()}
    subject = " ".join(render_to_string("accounts/email/invitation_subject.txt", context).split())
    body = render_to_string("accounts/email/invitation_body.txt", context)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])
    except (smtplib.SMTPException, OSError) as exc:
        raise InvitationNotSent("The invitation e-mail could not be sent; nothing was saved. Try again later.") from exc


UNUSABLE_MESSAGES = {
    "unknown": "This invitation link is not valid. Check that you copied the whole link, or ask for a new one.",
    Invitation.State.EXPIRED: "This invitation has expired. Ask the person who invited you for a new one.",
    Invitation.State.REVOKED: "This invitation was withdrawn. Ask the person who invited you for a new one.",
    Invitation.State.ACCEPTED: "This invitation has already been used.",
}


def invitation_by_token(token: str, *, for_update: bool = False) -> Invitation:
    """The pending invitation a link's token names; InvitationUnusable (with its state) otherwise."""
    rows = Invitation.objects.select_related("workspace__owner", "invited_by")
    if for_update:
        rows = rows.select_for_update(of=("self",))  # PostgreSQL: the joined rows may be NULL
    invitation = rows.filter(token_hash=Invitation.hash_of(token)).first()
    if invitation is None:
        raise InvitationUnusable(UNUSABLE_MESSAGES["unknown"], state="unknown")
    state = invitation.state_at(timezone.now())
    if state != Invitation.State.PENDING:
        raise InvitationUnusable(UNUSABLE_MESSAGES[state], state=state)
    return invitation


def invitation_is_for(invitation: Invitation, user: User) -> bool:
    return bool(user.email) and user.email.strip().casefold() == invitation.email.strip().casefold()


@sensitive_variables("token", "password")
def invitation_sign_up(*, token: str, username: str, password: str) -> Membership:
    """A person without an account accepts the invitation: a new account bound to the invitation's e-mail address
    (the password passes AUTH_PASSWORD_VALIDATORS), then the membership, in one transaction; nothing is stored when
    anything is refused. The INVITATION_ACCEPTED audit event says the account is new."""
    with transaction.atomic():
        invitation = invitation_by_token(token, for_update=True)
        user = User(username=(username or "").strip(), email=invitation.email.strip())
        errors: dict[str, list[str]] = {}
        try:
            user.full_clean(exclude=["password", "plan", "email"], validate_unique=False)
        except ValidationError as exc:
            errors.update({name: list(messages) for name, messages in exc.message_dict.items()})
        if "username" not in errors and User.objects.filter(username__iexact=user.username).exists():
            errors["username"] = ["This username is taken: choose another."]
        if User.objects.filter(email__iexact=user.email).exists():
            errors["email"] = ["An account already has this e-mail address: sign in with it to accept."]
        try:
            validate_password(password or "", user)
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
        if errors:
            raise SignUpInvalid("The account cannot be created as entered; nothing was stored.", fields=errors)
        user.set_password(password)
        user.save()
        return invitation_accept(token=token, user=user, new_account=True)


@sensitive_variables("token")
def invitation_accept(*, token: str, user: User, new_account: bool = False) -> Membership:
    """The signed-in `user` accepts the invitation the token names: they become a member with its role."""
    with transaction.atomic():
        invitation = invitation_by_token(token, for_update=True)
        if not invitation_is_for(invitation, user):
            raise InvitationNotForYou("This invitation was sent to another e-mail address. Sign in with the "
                                      "account that has that address to accept it.")
        workspace = invitation.workspace
        if Membership.objects.filter(workspace=workspace, user=user).exists():
            raise AlreadyMember(f"You are already a member of {workspace.name}.")
        membership = Membership.objects.create(workspace=workspace, user=user, role=invitation.role)
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit_record(
            action=AuditAction.INVITATION_ACCEPTED,
            actor=user,
            owner=workspace.owner,
            workspace=workspace,
            details={**_invitation_details(invitation), "user": user.username,
                     "invited_by": invitation.invited_by.get_username() if invitation.invited_by else None}
            | ({"account_created": True} if new_account else {}),
        )
    return membership


def invitation_revoke(*, invitation: Invitation, actor: User | None) -> Invitation:
    """Withdraw a pending invitation: its link stops working. The owner revokes any; an admin, member invitations."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update(of=("self",)).select_related("workspace").get(pk=invitation.pk)
        _require_may_invite(invitation.workspace, actor, invitation.role)
        state = invitation.state_at(timezone.now())
        if state != Invitation.State.PENDING:
            raise InvitationUnusable(f"The invitation to {invitation.email} is {state.label.lower()}; "
                                     f"there is nothing to revoke.", state=state)
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(
            action=AuditAction.INVITATION_REVOKED,
            actor=actor,
            owner=invitation.workspace.owner,
            workspace=invitation.workspace,
            details=_invitation_details(invitation),
        )
    return invitation


def user_plan_change(*, user: User, plan_code: str, actor: User | None) -> User:
    """Move a user to another plan. BYOK follows at once: a downgrade stops it, an upgrade brings it back."""
    try:
        plan = Plan.objects.get(code=plan_code)
    except Plan.DoesNotExist as exc:
        codes = ", ".join(Plan.objects.values_list("code", flat=True))
        raise UnknownPlan(f"Unknown plan {plan_code!r}; choose one of: {codes}.", fields={"plan": ["Unknown plan."]}) from exc
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        previous = user.plan_id
        if previous == plan.code:
            return user
        user.plan = plan
        user.save(update_fields=["plan"])
        generation_bump(GATEWAY_TOPIC)  # cached resolutions in every data-plane process drop
        audit_record(
            action=AuditAction.PLAN_CHANGED,
            actor=actor,
            owner=user,
            details={"plan": {"from": previous, "to": plan.code}, "byok_allowed": plan.byok_allowed},
        )
    return user


UPGRADE_REQUEST_INTERVAL = timedelta(days=1)


def plan_upgrade_request(*, user: User, plan_code: str) -> None:
    """The owner asks to move to a plan that adds bring-your-own-key: audited, and staff are e-mailed (after the
    commit) to approve it with `set_plan` or the staff admin. Once a day at most."""
    plan = Plan.objects.filter(code=plan_code, byok_allowed=True).first()
    if plan is None or plan.code == user.plan_id:
        raise UpgradeRequestInvalid("Choose a plan that adds bring-your-own-key.",
                                    fields={"plan": ["Not a plan you can upgrade to."]})
    recent = timezone.now() - UPGRADE_REQUEST_INTERVAL
    if AuditEvent.objects.filter(action=AuditAction.PLAN_UPGRADE_REQUESTED, owner_id=user.pk,
                                 created_at__gte=recent).exists():
        raise UpgradeRequestInvalid("You already asked in the last 24 hours; staff have been told.",
                                    fields={"plan": ["Already requested today."]})
    staff = list(User.objects.filter(is_staff=True, is_active=True).exclude(email="").values_list("email", flat=True))
    with transaction.atomic():
        audit_record(action=AuditAction.PLAN_UPGRADE_REQUESTED, actor=user, owner=user,
                     details={"plan": {"from": user.plan_id, "to": plan.code}, "staff_notified": len(staff)})
        if staff:
            body = (f"{user.username} ({user.email or 'no e-mail'}) asks to move from the {user.plan.name} plan to "
                    f"{plan.name}.\n\nApprove with: python manage.py set_plan {user.username} {plan.code}\n"
                    f"or in the staff admin (Users > {user.username} > Plan).\n")
            transaction.on_commit(lambda: send_mail(f"[byok] Plan upgrade request: {user.username} → {plan.name}",
                                                    body, settings.DEFAULT_FROM_EMAIL, staff, fail_silently=True))


# --- workspace API keys and control-plane API tokens (one model: a token is an ApiKey with no workspace) --------

API_KEY_RANDOM_BYTES = 32
API_KEY_USED_EVERY = timedelta(minutes=1)


def api_key_hint(raw_key: str) -> str:
    return f"{ApiKey.PREFIX}…{raw_key[-4:]}"


@sensitive_variables("raw_key")
def api_key_create(
    *, workspace: Workspace, user: User, name: str, expires_at: datetime | None = None, actor: User | None
) -> tuple[ApiKey, str]:
    """A new key for a member of the workspace: the key object and the key itself, which is never shown again."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ApiKeyExpiryInvalid("An API key must expire in the future.",
                                  fields={"expires_at": ["Must be in the future."]})
    raw_key = ApiKey.PREFIX + secrets.token_urlsafe(API_KEY_RANDOM_BYTES)
    with transaction.atomic():
        if not Membership.objects.filter(workspace=workspace, user=user).exists():
            raise NotAMember(f"{user.username} is not a member of {workspace.slug}.")
        key = ApiKey(workspace=workspace, user=user, name=name, expires_at=expires_at,
                     key_hint=api_key_hint(raw_key), key_hash=ApiKey.hash_of(raw_key))
        key.full_clean()
        key.save()
        audit_record(
            action=AuditAction.API_KEY_CREATED,
            actor=actor,
            owner=workspace.owner,
            workspace=workspace,
            details=_api_key_details(key),
        )
        # A brand-new hash cannot be in any cache, so this bump is for the rule's sake: every key write bumps.
        generation_bump(GATEWAY_TOPIC)
    return key, raw_key


@sensitive_variables("raw_token")
def api_token_create(*, user: User, name: str = "", expires_in_days: int | None = None,
                     actor: User | None) -> tuple[ApiKey, str]:
    """A new control-plane API token for `user` (an ApiKey with no workspace): the token object and the token itself,
    which is never shown again. It expires after `expires_in_days`, by default BYOK_API_TOKEN_DAYS."""
    days = settings.BYOK_API_TOKEN_DAYS if expires_in_days is None else expires_in_days
    if days < 1:
        raise ApiKeyExpiryInvalid("An API token must expire in the future.",
                                  fields={"expires_in_days": ["Must be at least 1."]})
    raw_token = ApiKey.PREFIX + secrets.token_urlsafe(API_KEY_RANDOM_BYTES)
    with transaction.atomic():
        token = ApiKey(workspace=None, user=user, name=name or "API token",
                       expires_at=timezone.now() + timedelta(days=days),
                       key_hint=api_key_hint(raw_token), key_hash=ApiKey.hash_of(raw_token))
        token.full_clean()
        token.save()
        audit_record(action=AuditAction.API_TOKEN_CREATED, actor=actor, owner=user, details=_api_key_details(token))
        generation_bump(GATEWAY_TOPIC)
    return token, raw_token


def api_key_revoke(*, key: ApiKey, actor: User | None) -> ApiKey:
    """Revoke a key or a token (for good): its own user, or (a workspace key) an owner or admin of its workspace.
    Every process refuses it on its next call (this one at once, the others within the gateway's poll interval)."""
    with transaction.atomic():
        key = ApiKey.objects.select_for_update(of=("self",)).select_related("workspace__owner", "user").get(pk=key.pk)
        if actor is not None and actor.pk != key.user_id and (key.is_token or not Membership.objects.filter(
            workspace_id=key.workspace_id, user=actor, role__in=Membership.MANAGING_ROLES
        ).exists()):
            raise ApiKeyNotAllowed("Only the key's own member, or an owner or admin of its workspace, can revoke it.")
        kind = "API token" if key.is_token else "API key"
        if key.revoked_at is not None:
            raise ApiKeyAlreadyRevoked(f"The {kind} {key.key_hint} is already revoked.")
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(
            action=AuditAction.API_TOKEN_REVOKED if key.is_token else AuditAction.API_KEY_REVOKED,
            actor=actor,
            owner=key.user if key.is_token else key.workspace.owner,
            workspace=key.workspace,
            details=_api_key_details(key),
        )
        generation_bump(GATEWAY_TOPIC)
    return key


def api_key_mark_used(ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Record that keys were used: at most one write per key a minute (the data plane calls this from its usage
    batch, off the hot path). Answers how many keys were written."""
    ids = sorted(set(ids))
    if not ids:
        return 0
    now = now or timezone.now()
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - API_KEY_USED_EVERY)
    return ApiKey.objects.filter(stale, pk__in=ids).update(last_used_at=now)


def _api_key_details(key: ApiKey) -> dict:
    return {"api_key_id": key.pk, "name": key.name, "key_hint": key.key_hint, "user": key.user.username,
            "expires_at": key.expires_at.isoformat() if key.expires_at else None}
