"""Auth plugins for the IBM runtime API: ``ibm_iam`` (API key → bearer) and ``bearer``.

Both add the three headers every runtime request carries (PROTOCOL.md §2.1): ``Authorization``,
``Service-CRN`` and ``IBM-API-Version``. Credentials are revealed only while building those
headers and the token request; they never reach a log, a ``repr`` or an exception message.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from qcourier.errors import ConfigError, IBMAuthError, IBMJobApiError, TransportError
from qcourier.hooks import hookimpl
from qcourier.messages import Request, Response

if TYPE_CHECKING:
    from qcourier.host import PluginHost

__all__ = ["API_VERSION", "BearerAuth", "IamAuth"]

log = logging.getLogger(__name__)

#: ``IBM-API-Version`` sent on every runtime request (the value qiskit-ibm-runtime 0.51 sends).
API_VERSION = "2026-04-15"

GRANT_TYPE = "urn:ibm:params:oauth:grant-type:apikey"

#: Refresh when less than this many seconds, or 20 % of the token's lifetime, remain.
MIN_REFRESH_MARGIN = 60.0
REFRESH_FRACTION = 0.2

#: Seconds before retrying an early refresh that failed while the token was still valid.
RETRY_EARLY = 10.0


def _runtime_headers(token: str, instance: str | None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}", "IBM-API-Version": API_VERSION}
    if instance:
        headers["Service-CRN"] = instance
    return headers


@dataclass(frozen=True)
class _Token:
    """A bearer token and when to replace it (epoch seconds)."""

    value: str
    expires_at: float
    refresh_at: float
    serial: int

    def __repr__(self) -> str:
        return f"<token expires_at={self.expires_at:.0f}>"


class IamAuth:
    """Exchanges the connection's API key for IAM bearer tokens and keeps one fresh.

    The token is fetched on first use and replaced once less than max(60 s, 20 % of its
    lifetime) remains, or after the service answered 401. One caller fetches while the others
    wait for its token (or keep using the current one while it is still valid), so many
    concurrent requests cause one fetch.

    :param clock: the wall clock, in epoch seconds (tests pass a fake one).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._host: PluginHost | None = None
        self._token: _Token | None = None
        self._stale_upto = 0
        self._fetch_lock = threading.Lock()
        self._attempts = 0
        self._last_error: IBMJobApiError | ConfigError | None = None

    @hookimpl
    def qcourier_configure(self, host: PluginHost) -> None:
        self._host = host

    @hookimpl
    def qcourier_authenticate(self, request: Request) -> Mapping[str, str]:
        host = self._connected()
        return _runtime_headers(self._valid_token().value, host.endpoint.instance)

    @hookimpl
    def qcourier_auth_refresh(self, response: Response, request: Request) -> bool:
        token = self._token
        sent = request.headers.get("Authorization")
        if token is not None and sent == f"Bearer {token.value}":
            # Only the token that was refused goes stale: one that another thread fetched
            # after this request left is still good, so many 401s cost one fetch.
            self._stale_upto = max(self._stale_upto, token.serial)
            log.debug("401 from %s: the bearer token will be fetched again", response.url)
        else:
            log.debug("401 from %s for a token already replaced; replaying", response.url)
        return True

    def _connected(self) -> PluginHost:
        if self._host is None:
            raise IBMAuthError("the ibm_iam auth plugin was used before its connection was made")
        return self._host

    def _fresh(self, token: _Token, now: float) -> bool:
        return token.serial > self._stale_upto and now < token.refresh_at

    def _valid_token(self) -> _Token:
        token, now = self._token, self._clock()
        if token is not None and self._fresh(token, now):
            return token
        attempts = self._attempts
        if token is not None and token.serial > self._stale_upto and now < token.expires_at:
            # Due for a refresh but usable: one caller refreshes, the others carry on with it.
            if not self._fetch_lock.acquire(blocking=False):
                return token
            try:
                return self._refresh_locked(attempts)
            except (IBMJobApiError, ConfigError) as exc:
                log.debug("early token refresh failed, retrying in %.0f s: %s", RETRY_EARLY, exc)
                self._token = replace(token, refresh_at=min(now + RETRY_EARLY, token.expires_at))
                return token
            finally:
                self._fetch_lock.release()
        with self._fetch_lock:
            return self._refresh_locked(attempts)

    def _refresh_locked(self, attempts: int) -> _Token:
        """Fetch a token unless another caller did (or failed to) while this one waited."""
        token = self._token
        if token is not None and self._fresh(token, self._clock()):
            return token
        if self._attempts != attempts and self._last_error is not None:
            raise self._last_error
        self._attempts += 1
        try:
            token = self._fetch()
        except (IBMJobApiError, ConfigError) as exc:
            self._last_error = exc
            raise
        self._last_error = None
        self._token = token
        return token

    def _fetch(self) -> _Token:
        host = self._connected()
        endpoint = host.endpoint
        if endpoint.api_key is None or not endpoint.api_key:
            raise ConfigError(
                "the ibm_iam auth needs an API key: set api_key (or QCOURIER_API_KEY), "
                "or pass token= to use the bearer auth"
            )
        url = f"{endpoint.iam_url.rstrip('/')}/identity/token"
        request = Request(
            "POST",
            url,
            headers={"Accept": "application/json"},
            form={
                "grant_type": GRANT_TYPE,
                "apikey": endpoint.api_key.reveal(),
                "response_type": "cloud_iam",
            },
            timeout=host.options.read_timeout,
            authenticate=False,
        )
        try:
            response = host.send(request)
        except TransportError as exc:
            raise IBMJobApiError(
                f"could not reach the IAM token service: {exc}; check the iam_url option",
                status_code=None,
            ) from None
        secret = endpoint.api_key.reveal()
        if response.status == 400 or response.status == 401:
            raise IBMAuthError(
                f"the API key was rejected by {endpoint.iam_url}: "
                f"{_iam_message(response, secret)}; check QCOURIER_API_KEY / api_key",
                status_code=response.status,
            )
        if not response.ok:
            raise IBMJobApiError(
                f"the IAM token service at {url} answered {response.status}: "
                f"{_iam_message(response, secret)}",
                status_code=response.status,
            )
        token = _parse_token(response, self._clock(), url, self._attempts)
        log.debug("fetched an IAM token expiring at %.0f", token.expires_at)
        return token

    def __repr__(self) -> str:
        return f"<IamAuth token={'***' if self._token else 'none'}>"


def _iam_message(response: Response, secret: str) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("errorMessage"), str):
        message = str(body["errorMessage"])
    else:
        message = response.text.strip()[:300] or f"HTTP {response.status}"
    # Services should never echo the key; make sure we never repeat it if one did.
    return message.replace(secret, "***") if secret else message


def _parse_token(response: Response, now: float, url: str, serial: int) -> _Token:
    try:
        body = response.json()
        value = body["access_token"]
    except (ValueError, KeyError, TypeError):
        raise IBMJobApiError(
            f"the IAM token service at {url} sent no access_token", status_code=response.status
        ) from None
    if not isinstance(value, str) or not value:
        raise IBMJobApiError(
            f"the IAM token service at {url} sent an empty access_token",
            status_code=response.status,
        )
    claims = _jwt_claims(value)
    expires = _first_number(claims.get("exp"), body.get("expiration"))
    issued = _first_number(claims.get("iat"))
    if expires is not None and issued is not None:
        # Measured on the service's clock, so a skewed local clock cannot shorten it.
        lifetime = expires - issued
    elif expires is not None:
        lifetime = expires - now
    else:
        in_seconds = _first_number(body.get("expires_in"))
        if in_seconds is None:
            # No expiry at all: use the token until the service answers 401.
            return _Token(value, expires_at=math.inf, refresh_at=math.inf, serial=serial)
        lifetime = in_seconds
    lifetime = max(lifetime, 0.0)
    # A short-lived token is still used for half its life, not refetched on every request.
    margin = min(max(MIN_REFRESH_MARGIN, REFRESH_FRACTION * lifetime), lifetime / 2)
    return _Token(
        value, expires_at=now + lifetime, refresh_at=now + lifetime - margin, serial=serial
    )


def _jwt_claims(token: str) -> dict[str, Any]:
    """The JWT payload, read without checking the signature (only its times are used)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _first_number(*values: object) -> float | None:
    for value in values:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


class BearerAuth:
    """Sends a ready bearer token (``token`` option) as it is; it cannot be refreshed."""

    def __init__(self) -> None:
        self._host: PluginHost | None = None

    @hookimpl
    def qcourier_configure(self, host: PluginHost) -> None:
        self._host = host

    @hookimpl
    def qcourier_authenticate(self, request: Request) -> Mapping[str, str]:
        if self._host is None:
            raise IBMAuthError("the bearer auth plugin was used before its connection was made")
        token = self._host.endpoint.token
        if token is None or not token:
            raise ConfigError(
                "the bearer auth needs a token: set token (or QCOURIER_TOKEN), "
                "or set api_key to use the ibm_iam auth"
            )
        return _runtime_headers(token.reveal(), self._host.endpoint.instance)

    @hookimpl
    def qcourier_auth_refresh(self, response: Response, request: Request) -> bool:
        # A static token cannot be renewed: the 401 goes back to the caller as it is.
        return False

    def __repr__(self) -> str:
        return "<BearerAuth token=***>"
