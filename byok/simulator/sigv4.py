"""Server-side SigV4 verification, reusing botocore's own canonicalisation so we agree with every real client.

AWS checks a signature by rebuilding the canonical request from what arrived on the wire, restricted to the headers
the client says it signed, and signing it again with the secret it holds for the access key. We do the same with
`botocore.auth.SigV4Auth` on a reconstructed `AWSRequest`.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW_SECONDS = 15 * 60  # AWS rejects requests signed more than 15 minutes away from its clock

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


class SignatureError(Exception):
    """The request is signed, but not correctly; `reason` is AWS's wording."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedRequest:
    """What the Authorization header claims: who signed, for which day, region and service, and which headers."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str | None) -> SignedRequest | None:
    """None when the header is absent or not SigV4 (AWS then answers "missing authentication token")."""
    match = _AUTHORIZATION.match((value or "").strip())
    if not match:
        return None
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        return None
    access_key_id, date, region, service, _ = parts
    return SignedRequest(
        access_key_id=access_key_id,
        date=date,
        region=region,
        service=service,
        signed_headers=tuple(match["signed"].split(";")),
        signature=match["signature"],
    )


def verify_signature(
    *,
    signed: SignedRequest,
    secret_access_key: str,
    expected_service: str,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Message,
    body: bytes,
) -> None:
    """Raise SignatureError unless the request was signed with `secret_access_key` for `expected_service`."""
    if signed.service != expected_service:
        raise SignatureError(f"Credential should be scoped to correct service: '{expected_service}'. ")
    amz_date = headers.get("X-Amz-Date", "")
    if not amz_date.startswith(signed.date):
        raise SignatureError(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP."
        )
    try:
        signed_at = datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError("Invalid X-Amz-Date.") from None
    skew = abs((datetime.now(UTC) - signed_at).total_seconds())
    if skew > MAX_CLOCK_SKEW_SECONDS:
        raise SignatureError(f"Signature expired: {amz_date} is now earlier or later than the allowed 15 minutes.")
    if "host" not in signed.signed_headers:
        raise SignatureError("'Host' must be a signed header.")

    # Only the headers the client signed take part; proxies and HTTP libraries may add others after signing.
    signed_header_values = {
        name: ",".join(headers.get_all(name) or []) for name in signed.signed_headers if headers.get(name) is not None
    }
    query = f"?{raw_query}" if raw_query else ""
    request = AWSRequest(
        method=method,
        # http:// makes botocore hash the payload, as every client does over plain HTTP; over HTTPS a client that
        # skips payload signing says so in the signed X-Amz-Content-SHA256 header, which botocore honours.
        url=f"http://{headers.get('Host', '')}{raw_path}{query}",
        headers=signed_header_values,
        data=body,
    )
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(signed.access_key_id, secret_access_key), signed.service, signed.region)
    canonical_request = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical_request), request)
    if not hmac.compare_digest(expected, signed.signature):
        raise SignatureError(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
        )
