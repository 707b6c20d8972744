"""
Prints simplejwt's own token pairs for existing users, as its login view would issue them:
stdin is a JSON list of usernames, stdout a JSON list of {refresh, access} (RefreshToken.for_user,
which also records the OutstandingToken rows the blacklist needs).
"""
import json
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework_simplejwt.tokens import RefreshToken


class Command(BaseCommand):
    help = 'Mint simplejwt token pairs for users named on stdin.'

    def handle(self, *args, **options):
        User = get_user_model()
        out = []
        for username in json.load(sys.stdin):
            refresh = RefreshToken.for_user(User.objects.get(**{User.USERNAME_FIELD: username}))
            out.append({'refresh': str(refresh), 'access': str(refresh.access_token)})
        self.stdout.write(json.dumps(out))
