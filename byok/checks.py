from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from .crypto import Keyring
from .providers.registry import endpoint_overrides


@register()
def encryption_keys_configured(app_configs, **kwargs):
    """No key, or a malformed one, stops start-up: saving or reading a credential would fail later anyway."""
    try:
        Keyring(settings.BYOK_ENCRYPTION_KEYS)
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="Set BYOK_ENCRYPTION_KEYS (see docs/security.md, Encryption at rest).", id="byok.E001")]
    return []


@register()
def endpoint_settings_known(app_configs, **kwargs):
    """An endpoint setting no provider reads (a typo, a removed provider) would leave calls on the real provider."""
    known = endpoint_overrides()
    return [Warning(f"{name} is set but no provider reads it.", id="byok.W001",
                    hint=f"Endpoint settings: {', '.join(known)}.")
            for name in settings.BYOK_ENDPOINTS if name not in known]
