from core.errors import DomainError


class OwnershipTransferRequired(DomainError):
    """The owner's membership cannot be removed or demoted; ownership must be transferred first."""

    code = "ownership_transfer_required"
    status = 409


class AlreadyMember(DomainError):
    code = "already_member"
    status = 409


class NotAMember(DomainError):
    code = "not_a_member"
    status = 404


class UnknownPlan(DomainError):
    code = "unknown_plan"
    status = 400


class SlugTaken(DomainError):
    code = "slug_taken"
    status = 409


class ApiKeyNotAllowed(DomainError):
    """The caller may not act on this API key (another member's key, and the caller does not manage the workspace)."""

    code = "api_key_not_allowed"
    status = 403


class ApiKeyAlreadyRevoked(DomainError):
    code = "api_key_already_revoked"
    status = 409


class ApiKeyExpiryInvalid(DomainError):
    code = "invalid"
    status = 400


class MembershipNotAllowed(DomainError):
    """The actor's role does not allow this change (only the owner grants or removes admin, or removes members)."""

    code = "membership_not_allowed"
    status = 403


class AlreadyInvited(DomainError):
    code = "already_invited"
    status = 409


class InvitationUnusable(DomainError):
    """The link is unknown, expired, revoked or already used; `state` says which."""

    code = "invitation_unusable"
    status = 410

    def __init__(self, message: str, *, state: str, **kwargs):
        super().__init__(message, **kwargs)
        self.state = state


class InvitationNotForYou(DomainError):
    code = "invitation_not_for_you"
    status = 403


class InvitationNotSent(DomainError):
    code = "invitation_not_sent"
    status = 503


class SignUpInvalid(DomainError):
    """A new account on an invitation's link cannot be created as asked (the fields say why)."""

    code = "invalid"
    status = 400


class UpgradeRequestInvalid(DomainError):
    """A plan upgrade request that cannot be made (already on that plan, not an upgrade, asked very recently)."""

    code = "invalid"
    status = 400
