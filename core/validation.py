"""Checks of user input made before anything is sent, with errors that say how to fix it."""

from __future__ import annotations

import re

from qcourier.errors import IBMJobError, IBMJobNotFoundError

__all__ = [
    "validate_count",
    "validate_flag",
    "validate_job_id",
    "validate_name",
    "validate_shots",
    "validate_tags",
]

# IBM job ids are lowercase letters and digits (20 today); older services used other lengths,
# so accept any id-like token and leave "does it exist" to the service.
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


def validate_tags(tags: object, error: type[Exception]) -> list[str]:
    """Return *tags* if it is a list of non-empty strings, else raise *error* saying so.

    ``None`` means no tags. A tuple is rejected, as IBM's clients reject it.
    """
    if tags is None:
        return []
    if not isinstance(tags, list):
        raise error(
            f"tags must be a list of strings, got {type(tags).__name__} {tags!r}; "
            'pass e.g. ["experiment-1"]'
        )
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise error(f"tags must be a list of non-empty strings; {tag!r} in {tags!r} is not one")
    return list(tags)


def validate_name(name: object) -> str:
    """Return *name* if it is a non-empty string."""
    if not isinstance(name, str) or not name.strip():
        raise IBMJobError(f"a job name must be a non-empty string, got {name!r}")
    return name


def validate_job_id(job_id: object) -> str:
    """Return *job_id* if it looks like a job id; otherwise no job can have it."""
    if not isinstance(job_id, str) or not _JOB_ID.match(job_id):
        raise IBMJobNotFoundError(
            f"{job_id!r} is not a job id: ids are letters and digits such as "
            "'d1fk2m3n4p5q6r7s8t9u'; list your jobs with `qcourier jobs`"
        )
    return job_id


def validate_shots(shots: object, maximum: int) -> int:
    """Return *shots* as an int in 1..maximum."""
    if isinstance(shots, bool) or not isinstance(shots, int | float) or int(shots) != shots:
        raise ValueError(f"shots must be a whole number, got {shots!r}")
    if not 1 <= int(shots) <= maximum:
        raise ValueError(f"shots must be between 1 and {maximum}, got {shots}")
    return int(shots)


def validate_count(value: object, name: str, *, optional: bool = False) -> int | None:
    """Return *value* if it is a whole number >= 0 (not a bool), or ``None`` if *optional*."""
    if optional and value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        allowed = "None or a whole number" if optional else "a whole number"
        raise ValueError(f"{name} must be {allowed} >= 0, got {value!r}")
    return value


def validate_flag(value: object, name: str) -> bool:
    """Return *value* if it is True or False."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value
