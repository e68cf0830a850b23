import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "byok_project.settings")

app = Celery("byok_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def use_django_logging(**kwargs):
    """Workers log through Django's LOGGING (same format, request ids, redaction) instead of Celery's own."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
