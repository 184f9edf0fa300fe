"""A build's phase breakdown: seconds per named phase, added to from several threads."""

from __future__ import annotations

import threading
import time

from nbprod.pipeline.phases import NAMES, Phases


def test_every_reported_phase_is_present_and_counts_add_up():
    phases = Phases()
    phases.add("dag_load", 1.004)
    phases.add("dag_load", 0.5)
    phases.add("extra", 2.0)
    found = phases.as_dict()
    assert list(found) == [*NAMES, "extra"]
    assert found["dag_load"] == 1.5 and found["extra"] == 2.0
    assert all(found[name] == 0.0 for name in NAMES if name != "dag_load")


def test_a_timed_block_counts_its_wall_time_even_when_it_raises():
    phases = Phases()
    try:
        with phases.timed("manifest"):
            time.sleep(0.05)
            raise RuntimeError("stop")
    except RuntimeError:
        pass
    assert 0.05 <= phases.seconds("manifest") < 5


def test_threads_add_to_one_breakdown_without_losing_counts():
    phases = Phases()

    def add_many() -> None:
        for _ in range(1000):
            phases.add("html_export", 0.001)

    workers = [threading.Thread(target=add_many) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert phases.as_dict()["html_export"] == 4.0
