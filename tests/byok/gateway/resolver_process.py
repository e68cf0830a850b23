"""A separate process that keeps resolving (warm: its own connection and client cache), for cross-process tests.

Reads "<user id> <workspace slug>" lines on stdin; answers each with one JSON line describing the resolution.
"""

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "byok_project.settings")
django.setup()

from accounts.models import User  # noqa: E402
from byok.gateway.resolve import NotAMemberOfWorkspace, credentials_resolve  # noqa: E402

for line in sys.stdin:
    user_id, slug = line.split()
    try:
        resolution = credentials_resolve(user=User(pk=int(user_id)), workspace_slug=slug)
        answer = {"source": resolution.source, "reason": resolution.reason, "key_hint": resolution.key_hint,
                  "models": resolution.describe()["models"]}
    except NotAMemberOfWorkspace:
        answer = {"source": None, "reason": "not_a_member", "key_hint": ""}
    print(json.dumps({"pid": os.getpid(), **answer}), flush=True)
