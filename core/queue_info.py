"""Queue information of a job, read from the service's metrics document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qcourier.timestamps import parse_utc

__all__ = ["QueueInfo"]


@dataclass(frozen=True)
class QueueInfo:
    """Where a queued job stands.

    :ivar position: place in the service queue; ``None`` when unknown (the service's 0 too).
    :ivar position_in_provider: place among this account's jobs.
    :ivar estimated_start_time: when the job should start, in local time.
    :ivar estimated_complete_time: when it should end, in local time.
    """

    job_id: str
    position: int | None = None
    position_in_provider: int | None = None
    estimated_start_time: datetime | None = None
    estimated_complete_time: datetime | None = None

    @classmethod
    def from_metrics(cls, job_id: str, metrics: dict[str, Any]) -> QueueInfo | None:
        """Build from a metrics document; ``None`` when it holds no queue field at all."""
        info = cls(
            job_id=job_id,
            # Upstream turns position 0 into None: 0 means "not queued", not "next".
            position=metrics.get("position_in_queue") or None,
            position_in_provider=metrics.get("position_in_provider") or None,
            estimated_start_time=parse_utc(metrics.get("estimated_start_time")),
            estimated_complete_time=parse_utc(metrics.get("estimated_completion_time")),
        )
        fields = (
            info.position,
            info.position_in_provider,
            info.estimated_start_time,
            info.estimated_complete_time,
        )
        return info if any(value is not None for value in fields) else None
