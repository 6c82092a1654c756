"""Valid Bot Framework tokens for tests, checked by the real token validation of a production configuration.

The Bot Connector signs the tokens it sends a bot with keys it publishes as OpenID metadata; botbuilder
fetches them and checks issuer, audience (the app id), expiry, the ``serviceurl`` claim and the channel
endorsement.  Here the test plays the Bot Connector: :class:`ConnectorKeys` holds its RSA key and signs
tokens, :class:`OpenIdMetadataServer` publishes the public key (in a thread: botbuilder fetches it with a
blocking HTTP call), and ``ChannelValidation.open_id_metadata_endpoint``, botbuilder's own override for
that address, points at it.  Everything else is the adapter :func:`bot.teams.app.build_adapter` builds
from the settings, except the outbound credentials: :class:`StaticTokenCredentials` stands in for the
Entra ID token a real bot would fetch before writing to the (fake) connector.

This is how every Teams test runs: the rig (``tests/teams/conftest.py``) configures an app id, builds
:func:`authenticated_adapter` and signs each activity it posts.  The fixtures below are registered for the
whole test suite by ``tests/conftest.py`` (``pytest_plugins``); do not import them into test modules.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import (
    AppCredentials,
    AuthenticationConstants,
    ChannelValidation,
    PasswordServiceClientCredentialFactory,
)
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bot.bootstrap import Container
from bot.settings import Settings
from bot.teams.app import build_adapter, teams_config
from bot.teams.sender import TeamsOutboxSender

APP_ID = "6f0b1a52-7c3e-4d0e-9c1a-3b2f4e5d6a7b"
APP_PASSWORD = "a-real-looking-secret-value"
ISSUER = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
OUTBOUND_TOKEN = "outbound-token-from-the-test"


class ConnectorKeys:
    """The Bot Connector's signing key, played by the test."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = f"govbot-test-{uuid.uuid4().hex[:12]}"

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256", "endorsements": ["msteams"]})
        return {"keys": [jwk]}

    def token(self, *, service_url: str, app_id: str = APP_ID, issuer: str = ISSUER,
              lifetime: dt.timedelta | None = dt.timedelta(hours=1)) -> str:
        """A token for this bot; ``lifetime=None`` leaves the expiry (``exp``) out."""
        now = dt.datetime.now(dt.UTC)
        claims: dict[str, Any] = {"iss": issuer, "aud": app_id, "serviceurl": service_url,
                                  "nbf": now - dt.timedelta(minutes=1), "iat": now}
        if lifetime is not None:
            claims["exp"] = now + lifetime
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})

    def headers(self, activity: dict[str, Any]) -> dict[str, str]:
        """What the Bot Connector sends with ``activity``: a token for this bot and the activity's service URL."""
        return {"Authorization": f"Bearer {self.token(service_url=activity['serviceUrl'])}"}


class OpenIdMetadataServer:
    """The OpenID configuration and key set for :class:`ConnectorKeys`, on 127.0.0.1 in a thread."""

    def __init__(self, keys: ConnectorKeys) -> None:
        jwks = json.dumps(keys.jwks()).encode()
        server: ThreadingHTTPServer | None = None

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server interface
                assert server is not None
                base = f"http://127.0.0.1:{server.server_address[1]}"
                if self.path == "/v1/.well-known/openidconfiguration":
                    body = json.dumps({"issuer": ISSUER, "jwks_uri": f"{base}/v1/.well-known/keys",
                                       "id_token_signing_alg_values_supported": ["RS256"]}).encode()
                elif self.path == "/v1/.well-known/keys":
                    body = jwks
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the http.server interface
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="openid-metadata", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1/.well-known/openidconfiguration"

    def start(self) -> OpenIdMetadataServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class StaticTokenCredentials(AppCredentials):
    def get_access_token(self, force_refresh: bool = False) -> str:
        return OUTBOUND_TOKEN


class StaticTokenCredentialFactory(PasswordServiceClientCredentialFactory):
    """The app id and password checks of the production factory; a fixed token instead of a call to Entra ID."""

    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str,
                                 validate_authority: bool) -> AppCredentials:
        if not await self.is_valid_app_id(app_id):
            raise PermissionError("Invalid app_id")
        return StaticTokenCredentials(app_id=app_id, oauth_scope=oauth_scope)


def authenticated_adapter(settings: Settings) -> CloudAdapter:
    """The adapter production builds from ``settings`` (an app id: every request needs a valid token)."""
    if not settings.teams_app_id:
        raise ValueError("set teams_app_id: without one, requests are not authenticated")
    adapter = build_adapter(settings)
    config = teams_config(settings)
    adapter.bot_framework_authentication = ConfigurationBotFrameworkAuthentication(
        config, credentials_factory=StaticTokenCredentialFactory(config.APP_ID, config.APP_PASSWORD,
                                                                 config.APP_TENANTID))
    return adapter


def authenticated_sender(container: Container) -> TeamsOutboxSender:
    """The outbox sender production builds (``teams_sender_from_settings``), on :func:`authenticated_adapter`."""
    settings = container.settings
    if not settings.teams_app_id:
        raise ValueError("set teams_app_id: the sender writes to the connector as that bot")
    return TeamsOutboxSender(container.session_factory, adapter_factory=lambda: authenticated_adapter(settings),
                             app_id=settings.teams_app_id, clock=container.clock)


# Fixtures, available to every test through ``pytest_plugins`` in ``tests/conftest.py``.


@pytest.fixture(scope="session")
def connector_keys() -> ConnectorKeys:
    return ConnectorKeys()


@pytest.fixture(scope="session")
def openid_metadata(connector_keys: ConnectorKeys) -> Iterator[OpenIdMetadataServer]:
    server = OpenIdMetadataServer(connector_keys).start()
    yield server
    server.stop()


@pytest.fixture
def bot_framework_tokens(connector_keys: ConnectorKeys, openid_metadata: OpenIdMetadataServer,
                         monkeypatch: pytest.MonkeyPatch) -> ConnectorKeys:
    """Tokens from :class:`ConnectorKeys` validate, for this test, like the Bot Connector's own."""
    monkeypatch.setattr(ChannelValidation, "open_id_metadata_endpoint", openid_metadata.url)
    return connector_keys
