"""Connection tests: do these credentials work, and can they reach the models byok needs?"""

from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.utils import timezone

from ..providers.base import Credentials


@dataclass
class ConnectionTestResult:
    ok: bool
    category: str | None = None
    hint: str = ""
    checks: list[dict] = field(default_factory=list)
    account: str | None = None
    tested_at: datetime = field(default_factory=timezone.now)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["tested_at"] = self.tested_at.isoformat()
        return data


def connection_test(*, provider: str, credentials: Credentials, inference_profile: str = "") -> ConnectionTestResult:
    """Test-before-save hook; the test-connection work replaces this with real SDK checks."""
    return ConnectionTestResult(ok=True)
