"""kuard's KeyGen workload (podsim.keygen): what runs when, by flags or by PUT /keygen; the
HTTP side is in test_demoapp."""

from __future__ import annotations

from podsim import keygen


def test_flags_start_the_workload_with_the_container() -> None:
    container = {"name": "kuard", "args": ["--keygen-enable", "--keygen-num-to-gen=5"]}
    run = keygen.current(None, container, 1000.0)
    assert run["enable"] and run["since"] == 1000.0
    assert keygen.busy_seconds(run, 1004.0) == 4.0
    assert keygen.busy_seconds(run, 2000.0) == 5 * keygen.KEY_SECONDS  # then it rests
    status = keygen.status(None, container, 1000.0, "seed", 2000.0)
    assert [h["data"].split(")")[0] for h in status["history"]][-2:] == ["(ID 0 5/5", "(ID 0"]
    assert status["history"][-1]["data"] == "(ID 0) Workload exiting"
    assert keygen.busy_seconds(keygen.current(None, {"name": "kuard"}, 1000.0), 2000.0) == 0


def test_started_at_reads_the_running_state() -> None:
    pod = {
        "status": {
            "containerStatuses": [
                {"name": "kuard", "state": {"running": {"startedAt": "2026-12-06T10:00:00Z"}}},
            ]
        }
    }
    assert keygen.started_at(pod, "kuard") == 1796551200.0
    assert keygen.started_at(pod, "other") is None
