"""Django itself: apps, middleware, templates, static files, security headers, email."""

import os
import secrets
from pathlib import Path

from .env import BASE_DIR, PRODUCTION, VAR_DIR, development_secret, env_bool, env_int, env_list

SECRET_KEY = development_secret("SECRET_KEY", "secret_key", lambda: secrets.token_urlsafe(50))
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "core",
    "accounts",
    "audit",
    "byok",
]

MIDDLEWARE = [
    "core.request_context.RequestContextMiddleware",
    # Under /api/ every error is JSON in the documented shape, DEBUG or not (core/api.py).
    "core.api.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if PRODUCTION:
    # Serves the collected static files (admin, API docs) from the app server; runserver does it in development.
    MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "byok_project.urls"
WSGI_APPLICATION = "byok_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_REDIRECT_URL = "/manage/"  # a sign-in without ?next= lands on the owner console, not /accounts/profile/

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security (production) -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# --- Email ------------------------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "byok <byok@localhost>")
# Django's file backend (django.core.mail.backends.filebased.EmailBackend) writes each e-mail here: what the
# workers sent, readable from another process.
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH") or str(VAR_DIR / "mail")

# --- Sign-in protection (accounts/lockout.py) -------------------------------------------------------------
# The lockout backend comes first: a locked account or address is refused before any password is checked.
AUTHENTICATION_BACKENDS = ["accounts.lockout.LockoutBackend", "django.contrib.auth.backends.ModelBackend"]
# Days a control-plane API token (POST /api/v1/auth/token/) stays valid unless the request asks for fewer or more.
BYOK_API_TOKEN_DAYS = env_int("BYOK_API_TOKEN_DAYS", 30)
# Failed sign-ins (API token, owner console, staff admin) before an account, or a client address, is locked.
BYOK_LOGIN_FAILURE_LIMIT = env_int("BYOK_LOGIN_FAILURE_LIMIT", 20)
# The first lockout's length; each further one within a day doubles it, up to the maximum.
BYOK_LOGIN_LOCKOUT_SECONDS = env_int("BYOK_LOGIN_LOCKOUT_SECONDS", 900)
BYOK_LOGIN_LOCKOUT_MAX_SECONDS = env_int("BYOK_LOGIN_LOCKOUT_MAX_SECONDS", 86400)
# The client address is REMOTE_ADDR. Behind N reverse proxies of your own (load balancer, ingress) that each append
# to X-Forwarded-For, set this to N: the address the outermost proxy saw is used. 0 ignores X-Forwarded-For, which
# any client can forge; never set it higher than the proxies really in front of the app.
BYOK_TRUSTED_PROXY_COUNT = env_int("BYOK_TRUSTED_PROXY_COUNT", 0)
