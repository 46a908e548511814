"""Settings for django-helpdesk in the ingest benchmark: SQLite, no outgoing mail.

The database and attachment directory live in HELPDESK_BENCH_DIR (set by run.sh).
"""
import os
from pathlib import Path

DATA = Path(os.environ.get("HELPDESK_BENCH_DIR", "/tmp/helpdesk-bench"))
SECRET_KEY = "benchmark-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
SITE_ID = 1
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "helpdesk",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "benchsite.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(DATA / "helpdesk.sqlite3")}}
# HELPDESK_SQLITE=wal gives SQLite the settings Mailroom uses (WAL, synchronous=NORMAL: no fsync
# per commit); "default" leaves Django's (rollback journal, synchronous=FULL).
if os.environ.get("HELPDESK_SQLITE", "wal") == "wal":
    DATABASES["default"]["OPTIONS"] = {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STATIC_URL = "/static/"
MEDIA_ROOT = str(DATA / "media")
MEDIA_URL = "/media/"
# Notification mail (new-ticket acknowledgements) is rendered but not sent anywhere.
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
DEFAULT_FROM_EMAIL = "helpdesk@example.com"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
# Teams need pinax-teams, which the email import does not use.
HELPDESK_TEAMS_MODE_ENABLED = False

# get_email always tries STARTTLS first and falls back to plain IMAP when that fails. Mailroom
# and the raw fetch read the benchmark Dovecot without TLS, so (unless HELPDESK_STARTTLS=1) the
# upgrade is refused here and all three read the same plain loopback connection.
if os.environ.get("HELPDESK_STARTTLS") != "1":
    import imaplib

    def _no_starttls(self, ssl_context=None):
        raise imaplib.IMAP4.error("STARTTLS switched off for the benchmark")

    imaplib.IMAP4.starttls = _no_starttls
