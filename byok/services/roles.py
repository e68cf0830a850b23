"""What byok needs to assume an owner's role: the owner's external ID, a session name naming the owner, the
platform's AWS credentials and the platform's AWS account (the principal of the trust policy)."""

import logging
import re
import secrets
import string
import threading

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.models import User

from ..models import RoleExternalId
from ..providers.base import Provider, RoleCaller

logger = logging.getLogger(__name__)

EXTERNAL_ID_PREFIX = "byok-"
_EXTERNAL_ID_ALPHABET = string.ascii_letters + string.digits
_SESSION_NAME_UNSAFE = re.compile(r"[^\w+=,.@-]", re.ASCII)  # STS: [\w+=,.@-]{2,64}
PLACEHOLDER_ACCOUNT = "<byok's AWS account ID>"


def owner_external_id(owner: User) -> str:
    """The owner's external ID, generated once (`byok-` + 24 random letters and digits) and never changed."""
    found = RoleExternalId.objects.filter(owner=owner).values_list("external_id", flat=True).first()
    if found:
        return found
    candidate = EXTERNAL_ID_PREFIX + "".join(secrets.choice(_EXTERNAL_ID_ALPHABET) for _ in range(24))
    try:
        with transaction.atomic():
            return RoleExternalId.objects.create(owner=owner, external_id=candidate).external_id
    except IntegrityError:  # created meanwhile by a concurrent request
        return RoleExternalId.objects.get(owner=owner).external_id


def role_session_name(username: str) -> str:
    """`byok-<username>` in STS's alphabet, at most 64 characters: CloudTrail in the owner's account names them."""
    name = EXTERNAL_ID_PREFIX + _SESSION_NAME_UNSAFE.sub("-", username)
    return name[:64]


def role_caller(owner: User, provider: Provider) -> RoleCaller:
    return RoleCaller(platform=provider.platform_credentials(settings.BYOK_PLATFORM_ENV),
                      external_id=owner_external_id(owner), session_name=role_session_name(owner.get_username()))


def caller_options(provider: Provider, owner: User) -> dict:
    """The extra keyword a provider that assumes roles takes (`caller`); nothing for the others."""
    return {"caller": role_caller(owner, provider)} if provider.assumes_role else {}


_derived: dict[tuple, str] = {}
_derived_lock = threading.Lock()


def platform_aws_account_id(provider: Provider) -> str:
    """The principal of every trust policy: BYOK_PLATFORM_AWS_ACCOUNT_ID, else the account of the platform's AWS
    credentials (asked of STS once per process), else a placeholder the page says to replace."""
    if settings.BYOK_PLATFORM_AWS_ACCOUNT_ID:
        return settings.BYOK_PLATFORM_AWS_ACCOUNT_ID
    platform = provider.platform_credentials(settings.BYOK_PLATFORM_ENV)
    if not platform.configured:
        return PLACEHOLDER_ACCOUNT
    cache_key = (platform.values.get("access_key_id"), tuple(sorted(settings.BYOK_ENDPOINTS.items())))
    with _derived_lock:
        if cache_key in _derived:
            return _derived[cache_key]
    from ..providers.bedrock.aws import sts_client

    try:
        account = sts_client(platform.values, region=platform.region or "us-east-1",
                             timeout=settings.BYOK_SESSION_STS_TIMEOUT).get_caller_identity()["Account"]
    except Exception as exc:  # the page still renders, with the placeholder
        logger.warning("Could not read the platform's AWS account (%s); set BYOK_PLATFORM_AWS_ACCOUNT_ID.",
                       type(exc).__name__)
        return PLACEHOLDER_ACCOUNT
    with _derived_lock:
        _derived[cache_key] = account
    return account
