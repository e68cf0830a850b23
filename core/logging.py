import json
import logging
import re
from datetime import UTC, datetime

from django.views.debug import SafeExceptionReporterFilter

from .request_context import current_request_context


class RequestContextFilter(logging.Filter):
    """Stamps each record with the id of the request that caused it, so log lines and audit events meet."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_request_context()
        record.request_id = context.request_id if context else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text  # already redacted by RedactingFilter when it ran
        if record.stack_info:
            payload["stack"] = record.stack_info
        return json.dumps(payload, default=str)


# --- redaction: the last line of defence ----------------------------------------------------------------------
# Code never logs a secret on purpose; this catches the accident (an SDK's debug line, an exception that echoes a
# header, a URL with a presigned query). Shapes, not values: it knows what credentials look like, not which exist.

# One cheap test first: most records contain none of these and skip the real patterns.
_SUSPICIOUS = re.compile(
    r"AKIA|ASIA|sk-|xai-|ABSK|byok_|bedrock-api-key-|FwoGZXIvYXdz|IQoJb3JpZ2lu|bearer|authorization|x-api-key|x-amz-"
    r"|secret|token|password|passwd|api_?key|api-key|PRIVATE KEY|private_key|ya29\.",
    re.IGNORECASE,
)
_AWS_KEY_ID = re.compile(r"(?P<prefix>AKIA|ASIA)[A-Z0-9]{12}(?P<tail>[A-Z0-9]{4})(?![A-Z0-9])")
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")
# Prefixed API keys, longest prefix first so the hint keeps it whole (sk-ant-…a1b2, not sk-…a1b2).
_PREFIXED_KEY = re.compile(
    r"(?<![A-Za-z0-9_-])(?P<prefix>sk-ant-|sk-proj-|sk-svcacct-|sk-admin-|sk-|xai-|ABSK|bedrock-api-key-|byok_)"
    r"[A-Za-z0-9_+/=.%-]{12,}(?P<tail>[A-Za-z0-9]{4})"
)
_AWS_SESSION_TOKEN = re.compile(r"(?:FwoGZXIvYXdz|IQoJb3JpZ2lu)[A-Za-z0-9/+=%_-]{8,}")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{6,}")
# A header or a field whose whole value is a credential, whatever its shape; up to the end of the value.
_HEADER_VALUE = re.compile(r"(?i)\b(authorization|proxy-authorization|x-api-key)([\"']?\s*[:=]\s*[\"']?)[^\"'\r\n]+")
_NAMED_VALUE = re.compile(
    r"(?i)(?<![A-Za-z0-9])((?:aws_)?(?:secret_access_key|secretaccesskey|session_token|sessiontoken|security_token"
    r"|api_key|apikey|api-key|access_token|refresh_token|client_secret|password|passwd|private_key"
    r"|x-amz-security-token|x-amz-signature))([\"']?\s*[:=]\s*[\"']?)[^\s\"',&;<>]+"
)
# A PEM private key (a service-account key file's private_key), raw or JSON-escaped (\n), and Google access tokens.
_PEM_PRIVATE_KEY = re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL)
_GOOGLE_ACCESS_TOKEN = re.compile(r"ya29\.[A-Za-z0-9_.-]{10,}")
REDACTED = "[redacted]"


def _hint(match: re.Match) -> str:
    return f"{match['prefix']}…{match['tail']}"


def redact(text: str) -> str:
    """`text` with anything shaped like a credential replaced by a hint (`AKIA…7XQ2`) or `[redacted]`."""
    if not _SUSPICIOUS.search(text):
        return text
    found_key_id = _AWS_KEY_ID.search(text) is not None
    text = _PEM_PRIVATE_KEY.sub(REDACTED, text)
    text = _GOOGLE_ACCESS_TOKEN.sub(REDACTED, text)
    text = _HEADER_VALUE.sub(lambda m: m[1] + m[2] + REDACTED, text)
    text = _NAMED_VALUE.sub(lambda m: m[1] + m[2] + REDACTED, text)
    text = _BEARER.sub(lambda m: m[1] + REDACTED, text)
    text = _AWS_SESSION_TOKEN.sub(REDACTED, text)
    text = _PREFIXED_KEY.sub(_hint, text)
    if found_key_id:
        # A bare 40-character string is only treated as a secret beside an access key id (else: git hashes…).
        text = _AWS_SECRET.sub(REDACTED, text)
    return _AWS_KEY_ID.sub(_hint, text)


class RedactingFilter(logging.Filter):
    """Redacts credential-shaped text from a record's message, exception text and stack before any handler writes it.

    The message is formatted here (args merged in) so a secret passed as an argument is caught too; the record then
    carries the redacted text and no args. Exception text is formatted once and cached on the record
    (`exc_text`), which every `logging.Formatter` reuses instead of formatting the exception again.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it for the handler to report
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _EXCEPTION_FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_EXCEPTION_FORMATTER = logging.Formatter()


class AlwaysFilteringExceptionReporter(SafeExceptionReporterFilter):
    """Django hides sensitive_variables only when DEBUG is off; credentials stay hidden on the debug page too."""

    def is_active(self, request) -> bool:
        return True
