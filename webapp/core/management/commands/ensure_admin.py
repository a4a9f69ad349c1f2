"""Create the first admin account if there is none.

Credentials come from ``ADMIN_USERNAME`` / ``ADMIN_PASSWORD`` (and optional
``ADMIN_EMAIL``); without a password one is generated and printed once, and
written to ``var/admin-password.txt`` (readable by the owner only)."""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create an admin (superuser) account if none exists."

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("An admin account already exists.")
            return
        username = os.environ.get("ADMIN_USERNAME", "admin")
        password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email=os.environ.get("ADMIN_EMAIL", ""), password=password)
        if "ADMIN_PASSWORD" not in os.environ:
            path = settings.VAR_DIR / "admin-password.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{username}\n{password}\n")
            path.chmod(0o600)
            self.stdout.write(self.style.WARNING(
                f"Created admin account “{username}” with password: {password}\n(also saved in {path}; change it after logging in)"))
        else:
            self.stdout.write(self.style.SUCCESS(f"Created admin account “{username}”."))
