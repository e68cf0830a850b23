"""Staff admin for byok, at /admin/ (the owner console, at /manage/, lives in byok/console/)."""

from . import catalog, keys, limits, usage  # noqa: F401  (register the ModelAdmins)
