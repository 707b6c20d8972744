"""
Creates users from a JSON list on stdin, each with its own hasher, the way Django itself
stores them, and prints a JSON object {username: {id, password}} (password = the stored hash).

Each item: {"username", "password", "hasher": "pbkdf2_sha256"|…|"scrypt"|"unusable",
"is_active": true, "email": ""}. Django 3.2 has no scrypt hasher: "scrypt" writes the exact
string Django >= 4.0 writes (scrypt$<n>$<salt>$<r>$<p>$<b64 hash>) with hashlib.scrypt.
"""
import base64
import hashlib
import json
import secrets
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand


def scrypt_hash(password, n=16384, r=8, p=1):
    salt = secrets.token_hex(11)
    digest = hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=128 * n * r * 2, dklen=64)
    return 'scrypt$%d$%s$%d$%d$%s' % (n, salt, r, p, base64.b64encode(digest).decode('ascii').strip())


class Command(BaseCommand):
    help = 'Create fixture users from JSON on stdin.'

    def handle(self, *args, **options):
        User = get_user_model()
        out = {}
        for item in json.load(sys.stdin):
            hasher = item.get('hasher', 'default')
            if hasher == 'unusable':
                encoded = make_password(None)
            elif hasher == 'scrypt':
                encoded = scrypt_hash(item['password'], p=int(item.get('p', 1)))
            elif hasher == 'raw':
                encoded = item['encoded']
            else:
                encoded = make_password(item['password'], hasher=hasher)
            user = User(username=item['username'], email=item.get('email', ''), is_active=item.get('is_active', True))
            user.password = encoded
            user.save()
            out[item['username']] = {'id': user.pk, 'password': encoded}
        self.stdout.write(json.dumps(out))
