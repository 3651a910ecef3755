"""Option resolution: precedence, profiles, validation errors and masked secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcourier import ConfigError
from qcourier.config import Options, resolve_options

PROFILE_FILE = """
default_profile = "lab"

[profiles.lab]
read_timeout = 7
wait = ["polling"]
api_key = "file-secret-key"

[profiles.other]
read_timeout = 9
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(PROFILE_FILE, encoding="utf-8")
    return path


def test_defaults_apply_without_any_source(tmp_path: Path) -> None:
    options = resolve_options({}, {"QCOURIER_CONFIG": ""} | {"HOME": str(tmp_path)})
    assert options.channel == "local"
    assert options.wait == ("websocket", "polling")
    assert options.auth_name == "ibm_iam"


def test_keyword_beats_environment_beats_file(config_file: Path) -> None:
    env = {"QCOURIER_CONFIG": str(config_file), "QCOURIER_READ_TIMEOUT": "8"}
    assert resolve_options({}, env).read_timeout == 8.0
    assert resolve_options({"read_timeout": 3}, env).read_timeout == 3.0
    del env["QCOURIER_READ_TIMEOUT"]
    options = resolve_options({}, env)
    assert options.read_timeout == 7.0
    assert options.wait == ("polling",)
    assert "profile 'lab'" in options.sources["read_timeout"]


def test_profile_is_chosen_by_keyword_or_environment(config_file: Path) -> None:
    env = {"QCOURIER_CONFIG": str(config_file)}
    assert resolve_options({"profile": "other"}, env).read_timeout == 9.0
    assert resolve_options({}, env | {"QCOURIER_PROFILE": "other"}).read_timeout == 9.0


def test_unknown_profile_lists_available_profiles(config_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"no profile named 'nope'; available: lab, other"):
        resolve_options({"profile": "nope"}, {"QCOURIER_CONFIG": str(config_file)})


def test_invalid_environment_value_names_key_value_and_source() -> None:
    with pytest.raises(ConfigError) as raised:
        resolve_options({}, {"QCOURIER_READ_TIMEOUT": "soon", "QCOURIER_CONFIG": "/nonexistent"})
    # The explicit config path is checked first: it does not exist.
    assert "does not exist" in str(raised.value)
    with pytest.raises(ConfigError, match=r"'read_timeout': 'soon' \(from environment variable"):
        resolve_options({}, {"QCOURIER_READ_TIMEOUT": "soon"} | _no_file())


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("read_timeout", -1, "positive number"),
        ("max_retries", 1.5, "whole number"),
        ("verify", "maybe", "true or false"),
        ("wait", ["polling", "polling"], "names a plugin twice"),
        ("channel", "", "non-empty string"),
        ("wait", 3, "list of plugin names"),
    ],
)
def test_invalid_keyword_value_is_rejected(key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_options({key: value}, _no_file())


def test_unknown_option_lists_valid_options() -> None:
    with pytest.raises(ConfigError, match=r"unknown option\(s\): read_timout; valid options: "):
        resolve_options({"read_timout": 3}, _no_file())


def test_secrets_are_masked_in_repr_errors_and_description(config_file: Path) -> None:
    options = resolve_options({}, {"QCOURIER_CONFIG": str(config_file)})
    assert "file-secret-key" not in repr(options)
    assert "file-secret-key" not in str(options.describe())
    assert options.api_key is not None
    assert options.api_key.reveal() == "file-secret-key"
    with pytest.raises(ConfigError) as raised:
        resolve_options({"api_key": 12345}, _no_file())
    assert "12345" not in str(raised.value)


def test_token_selects_bearer_auth() -> None:
    assert resolve_options({"token": "t"}, _no_file()).auth_name == "bearer"
    assert Options().auth_name == "ibm_iam"


def _no_file() -> dict[str, str]:
    return {"QCOURIER_CONFIG": ""}
