from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from .lockout import locked_for, locked_out_message


class LockoutMessageMixin:
    """On an AuthenticationForm: a sign-in refused by the lockout says so (and when to retry), instead of the
    generic wrong-credentials message. Neither message tells which of username and password was wrong."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            left = locked_for(self.request) if self.request is not None else 0
            if left:
                raise ValidationError(locked_out_message(left), code="locked_out") from None
            raise


class StaffAuthenticationForm(LockoutMessageMixin, AdminAuthenticationForm):
    """The staff admin's sign-in form (/admin/login/)."""
