"""Killing the process in the middle of an import or a promotion leaves the old state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from matcher.clinic.store import Store
from matcher.learning import registry
from matcher.schema import read_csv

ROOT = Path(__file__).resolve().parents[3]


def _run_until_ready(code: str, ready: Path, timeout: float = 60) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT)
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("the child process never reached the point to be killed at")
        time.sleep(0.05)
    return process


def _kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


@pytest.fixture
def database_url(any_database_url):
    return any_database_url


def test_killed_import_leaves_the_previous_roster(database_url, fixtures_dir, tmp_path):
    store = Store(database_url)
    store.import_tables(therapists=read_csv(fixtures_dir / "therapists.csv", "therapists"))
    before = store.therapists()
    changed = tmp_path / "therapists.csv"
    changed.write_text((fixtures_dir / "therapists.csv").read_text().replace("Dr. ", "Prof. "))
    ready = tmp_path / "ready"
    process = _run_until_ready(
        f"""
        import time
        from pathlib import Path
        import matcher.clinic.store as store_module
        from matcher.schema import read_csv
        real = store_module._records

        def records_then_hang(frame, columns):
            rows = real(frame, columns)
            for i, row in enumerate(rows):
                if i == 3:  # half the roster is written inside the open transaction
                    Path({str(ready)!r}).touch()
                    time.sleep(600)
                yield row

        store_module._records = records_then_hang
        store = store_module.Store({database_url!r})
        store.import_tables(therapists=read_csv({str(changed)!r}, "therapists"))
        """,
        ready,
    )
    _kill(process)
    after = Store(database_url).therapists()
    assert after.equals(before)
    assert not after["name"].str.startswith("Prof.").any()


def test_killed_promotion_leaves_the_old_model_current(tmp_path):
    model_dir = tmp_path / "models"
    model_dir.mkdir()
    registry.write_registry(
        model_dir,
        {"current": "v1", "versions": {"v1": {"sha256": "a"}, "v2": {"sha256": "b"}}},
    )
    before = (model_dir / "registry.json").read_text()
    ready = tmp_path / "ready"
    process = _run_until_ready(
        f"""
        import os, time
        from pathlib import Path
        from matcher.learning import registry

        def replace_after_a_while(source, target):
            Path({str(ready)!r}).touch()  # the new registry is written, not yet in place
            time.sleep(600)

        os.replace = replace_after_a_while
        registry.promote({str(model_dir)!r}, "v2")
        """,
        ready,
    )
    _kill(process)
    assert (model_dir / "registry.json").read_text() == before
    assert json.loads(before)["current"] == registry.read_registry(model_dir)["current"] == "v1"
