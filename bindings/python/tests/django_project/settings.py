"""Minimal Django settings for imagor.contrib.django's tests. The
THUMBOR_* names are django-thumbor's, read by both it and imagor."""

SECRET_KEY = "tests-only"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["imagor.contrib.django"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
MEDIA_URL = "/media/"
STATIC_URL = "/static/"

THUMBOR_SERVER = "https://thumbor.example.com/"
THUMBOR_SECURITY_KEY = "thumbor-key"
THUMBOR_MEDIA_URL = "http://origin.example.com/media"
THUMBOR_ARGUMENTS = {"smart": True}
THUMBOR_ALIASES = {"thumb": {"width": 100, "height": 100, "filters": ["format(webp)"]}}
