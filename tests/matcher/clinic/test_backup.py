"""Backup and restore, as docs/operations.md gives them: a restored database (and model
folder) ranks exactly as the original did at the moment of the backup.

SQLite: the ``sqlite3`` backup API (what ``sqlite3 matcher.db ".backup backup.db"`` runs),
then the file copied back while the app is stopped. PostgreSQL: ``pg_dump -Fc``, then
``pg_restore --clean --if-exists`` into a new database on the test cluster
(``MATCHER_TEST_POSTGRES_URL``; skipped without it, like the other PostgreSQL tests).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from matcher import Matcher
from matcher.clinic import Contact, assign, submit_intake
from matcher.clinic.store import Store
from matcher.clinic.tables import Base
from matcher.learning import registry
from matcher.ranking.scoring import PriorScorer
from matcher.schema import parse_intake
from tests.conftest import FakeEmbedder

INTAKES = [
    {
        "concerns": "anxiety;work_stress",
        "story": "I worry constantly about work and cannot sleep before meetings.",
        "hopes": "Practical tools and structure.",
        "directive": "3",
        "language": "english",
        "modality": "either",
        "city": "Springfield",
        "availability": "mon_am;mon_eve",
        "insurance": "aetna",
        "max_fee": "130",
    },
    {
        "concerns": "grief",
        "story": "My father died last spring and I feel lost.",
        "hopes": "Someone kind who listens.",
        "language": "english",
        "modality": "telehealth",
    },
    {
        "concerns": "relationships;depression",
        "story": "We argue every evening and I have stopped enjoying anything.",
        "challenge": "-2",
        "language": "english",
        "modality": "telehealth",
    },
    {
        "concerns": "trauma",
        "story": "Loud noises take me straight back to the accident.",
        "past_focus": "2",
        "language": "english",
        "modality": "either",
        "city": "Springfield",
    },
]
#: Clients who were never stored, ranked against the original and the restored database.
PROBES = [
    {"concerns": "anxiety", "story": "Panic on the train.", "language": "english"}
    | {"modality": "telehealth"},
    {"concerns": "grief;depression", "story": "Lost my partner.", "language": "english"}
    | {"modality": "either", "city": "Springfield", "max_fee": "120"},
]


@pytest.fixture
def database_url(any_database_url):
    """Backups are tested on SQLite and on PostgreSQL."""
    return any_database_url


def _matcher(store: Store, model_dir: Path) -> Matcher:
    return Matcher.load(model_dir, embedder=FakeEmbedder(), store=store)


def _seed(store: Store, model_dir: Path) -> list[str]:
    """A practice in use: intakes with contacts and the rankings they were shown, a
    placement (an open place taken), and a current model in the registry."""
    registry.save_version(model_dir, "v1", PriorScorer(), {"embedding_model": FakeEmbedder.name})
    registry.promote(model_dir, "v1")
    matcher = _matcher(store, model_dir)
    client_ids = []
    for n, record in enumerate(INTAKES):
        contact = Contact(f"Client {n}", f"client{n}@example.org", "", "email", "evenings")
        stored = submit_intake(store, matcher, parse_intake(record), contact=contact)
        client_ids.append(stored.client_id)
    first = store.latest_ranking(client_ids[0])
    assign(store, client_ids[0], first[0].therapist_id, by="maria", rank_shown=1)
    return client_ids


def _rows(store: Store) -> dict[str, list[str]]:
    with store.engine.connect() as connection:
        return {
            table.name: sorted(repr(tuple(row)) for row in connection.execute(select(table)))
            for table in Base.metadata.sorted_tables
        }


def _state(store: Store, model_dir: Path, client_ids: list[str]) -> dict:
    """Everything a backup must bring back: every row, the rankings stored for each
    client, and what a fresh matcher on this database and model folder ranks now."""
    matcher = _matcher(store, model_dir)
    return {
        "rows": _rows(store),
        "stored": {c: store.latest_ranking(c).as_dict() for c in client_ids},
        "ranked": [
            matcher.rank(record, remember=False, policy="deterministic").as_dict()
            for record in [*INTAKES, *PROBES]
        ],
    }


def _suggestions(state: dict) -> list[list[tuple]]:
    return [
        [(s["therapist_id"], s["score"], s["reasons"]) for s in ranking["suggestions"]]
        for ranking in state["ranked"]
    ]


def _change_after_backup(store: Store, model_dir: Path) -> None:
    """Work done after the backup, which the restore must not bring back."""
    submit_intake(store, _matcher(store, model_dir), parse_intake(PROBES[0]))
    registry.save_version(model_dir, "v2", PriorScorer(), {"embedding_model": FakeEmbedder.name})
    registry.promote(model_dir, "v2")


def _restore_models(backup: Path, model_dir: Path) -> None:
    shutil.rmtree(model_dir)
    shutil.copytree(backup, model_dir)


# --- SQLite and PostgreSQL: each backs up, is changed, and restores --------------------------


def _sqlite_backup_and_restore(store: Store, model_dir: Path, tmp_path: Path) -> Store:
    path = Path(make_url(store.url).database)
    backup = tmp_path / "backup.db"
    source, target = sqlite3.connect(path), sqlite3.connect(backup)
    try:
        source.backup(target)  # consistent while the app writes (WAL included)
    finally:
        source.close()
        target.close()
    models_backup = tmp_path / "models-backup"
    shutil.copytree(model_dir, models_backup)

    _change_after_backup(store, model_dir)

    store.engine.dispose()  # the app is stopped
    for leftover in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)  # a stale WAL must not be replayed onto the copy
    shutil.copyfile(backup, path)
    _restore_models(models_backup, model_dir)
    return Store(store.url, upgrade=False)  # the backup carries its schema version


def _pg(url: str, program: str, *args: str) -> None:
    parsed = make_url(url)
    command = [
        program,
        "-h",
        parsed.host or "127.0.0.1",
        "-p",
        str(parsed.port or 5432),
        "-U",
        parsed.username,
        *args,
    ]
    env = {**os.environ, "PGPASSWORD": parsed.password or ""}
    subprocess.run(command, check=True, capture_output=True, timeout=120, env=env)


@pytest.fixture
def new_postgres_database(database_url):
    """The URL of a new, empty database beside the test database; dropped afterwards."""
    for program in ("pg_dump", "pg_restore", "createdb", "dropdb"):
        if shutil.which(program) is None:
            if os.environ.get("MATCHER_REQUIRE_POSTGRES"):
                pytest.fail(f"MATCHER_REQUIRE_POSTGRES is set but {program} is not installed")
            pytest.skip(f"{program} is not installed (apt-get install postgresql-client)")
    name = f"matcher_restore_{secrets.token_hex(4)}"
    _pg(database_url, "createdb", name)
    yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    _pg(database_url, "dropdb", "--if-exists", "--force", name)


def _postgres_backup_and_restore(
    store: Store, model_dir: Path, tmp_path: Path, restored_url: str
) -> Store:
    dump = tmp_path / "matcher.dump"
    _pg(store.url, "pg_dump", "-Fc", "-f", str(dump), make_url(store.url).database)
    models_backup = tmp_path / "models-backup"
    shutil.copytree(model_dir, models_backup)

    _change_after_backup(store, model_dir)

    database = make_url(restored_url).database
    _pg(
        restored_url,
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "-d",
        database,
        str(dump),
    )
    _restore_models(models_backup, model_dir)
    return Store(restored_url, upgrade=False)  # the dump carries its schema version


def test_a_restored_backup_ranks_identically(store, tmp_path, request):
    model_dir = tmp_path / "models"
    client_ids = _seed(store, model_dir)
    before = _state(store, model_dir, client_ids)
    assert all(len(ranking["suggestions"]) for ranking in before["ranked"][:2])
    assert {r["model_version"] for r in before["ranked"]} == {"v1"}

    if store.engine.dialect.name == "sqlite":
        restored = _sqlite_backup_and_restore(store, model_dir, tmp_path)
    else:
        restored_url = request.getfixturevalue("new_postgres_database")
        restored = _postgres_backup_and_restore(store, model_dir, tmp_path, restored_url)
        assert _rows(store) != before["rows"]  # the original moved on after the backup

    after = _state(restored, model_dir, client_ids)
    assert after["rows"] == before["rows"]
    assert after["stored"] == before["stored"]
    assert _suggestions(after) == _suggestions(before)  # ids, scores and reasons
    assert after["ranked"] == before["ranked"]  # and all else: near misses, model, policy

    # The restored database takes new work (its id sequences were restored too).
    matcher = _matcher(restored, model_dir)
    stored = submit_intake(restored, matcher, parse_intake(PROBES[1]))
    assert restored.latest_ranking(stored.client_id) is not None
    restored.engine.dispose()
