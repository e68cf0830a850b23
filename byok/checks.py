from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from .crypto import Keyring


@register()
def encryption_keys_configured(app_configs, **kwargs):
    """No key, or a malformed one, stops start-up: saving or reading a credential would fail later anyway."""
    try:
        Keyring(settings.BYOK_ENCRYPTION_KEYS)
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="Set BYOK_ENCRYPTION_KEYS (see docs/security.md, Encryption at rest).", id="byok.E001")]
    return []
