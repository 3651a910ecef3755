"""API keys, the instances they own, and the bearer JWTs the emulator's IAM mints for them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass

__all__ = ["Principal", "TokenAuthority", "TokenError", "instance_crn"]


class TokenError(Exception):
    """A credential was refused; the message is safe to show the caller."""


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: the instance CRN owned by the caller's API key."""

    instance: str


def instance_crn(api_key: str) -> str:
    """Return the instance CRN owned by *api_key*.

    Derived from a hash of the key so that every process serving the same key (two embedded
    emulators on one database) agrees on it without sharing state.
    """
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    return f"crn:v1:bluemix:public:quantum-computing:us-east:a/{digest[:32]}:{digest[32:]}::"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenAuthority:
    """Owns the accepted API keys and mints and checks their bearer tokens.

    Tokens are JWTs signed with HMAC-SHA256 under *secret*. The header still says ``RS256``
    like IBM's, since clients decode without verifying; only this emulator checks signatures.
    Processes sharing one database share the secret, so they accept each other's tokens.
    """

    def __init__(self, api_keys: list[str], secret: bytes, token_ttl: float) -> None:
        self._keys = {self._key_id(key): key for key in api_keys}
        self._secret = secret
        self._ttl = token_ttl
        self._lock = threading.Lock()
        self._revoked: set[str] = set()
        self._generation = 0

    @property
    def api_keys(self) -> list[str]:
        """Every configured key, revoked ones included."""
        return list(self._keys.values())

    def mint(
        self, api_key: str, now: float | None = None, ttl: float | None = None
    ) -> tuple[str, int, int]:
        """Exchange *api_key* for a bearer token.

        :param ttl: lifetime in seconds instead of the authority's (legacy logins).
        :returns: ``(token, issued_at, expires_at)`` with epoch-second integers.
        :raises TokenError: when the key is unknown or revoked.
        """
        key_id = self._check_key(api_key)
        issued = int(now if now is not None else time.time())
        # JWT times are whole seconds; never mint a token that is already expired.
        expires = issued + max(1, round(self._ttl if ttl is None else ttl))
        with self._lock:
            generation = self._generation
        header = {"alg": "RS256", "typ": "JWT", "kid": "qcourier-emulator"}
        payload = {
            "iss": "qcourier-emulator",
            "sub": key_id,
            "iat": issued,
            "exp": expires,
            "gen": generation,
            "jti": secrets.token_hex(8),
        }
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(payload).encode())
        )
        signature = hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64url(signature)}", issued, expires

    def principal_for_token(self, token: str) -> Principal:
        """Check a bearer token minted here.

        :raises TokenError: when it is malformed, forged, expired, invalidated or its key revoked.
        """
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError("Malformed bearer token.")
        expected = hmac.new(
            self._secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256
        ).digest()
        try:
            valid = hmac.compare_digest(expected, _unb64url(parts[2]))
            payload = json.loads(_unb64url(parts[1]))
        except (ValueError, TypeError) as exc:
            raise TokenError("Malformed bearer token.") from exc
        if not valid or not isinstance(payload, dict):
            raise TokenError("Invalid bearer token.")
        exp, key_id = payload.get("exp"), payload.get("sub")
        if not isinstance(exp, int) or exp <= time.time():
            raise TokenError("Expired bearer token.")
        with self._lock:
            if payload.get("gen") != self._generation:
                raise TokenError("Expired bearer token.")
            if key_id in self._revoked or key_id not in self._keys:
                raise TokenError("The API key of this token was revoked.")
        return Principal(instance_crn(self._keys[key_id]))

    def principal_for_key(self, api_key: str) -> Principal:
        """Check an API key sent as ``Authorization: apikey <key>``."""
        self._check_key(api_key)
        return Principal(instance_crn(api_key))

    def expire_all(self) -> None:
        """Invalidate every token issued so far; keys can mint new ones."""
        with self._lock:
            self._generation += 1

    def revoke(self, api_key: str) -> None:
        """Refuse *api_key* and its tokens until :meth:`restore_all`."""
        with self._lock:
            self._revoked.add(self._key_id(api_key))

    def restore_all(self) -> None:
        """Accept every configured key again."""
        with self._lock:
            self._revoked.clear()

    def _check_key(self, api_key: str) -> str:
        key_id = self._key_id(api_key)
        with self._lock:
            if key_id not in self._keys or key_id in self._revoked:
                raise TokenError("Provided API key could not be found.")
        return key_id

    @staticmethod
    def _key_id(api_key: str) -> str:
        # Tokens name a hash of the key, never the key itself.
        return hashlib.sha256(b"qcourier-key:" + api_key.encode()).hexdigest()[:32]
