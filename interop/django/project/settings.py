"""
Settings of the fixture: a stock Django + DRF + simplejwt project (rotation and blacklist on, as
the stack baton replaces runs it), configured entirely from the environment so each test picks
the database and the SIMPLE_JWT settings it is about. Nothing here is baton-specific.

DATABASE_URL  sqlite:////abs/path.sqlite3 or postgres://user@host:port/name (dj-database-url form)
DJANGO_SECRET_KEY, SJ_ALGORITHM, SJ_SIGNING_KEY, SJ_VERIFYING_KEY (PEM), SJ_JWK_URL, SJ_AUDIENCE,
SJ_ISSUER, SJ_USER_ID_CLAIM, SJ_ACCESS_SECONDS, SJ_REFRESH_SECONDS, SJ_ROTATE, SJ_BLACKLIST
DJANGO_CACHE_URL  redis://host:port/db: django-redis as the cache (bench/peers); unset, Django's default
"""
import os
from datetime import timedelta
from urllib.parse import unquote, urlsplit

SECRET_KEY = os.environ.get('DJANGO_SECRET_KEY', 'django-insecure-fixture-key-not-for-production-0123456789')
DEBUG = False
ALLOWED_HOSTS = ['*']
USE_TZ = True
ROOT_URLCONF = 'project.urls'
WSGI_APPLICATION = 'project.wsgi.application'
DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'

INSTALLED_APPS = [
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'rest_framework',
    'rest_framework_simplejwt',
    'rest_framework_simplejwt.token_blacklist',
    'accounts',
]
MIDDLEWARE = ['django.middleware.common.CommonMiddleware']


def _database(url):
    parts = urlsplit(url)
    if parts.scheme == 'sqlite':
        # dj-database-url: sqlite:////abs/path -> /abs/path
        return {'ENGINE': 'django.db.backends.sqlite3', 'NAME': unquote(parts.path[1:] if parts.path.startswith('//') else parts.path)}
    if parts.scheme in ('postgres', 'postgresql'):
        return {
            'ENGINE': 'django.db.backends.postgresql',
            'NAME': unquote(parts.path.lstrip('/')),
            'USER': unquote(parts.username or ''),
            'PASSWORD': unquote(parts.password or ''),
            'HOST': parts.hostname or '',
            'PORT': str(parts.port or ''),
        }
    raise ValueError('DATABASE_URL: sqlite:// or postgres:// expected')


DATABASES = {'default': _database(os.environ.get('DATABASE_URL', 'sqlite:////tmp/baton-django-fixture.sqlite3'))}

if os.environ.get('DJANGO_CACHE_URL'):
    CACHES = {'default': {'BACKEND': 'django_redis.cache.RedisCache', 'LOCATION': os.environ['DJANGO_CACHE_URL']}}

# Every hasher Django 3.2 ships that baton verifies (scrypt arrives in Django 4.0; the seed
# command writes Django 4's scrypt format itself).
PASSWORD_HASHERS = [
    'django.contrib.auth.hashers.PBKDF2PasswordHasher',
    'django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher',
    'django.contrib.auth.hashers.Argon2PasswordHasher',
    'django.contrib.auth.hashers.BCryptSHA256PasswordHasher',
    'django.contrib.auth.hashers.BCryptPasswordHasher',
]
AUTH_PASSWORD_VALIDATORS = []

REST_FRAMEWORK = {
    'DEFAULT_AUTHENTICATION_CLASSES': ['rest_framework_simplejwt.authentication.JWTAuthentication'],
    'DEFAULT_PERMISSION_CLASSES': ['rest_framework.permissions.IsAuthenticated'],
}


def _env(name, default=None):
    value = os.environ.get(name)
    return default if value in (None, '') else value


SIMPLE_JWT = {
    'ALGORITHM': _env('SJ_ALGORITHM', 'HS256'),
    'SIGNING_KEY': _env('SJ_SIGNING_KEY', SECRET_KEY),
    'VERIFYING_KEY': _env('SJ_VERIFYING_KEY'),
    'JWK_URL': _env('SJ_JWK_URL'),
    'AUDIENCE': _env('SJ_AUDIENCE'),
    'ISSUER': _env('SJ_ISSUER'),
    'USER_ID_CLAIM': _env('SJ_USER_ID_CLAIM', 'user_id'),
    'ACCESS_TOKEN_LIFETIME': timedelta(seconds=int(_env('SJ_ACCESS_SECONDS', '300'))),
    'REFRESH_TOKEN_LIFETIME': timedelta(seconds=int(_env('SJ_REFRESH_SECONDS', '86400'))),
    'ROTATE_REFRESH_TOKENS': _env('SJ_ROTATE', 'true') == 'true',
    'BLACKLIST_AFTER_ROTATION': _env('SJ_BLACKLIST', 'true') == 'true',
    'UPDATE_LAST_LOGIN': False,
}

LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'handlers': {'stderr': {'class': 'logging.StreamHandler'}},
    'root': {'handlers': ['stderr'], 'level': 'WARNING'},
}
