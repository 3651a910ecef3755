"""The ``ibm_quantum_platform`` channel: where the service is and what reaches it."""

from __future__ import annotations

import pytest

from qcourier.config import resolve_options
from qcourier.endpoint import Endpoint
from qcourier.errors import ConfigError
from qcourier.plugins.ibm_runtime.channel import IbmCloudChannel

US_EAST = "crn:v1:bluemix:public:quantum-computing:us-east:a/acct:inst::"
EU_DE = "crn:v1:bluemix:public:quantum-computing:eu-de:a/acct:inst::"
STAGING = "crn:v1:staging:public:quantum-computing:us-east:a/acct:inst::"


def open_channel(**given: object) -> Endpoint:
    options = resolve_options({"channel": "ibm_quantum_platform", **given}, environ={})
    return IbmCloudChannel().qcourier_open_channel(options)


@pytest.mark.parametrize(
    ("instance", "runtime_url", "iam_url"),
    [
        (US_EAST, "https://quantum.cloud.ibm.com/api/v1", "https://iam.cloud.ibm.com"),
        (EU_DE, "https://eu-de.quantum.cloud.ibm.com/api/v1", "https://iam.cloud.ibm.com"),
        (STAGING, "https://quantum.test.cloud.ibm.com/api/v1", "https://iam.test.cloud.ibm.com"),
    ],
)
def test_hook_qcourier_open_channel_derives_urls_from_the_crn_region(
    instance: str, runtime_url: str, iam_url: str
) -> None:
    endpoint = open_channel(api_key="k", instance=instance)
    assert (endpoint.runtime_url, endpoint.iam_url) == (runtime_url, iam_url)
    assert endpoint.instance == instance
    assert endpoint.api_key is not None
    assert endpoint.api_key.reveal() == "k"


def test_explicit_base_url_and_iam_url_win_over_the_crn() -> None:
    endpoint = open_channel(
        api_key="k", instance=EU_DE, base_url="http://127.0.0.1:8/api/v1/", iam_url="http://i/"
    )
    assert (endpoint.runtime_url, endpoint.iam_url) == ("http://127.0.0.1:8/api/v1", "http://i")


def test_missing_credentials_name_the_options_to_set() -> None:
    with pytest.raises(ConfigError, match=r"QCOURIER_API_KEY.*QCOURIER_TOKEN"):
        open_channel(instance=US_EAST)


def test_missing_instance_names_the_option_to_set() -> None:
    with pytest.raises(ConfigError, match="QCOURIER_INSTANCE"):
        open_channel(api_key="k")


def test_an_instance_that_is_not_a_crn_needs_a_base_url() -> None:
    with pytest.raises(ConfigError, match=r"not a service CRN.*base_url"):
        open_channel(api_key="k", instance="my-instance")
    assert open_channel(api_key="k", instance="my-instance", base_url="http://h/api/v1")
