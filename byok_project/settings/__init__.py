"""Settings come from the environment (12-factor); every variable is listed in docs/operations.md and .env.example.

Development runs on embedded defaults (SQLite and a filesystem broker under ./var/). Production
(`DJANGO_ENV=production`, or `DEBUG=false`) has no insecure default: secrets must be given. One module per topic, star-imported in dependency order.
"""
# isort: skip_file

from .env import *  # noqa: F401,F403
from .base import *  # noqa: F401,F403
from .database import *  # noqa: F401,F403
from .api import *  # noqa: F401,F403
from .broker import *  # noqa: F401,F403
from .logs import *  # noqa: F401,F403
from .audit import *  # noqa: F401,F403
from .byok import *  # noqa: F401,F403
