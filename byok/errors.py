from byok_project.errors import DomainError


class PlanRequired(DomainError):
    """The owner's plan does not allow BYOK."""

    code = "plan_required"
    status = 403


class KeyInvalid(DomainError):
    """A non-credential field of a key is wrong (name taken, workspace not the owner's, …)."""

    code = "invalid"
    status = 400


class ConfirmationRequired(DomainError):
    code = "confirmation_required"
    status = 400


class ConnectionTestFailed(DomainError):
    """Test-before-save failed: nothing was stored. `details["test"]` carries the result."""

    code = "connection_test_failed"
    status = 400
