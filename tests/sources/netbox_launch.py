"""Runs inside the NetBox virtual environment (Python >= 3.12): serve NetBox's WSGI app on 127.0.0.1.

Usage: ``python netbox_launch.py serve`` with ``NETBOX_ROOT`` pointing at an instance root whose
``conf/configuration.py`` names the database.  Binds port 0, creates an API user and a v2 token, prints
one JSON line ``{"port": N, "token": "nbt_..."}`` on stdout and serves until killed.
``python netbox_launch.py migrate`` applies NetBox's migrations and exits.

This file is executed by a different interpreter than the test suite: it imports nothing from govbot.
"""

import json
import os
import secrets
import socketserver
import sys
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the standard library's signature
        pass


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


def _setup():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netbox.settings")
    import django

    django.setup()


def migrate():
    _setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def serve():
    _setup()
    from django.core.wsgi import get_wsgi_application
    from users.models import Token, User

    user, _ = User.objects.get_or_create(username="govbot-sync", defaults={"is_superuser": True})
    if not user.is_superuser:
        user.is_superuser = True
        user.save()
    plain = secrets.token_hex(20)
    token = Token(user=user, version=2, token=plain, write_enabled=True, description="govbot tests")
    token.save()
    app = get_wsgi_application()
    server = make_server("127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
    port = server.server_address[1]
    sys.stdout.write(json.dumps({"port": port, "token": f"nbt_{token.key}.{plain}"}) + "\n")
    sys.stdout.flush()
    # Stop when the parent closes our stdin (the test session ended or died).
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    {"serve": serve, "migrate": migrate}[sys.argv[1]]()
