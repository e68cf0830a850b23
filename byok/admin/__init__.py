"""Staff admin for byok (the owner console lives in byok/admin/console.py once built)."""

from . import keys  # noqa: F401  (register the ModelAdmins)
