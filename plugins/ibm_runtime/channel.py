"""``ibm_quantum_platform``: the channel to IBM Quantum Platform (or anything speaking its API)."""

from __future__ import annotations

from qcourier.config import Options
from qcourier.endpoint import Endpoint
from qcourier.errors import ConfigError
from qcourier.hooks import hookimpl

__all__ = ["DEFAULT_IAM_URL", "IbmCloudChannel", "runtime_url_for"]

DEFAULT_IAM_URL = "https://iam.cloud.ibm.com"
STAGING_IAM_URL = "https://iam.test.cloud.ibm.com"

# CRN fields: crn:v1:<cname>:<ctype>:<service>:<region>:a/<account>:<instance>::
_CNAME, _REGION = 2, 5


def runtime_url_for(instance: str) -> str:
    """Derive the runtime base URL from an instance CRN, as qiskit-ibm-runtime does.

    ``us-east`` has no region prefix (``https://quantum.cloud.ibm.com/api/v1``); other regions
    do (``https://eu-de.quantum.cloud.ibm.com/api/v1``); ``staging`` CRNs use test.cloud.ibm.com.

    :raises ConfigError: when *instance* is not a quantum-computing CRN.
    """
    fields = instance.split(":")
    if len(fields) < 8 or fields[0] != "crn" or not fields[_REGION]:
        raise ConfigError(
            f"instance {instance!r} is not a service CRN "
            "(crn:v1:bluemix:public:quantum-computing:<region>:a/<account>:<id>::); "
            "copy it from your IBM Quantum Platform instance, or set base_url explicitly"
        )
    region = fields[_REGION]
    domain = "test.cloud.ibm.com" if fields[_CNAME] == "staging" else "cloud.ibm.com"
    prefix = "" if region == "us-east" else f"{region}."
    return f"https://{prefix}quantum.{domain}/api/v1"


class IbmCloudChannel:
    """Resolves the runtime and IAM URLs and the credentials from the connection options."""

    @hookimpl
    def qcourier_open_channel(self, options: Options) -> Endpoint:
        if options.api_key is None and options.token is None:
            raise ConfigError(
                "the ibm_quantum_platform channel needs credentials: set api_key "
                "(QCOURIER_API_KEY) to your IBM Cloud API key, or token (QCOURIER_TOKEN)"
            )
        if options.instance is None:
            raise ConfigError(
                "the ibm_quantum_platform channel needs your service instance: set instance "
                "(QCOURIER_INSTANCE) to its CRN (crn:v1:bluemix:public:quantum-computing:...)"
            )
        if options.base_url is not None:
            runtime_url = options.base_url.rstrip("/")
        else:
            runtime_url = runtime_url_for(options.instance)
        if options.iam_url is not None:
            iam_url = options.iam_url.rstrip("/")
        elif options.instance.split(":")[_CNAME : _CNAME + 1] == ["staging"]:
            iam_url = STAGING_IAM_URL
        else:
            iam_url = DEFAULT_IAM_URL
        return Endpoint(
            runtime_url=runtime_url,
            iam_url=iam_url,
            api_key=options.api_key,
            token=options.token,
            instance=options.instance,
            channel=options.channel,
        )

    def __repr__(self) -> str:
        return "<IbmCloudChannel>"
