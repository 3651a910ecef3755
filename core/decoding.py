"""What a decoder is told about the payload it is asked to decode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DecodeContext"]


@dataclass(frozen=True)
class DecodeContext:
    """Describes one payload handed to :hook:`qcourier_decode_result`.

    :ivar kind: ``"result"`` for ``GET /jobs/{id}/results`` bodies, ``"params"`` for the
        job's submitted parameters.
    :ivar job_id: the job the payload belongs to.
    :ivar program_id: the runtime program (``circuit-runner``, ``sampler``, ...).
    :ivar allow_unsafe: the user opted in to decoding tags that import arbitrary classes.
    """

    kind: Literal["result", "params"]
    job_id: str
    program_id: str = "circuit-runner"
    allow_unsafe: bool = False
