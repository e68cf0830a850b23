"""Staff admin for byok, at /admin/ (the owner console, at /manage/, lives in byok/console/)."""

from . import catalog, keys, usage  # noqa: F401  (register the ModelAdmins)
