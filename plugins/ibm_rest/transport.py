"""``ibm_rest``: the HTTP transport, on a pooled :class:`requests.Session` per connection.

Transient failures are retried by urllib3's :class:`~urllib3.util.retry.Retry` mounted on the
session's adapters, with the policy of PROTOCOL.md §7:

* connection errors (nothing reached the server) are retried for every request;
* 500, 502, 503, 504, 520, 521, 522 and 524 answers, and read errors, are retried only for
  requests marked idempotent (``Request.idempotent``); ``POST /jobs`` is not, so a job is never
  submitted twice;
* a 429 (or 503) with ``Retry-After`` (seconds or an HTTP date) is retried after that delay,
  capped at ``retry_after_cap``: urllib3 does this itself for 429 when the method is retryable
  (``respect_retry_after_header``), so idempotent requests honour it and ``POST /jobs`` hands
  the 429 back at once;
* once retries are exhausted the last answer is returned as it is, so the API client can report
  the service's own status code and message.

Requests that may be repeated and those that may not use two sessions, since a session has one
retry policy per URL prefix.
"""

from __future__ import annotations

import logging
import math
import os
import time
import urllib.request
from typing import TYPE_CHECKING

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from qcourier import __version__
from qcourier.errors import TransportError
from qcourier.hooks import hookimpl
from qcourier.messages import Request, Response

if TYPE_CHECKING:
    from qcourier.host import PluginHost

__all__ = ["RETRY_STATUSES", "RestTransport"]

log = logging.getLogger(__name__)

#: Statuses retried for idempotent requests, as both IBM clients do.
RETRY_STATUSES = frozenset({500, 502, 503, 504, 520, 521, 522, 524})

# Several threads (the shared watcher, websocket waits, asyncio fetches) share one session.
_POOL_SIZE = 32


class RestTransport:
    """Delivers requests over HTTP(S) with pooling, retries, timeouts, proxy and TLS options."""

    def __init__(self) -> None:
        self._sessions: dict[bool, requests.Session] = {}
        self._connect_timeout = 5.0
        self._read_timeout = 30.0
        # Passed on every call: requests lets environment settings (REQUESTS_CA_BUNDLE,
        # HTTPS_PROXY) override the session's own verify and proxies, but not per-call ones.
        self._verify: bool | str = True
        self._proxies: dict[str, str] = {}

    @hookimpl
    def qcourier_configure(self, host: PluginHost) -> None:
        options = host.options
        self._connect_timeout = options.connect_timeout
        self._read_timeout = options.read_timeout
        self._verify = options.ca_bundle if options.ca_bundle else options.verify
        self._proxies = {"http": options.proxy, "https": options.proxy} if options.proxy else {}
        retry_after_cap = max(1, math.ceil(options.retry_after_cap))
        repeatable = Retry(
            total=options.max_retries,
            backoff_factor=options.backoff_factor,
            status_forcelist=RETRY_STATUSES,
            # The request itself says whether it is idempotent, so any verb may be retried.
            allowed_methods=None,
            respect_retry_after_header=True,
            retry_after_max=retry_after_cap,
            raise_on_status=False,
        )
        once = Retry(
            total=options.max_retries,
            connect=options.max_retries,
            # Anything past the connect may have reached the server: never repeat it.
            read=False,
            other=0,
            status=0,
            status_forcelist=(),
            backoff_factor=options.backoff_factor,
            respect_retry_after_header=False,
            raise_on_status=False,
        )
        trust_env = _environment_matters()
        self._sessions = {
            True: self._session(repeatable, trust_env),
            False: self._session(once, trust_env),
        }

    @staticmethod
    def _session(retry: Retry, trust_env: bool) -> requests.Session:
        session = requests.Session()
        session.trust_env = trust_env
        adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=_POOL_SIZE)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update(
            {
                "User-Agent": f"qcourier/{__version__} python-requests/{requests.__version__}",
                "X-Qx-Client-Application": f"qcourier/{__version__}",
                "Accept": "application/json",
            }
        )
        return session

    @hookimpl
    def qcourier_send(self, request: Request) -> Response:
        session = self._sessions.get(request.idempotent)
        if session is None:
            raise TransportError(
                f"{request.method} {request.url}: the ibm_rest transport is not configured "
                "or its connection was closed"
            )
        read_timeout = request.timeout if request.timeout is not None else self._read_timeout
        started = time.monotonic()
        try:
            reply = session.request(
                request.method,
                request.url,
                params=list(request.params) or None,
                headers=request.headers,
                json=request.json_body,
                data=request.form,
                timeout=(self._connect_timeout, read_timeout),
                verify=self._verify,
                proxies=self._proxies or None,
            )
        except requests.RequestException as exc:
            raise TransportError(
                f"{request.method} {request.url} failed: {_describe(exc, read_timeout)}"
            ) from None
        log.debug(
            "%s %s -> %d in %.3fs",
            request.method,
            request.url,
            reply.status_code,
            time.monotonic() - started,
        )
        return Response(
            status=reply.status_code,
            headers=dict(reply.headers),
            body=reply.content,
            url=request.url,
        )

    @hookimpl
    def qcourier_close(self) -> None:
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            session.close()

    def __repr__(self) -> str:
        return f"<RestTransport {'open' if self._sessions else 'closed'}>"


def _environment_matters() -> bool:
    """Whether requests' per-request look-ups of the environment could change anything.

    With ``trust_env`` on, every request re-reads the proxy variables and looks for a netrc
    file (about 0.5 ms); when none of them is set, one look at configure time is enough.
    """
    if urllib.request.getproxies():
        return True
    if os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE"):
        return True
    return os.path.exists(os.environ.get("NETRC") or os.path.expanduser("~/.netrc"))


def _describe(exc: requests.RequestException, read_timeout: float) -> str:
    """Say what went wrong and what to check, without headers, bodies or proxy credentials."""
    chain = _chain(exc)
    # requests reports a read timeout whose retries ran out as a ConnectionError: look inside.
    if any(isinstance(item, ReadTimeoutError) for item in chain):
        return f"no answer within {read_timeout:g} s (read_timeout option)"
    if isinstance(exc, requests.ConnectTimeout):
        return "timed out while connecting; check the URL, your network and the proxy option"
    reason = next(
        (item.strerror for item in chain if isinstance(item, OSError) and item.strerror),
        type(chain[-1]).__name__,
    )
    if isinstance(exc, requests.exceptions.SSLError):
        return (
            f"TLS verification failed ({reason}); "
            "set ca_bundle to your CA file, or verify=false for a test server"
        )
    if isinstance(exc, requests.exceptions.ProxyError):
        return f"the proxy refused the connection ({reason}); check the proxy option"
    if isinstance(exc, requests.ConnectionError):
        return (
            f"could not connect ({reason}); check that the service is running "
            "and the base_url option"
        )
    return f"{type(exc).__name__} ({reason})"


def _chain(exc: BaseException) -> list[BaseException]:
    """*exc* and the exceptions it wraps (``args[0]``, urllib3's ``reason``, causes)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        inner = getattr(current, "reason", None)
        if isinstance(inner, BaseException):
            current = inner
        elif current.args and isinstance(current.args[0], BaseException):
            current = current.args[0]
        else:
            current = current.__cause__ or current.__context__
    return chain
