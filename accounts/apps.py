from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from . import (
            lockout,  # noqa: F401  (connects the sign-in failure counters)
            signals,  # noqa: F401  (connects the gateway invalidation signals)
        )
