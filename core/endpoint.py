"""Where a connection's service lives and what reaches it."""

from __future__ import annotations

from dataclasses import dataclass

from qcourier.secret import Secret

__all__ = ["Endpoint"]


@dataclass(frozen=True)
class Endpoint:
    """The resolved address and credentials of one service.

    :ivar runtime_url: base of the runtime API, e.g. ``https://quantum.cloud.ibm.com/api/v1``.
    :ivar iam_url: base of the IAM token service (``{iam_url}/identity/token``).
    :ivar api_key: an IBM Cloud API key, exchanged for bearer tokens by the ``ibm_iam`` auth.
    :ivar token: a ready bearer token, for the ``bearer`` auth.
    :ivar instance: the service instance CRN sent as ``Service-CRN``.
    :ivar channel: the channel name that produced this endpoint.
    """

    runtime_url: str
    iam_url: str
    api_key: Secret | None = None
    token: Secret | None = None
    instance: str | None = None
    channel: str = ""
