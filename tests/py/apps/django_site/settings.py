"""A minimal Django project for tests/py/test_wsgi.py: one app-less view module, SQLite
in a temporary file (DJANGO_TEST_DB), no migrations: the table is made at start-up."""

import os

SECRET_KEY = "ringbolt-test-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "django_site.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["DJANGO_TEST_DB"]}}
USE_TZ = True
LOGGING_CONFIG = None
