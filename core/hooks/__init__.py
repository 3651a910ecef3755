"""Write a qcourier plugin in six lines.

A plugin is a class whose methods carry ``@qcourier.hookimpl`` and are named after a hook in
:mod:`qcourier.hooks.spec`. Declare it under one entry-point group and name it in config::

    import qcourier

    class EventWait:
        @qcourier.hookimpl
        def qcourier_wait_for_final_state(self, job, deadline):
            return None  # cannot serve this job: the next strategy runs

    # pyproject.toml: [project.entry-points."qcourier.wait"] event = "mypkg:EventWait"
    # qcourier.connect(wait=["event", "polling"])

=================  ======================  ==========================================
concern            entry-point group       hook
=================  ======================  ==========================================
channel            ``qcourier.channel``    ``qcourier_open_channel``
transport          ``qcourier.transport``  ``qcourier_send``
auth               ``qcourier.auth``       ``qcourier_authenticate``, ``qcourier_auth_refresh``
API dialect        ``qcourier.api``        ``qcourier_api_client``
result decoding    ``qcourier.decoder``    ``qcourier_decode_result``
wait strategy      ``qcourier.wait``       ``qcourier_wait_for_final_state``
job events         ``qcourier.events``     ``qcourier_job_submitted`` and friends
CLI commands       ``qcourier.commands``   (a ``register(subparsers)`` function)
=================  ======================  ==========================================

The host instantiates each plugin class once per connection, so state lives on ``self``.
"""

from __future__ import annotations

import pluggy

__all__ = ["PROJECT", "hookimpl"]

PROJECT = "qcourier"

#: Marks a plugin method as the implementation of the hook of the same name.
hookimpl = pluggy.HookimplMarker(PROJECT)
