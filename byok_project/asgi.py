"""The ASGI application: the data plane (/v1/chat/completions, /v1/messages, /v1/models) beside Django.

    uvicorn byok_project.asgi:application --host 0.0.0.0 --port 8000 --workers N --loop uvloop \
        --http byok_project.http_protocol:HttpProtocol
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "byok_project.settings")

django_application = get_asgi_application()

from django.conf import settings  # noqa: E402

if settings.DEBUG:
    # Static files as runserver serves them in development; production serves collected files (WhiteNoise).
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_application = ASGIStaticFilesHandler(django_application)

from byok.gateway.app import DataPlane  # noqa: E402  (after Django is set up)

application = DataPlane(django_application)
