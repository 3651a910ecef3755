"""``GET /jobs``: exact count, pagination, filters and order (PROTOCOL.md §3.3, §10 items 25-28)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from qcourier.plugins.emulator.server import EmulatorServer
from tests.emulator.wire import Api


def page(api: Api, **params: Any) -> dict[str, Any]:
    reply = api.get("/jobs", params=params)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def test_count_is_exact_on_every_page_and_the_page_after_the_last_is_empty(
    emulator: EmulatorServer, alice: Api
) -> None:
    emulator.faults.pause_execution()
    submitted = {alice.submit(shots=1) for _ in range(45)}
    seen: list[str] = []
    requests_made = 0
    while len(seen) < 45:
        body = page(alice, limit=20, offset=len(seen), exclude_params="true")
        requests_made += 1
        assert body["count"] == 45
        assert body["limit"] == 20
        assert body["offset"] == len(seen) - 0
        assert body["jobs"]
        seen += [job["id"] for job in body["jobs"]]
    assert requests_made == 3
    assert set(seen) == submitted
    assert len(seen) == 45
    after = page(alice, limit=20, offset=45)
    assert after["jobs"] == []
    assert after["count"] == 45


def test_default_order_is_newest_first_and_sort_asc_reverses_it(
    emulator: EmulatorServer, alice: Api
) -> None:
    emulator.faults.pause_execution()
    ids = [alice.submit() for _ in range(4)]
    newest_first = [job["id"] for job in page(alice)["jobs"]]
    oldest_first = [job["id"] for job in page(alice, sort="ASC")["jobs"]]
    assert newest_first == ids[::-1]
    assert oldest_first == ids


def test_tags_filter_keeps_only_jobs_with_every_tag(emulator: EmulatorServer, alice: Api) -> None:
    emulator.faults.pause_execution()
    both = alice.submit(tags=["a", "b"])
    alice.submit(tags=["a"])
    alice.submit(tags=["b", "c"])
    body = page(alice, tags=["a", "b"])
    assert [job["id"] for job in body["jobs"]] == [both]
    assert body["count"] == 1
    assert page(alice, tags=["a"])["count"] == 2


def test_pending_true_lists_queued_and_running_pending_false_final(
    emulator: EmulatorServer, alice: Api
) -> None:
    done = alice.submit()
    alice.wait(done)
    emulator.faults.pause_execution()
    queued = alice.submit()
    pending = page(alice, pending="true")
    final = page(alice, pending="false")
    assert [job["id"] for job in pending["jobs"]] == [queued]
    assert all(job["status"] in ("Queued", "Running") for job in pending["jobs"])
    assert [job["id"] for job in final["jobs"]] == [done]
    assert (pending["count"], final["count"]) == (1, 1)


def test_program_backend_and_session_filters(emulator: EmulatorServer, alice: Api) -> None:
    emulator.faults.pause_execution()
    runner = alice.submit(backend="fake_t5", session_id="s1")
    sampler = alice.submit(
        program="sampler",
        params={"pubs": [["OPENQASM 2.0; qreg q[1]; creg c[1]; measure q -> c;"]]},
    )
    assert [j["id"] for j in page(alice, program="sampler")["jobs"]] == [sampler]
    assert [j["id"] for j in page(alice, backend="fake_t5")["jobs"]] == [runner]
    assert [j["id"] for j in page(alice, session_id="s1")["jobs"]] == [runner]


def test_created_bounds_are_inclusive_and_accept_utc_offsets(
    emulator: EmulatorServer, alice: Api
) -> None:
    emulator.faults.pause_execution()
    job_id = alice.submit()
    created = datetime.fromisoformat(alice.job(job_id)["created"].replace("Z", "+00:00"))
    exact = created.isoformat()
    assert page(alice, created_after=exact, created_before=exact)["count"] == 1
    later = (created + timedelta(seconds=1)).astimezone(timezone.utc).isoformat()
    assert page(alice, created_after=later)["count"] == 0
    assert page(alice, created_before=later)["count"] == 1


def test_list_items_carry_params_unless_excluded(emulator: EmulatorServer, alice: Api) -> None:
    emulator.faults.pause_execution()
    alice.submit()
    assert "params" in page(alice)["jobs"][0]
    assert "params" not in page(alice, exclude_params="true")["jobs"][0]


def test_unknown_query_parameters_are_ignored(alice: Api) -> None:
    assert page(alice, include_mocks="True", provider="ibm-q/open/main")["count"] == 0
