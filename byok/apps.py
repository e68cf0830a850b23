from django.apps import AppConfig


class ByokConfig(AppConfig):
    name = "byok"
    verbose_name = "Bring your own key"

    def ready(self):
        from audit.models import AuditSink
        from audit.services.sinks import register_sink

        from . import checks  # noqa: F401  (registers the system checks)
        from .catalog import services as catalog_services  # noqa: F401  (catalog writes bump its generation)
        from .services.notifications import OWNER_EMAIL_ACTIONS, ship_to_owner_email

        # Owners are emailed about their keys' trouble: once per event, as an audit sink (a mail outage delays it).
        register_sink(AuditSink.OWNER_EMAIL, ship_to_owner_email, actions=OWNER_EMAIL_ACTIONS)
