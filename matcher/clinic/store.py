"""Storage with SQLAlchemy: SQLite by default, PostgreSQL via ``DATABASE_URL``.

Records are stored in their validated, normalised form (as JSON) beside the
few columns queries need. Every write that takes several rows happens in one
transaction: an import either lands whole or leaves the old state.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, func, select, update
from sqlalchemy.orm import Session

from ..errors import MatcherError, NotFoundError, Problem, ValidationError
from ..ranking.rank import Ranking
from ..schema import Intake, defaulted_column_notes
from ..vocab import INTAKE_COLUMNS, OUTCOME_COLUMNS, THERAPIST_COLUMNS
from .tables import (
    CounterRow,
    EmbeddingRow,
    IntakeRow,
    OutcomeRow,
    RankingRow,
    TherapistRow,
    now_utc,
)

DATABASE_URL_ENV = "DATABASE_URL"


def default_database_url() -> str:
    """``DATABASE_URL`` if set, else an SQLite file under ``./instance``."""
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        return url
    path = Path("instance") / "matcher.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path.resolve()}"


#: ``roster``: any roster change (rebuild arrays); ``capacity``: open places changed.
COUNTERS = ("roster", "capacity")


@dataclass(frozen=True)
class ImportSummary:
    therapists: int = 0
    intakes: int = 0
    outcomes: int = 0
    #: Defaults the import applied (a roster without its optional columns), in words.
    notes: tuple[str, ...] = ()

    def __str__(self) -> str:
        counts = (
            f"imported {self.therapists} therapists, {self.intakes} intakes, "
            f"{self.outcomes} outcomes"
        )
        return "\n".join([counts, *(f"note: {note}" for note in self.notes)])


@dataclass(frozen=True)
class StoredIntake:
    client_id: str
    record: Intake
    token: str | None
    urgent: bool
    support_note: str
    created_at: datetime
    status: str = "waiting"
    wellbeing: dict[str, int] | None = None
    consented_at: datetime | None = None
    #: The client's answer on their results page: "therapist", "any", "none" or None.
    choice: str | None = None
    chosen_therapist_id: str | None = None
    chosen_at: datetime | None = None
    #: When a therapist declined this client's referral (back at the top of the queue).
    returned_at: datetime | None = None


def _clean(value: Any) -> Any:
    """Make a validated value JSON-safe (NaN -> None, numpy -> Python)."""
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, list | tuple | np.ndarray):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    return value


def _records(frame: pd.DataFrame, columns: Iterable[str]) -> list[tuple[dict, dict]]:
    columns = list(columns)
    has_extra = "extra" in frame.columns
    out = []
    for raw in frame.to_dict("records"):
        record = {c: _clean(raw[c]) for c in columns}
        out.append((record, _clean(raw["extra"]) if has_extra else {}))
    return out


class EmbeddingCache:
    """A mapping view of the embeddings table, with bulk get and put."""

    def __init__(self, store: Store):
        self.store = store

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        with Session(self.store.engine) as session:
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                rows = session.execute(
                    select(EmbeddingRow.key, EmbeddingRow.vector).where(EmbeddingRow.key.in_(chunk))
                )
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32).copy()
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        """Store vectors; a key another process stored meanwhile is left as it is."""
        if not items:
            return
        rows = [
            {"key": k, "vector": np.asarray(v, dtype=np.float32).tobytes()}
            for k, v in items.items()
        ]
        dialect = self.store.engine.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - other databases: plain insert of the missing keys
            insert = None
        with Session(self.store.engine) as session, session.begin():
            if insert is not None:
                for start in range(0, len(rows), 500):
                    statement = insert(EmbeddingRow).values(rows[start : start + 500])
                    session.execute(statement.on_conflict_do_nothing(index_elements=["key"]))
            else:
                existing = set(
                    session.scalars(select(EmbeddingRow.key).where(EmbeddingRow.key.in_(items)))
                )
                session.add_all(EmbeddingRow(**r) for r in rows if r["key"] not in existing)

    def __contains__(self, key: str) -> bool:
        return bool(self.get_many([key]))

    def __getitem__(self, key: str) -> np.ndarray:
        found = self.get_many([key])
        if key not in found:
            raise KeyError(key)
        return found[key]

    def update(self, items: dict[str, np.ndarray]) -> None:
        self.put_many(items)


class Store:
    """The product's database. One instance per process; thread-safe via sessions."""

    def __init__(self, url: str | None = None, *, upgrade: bool = True):
        """Open the database at ``url`` (default: ``DATABASE_URL`` or SQLite in ``instance/``).

        ``upgrade=True`` (development, tests, the CLI) applies pending migrations;
        production passes False and runs ``matcher db upgrade`` as its own step,
        so an old schema is refused with a clear error instead of changed on start.
        """
        self.url = url or default_database_url()
        # pre_ping: a connection the database dropped (a restart) is replaced, not used,
        # so the service recovers by itself when the database is back.
        self.engine = create_engine(self.url, future=True, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if upgrade:
            migrate(self.engine)
        else:
            _require_current_schema(self.engine)
        self._ensure_counters()
        self.embeddings = EmbeddingCache(self)

    def _ensure_counters(self) -> None:
        with Session(self.engine) as session, session.begin():
            known = set(session.scalars(select(CounterRow.key)))
            session.add_all(CounterRow(key=k, value=0) for k in COUNTERS if k not in known)

    def bump(self, session: Session, key: str) -> None:
        """Increment a version counter inside the caller's transaction (atomic in SQL)."""
        session.execute(
            update(CounterRow).where(CounterRow.key == key).values(value=CounterRow.value + 1)
        )

    def version(self, key: str) -> int:
        """A counter's value; cheap enough to ask on every request."""
        return self.versions(key)[key]

    def versions(self, *keys: str) -> dict[str, int]:
        """Several counters' values in one query (0 for a counter never bumped)."""
        query = select(CounterRow.key, CounterRow.value).where(CounterRow.key.in_(keys))
        with self.engine.connect() as connection:  # no ORM session: asked on every request
            found = {key: int(value or 0) for key, value in connection.execute(query)}
        return {key: found.get(key, 0) for key in keys}

    def capacities(self) -> dict[str, int]:
        """Open places per therapist, read fresh."""
        with Session(self.engine) as session:
            rows = session.execute(select(TherapistRow.therapist_id, TherapistRow.capacity))
            return {therapist: capacity for therapist, capacity in rows}

    # --- roster, intakes, outcomes ------------------------------------------------------

    def import_tables(
        self,
        therapists: pd.DataFrame | None = None,
        intakes: pd.DataFrame | None = None,
        outcomes: pd.DataFrame | None = None,
    ) -> ImportSummary:
        """Insert or replace validated rows, all in one transaction.

        Outcomes must name clients and therapists that exist, in the database
        or in this same import; otherwise nothing is written.
        """
        with Session(self.engine) as session, session.begin():
            if outcomes is not None and len(outcomes):
                self._check_references(session, outcomes, therapists, intakes)
            if therapists is not None:
                for record, extra in _records(therapists, THERAPIST_COLUMNS):
                    session.merge(
                        TherapistRow(
                            therapist_id=record["therapist_id"],
                            name=record["name"],
                            capacity=record["capacity"],
                            record=record,
                            extra=extra,
                            updated_at=now_utc(),
                        )
                    )
                if len(therapists):
                    self.bump(session, "roster")
            if intakes is not None:
                for record, extra in _records(intakes, INTAKE_COLUMNS):
                    existing = session.get(IntakeRow, record["client_id"])
                    if existing is None:
                        session.add(
                            IntakeRow(client_id=record["client_id"], record=record, extra=extra)
                        )
                    else:
                        existing.record, existing.extra = record, extra
            if outcomes is not None:
                for record, extra in _records(outcomes, OUTCOME_COLUMNS):
                    existing = session.scalar(
                        select(OutcomeRow).where(
                            OutcomeRow.client_id == record["client_id"],
                            OutcomeRow.therapist_id == record["therapist_id"],
                        )
                    )
                    if existing is None:
                        session.add(
                            OutcomeRow(
                                client_id=record["client_id"],
                                therapist_id=record["therapist_id"],
                                record=record,
                                extra=extra,
                            )
                        )
                    else:
                        existing.record, existing.extra = record, extra
                # an imported outcome is history: that client is no longer waiting
                session.flush()
                clients = sorted(set(outcomes["client_id"]))
                for start in range(0, len(clients), 500):
                    session.execute(
                        update(IntakeRow)
                        .where(IntakeRow.client_id.in_(clients[start : start + 500]))
                        .where(IntakeRow.status == "waiting")
                        .values(status="closed")
                    )
        return ImportSummary(
            notes=tuple(defaulted_column_notes(therapists)) if therapists is not None else (),
            therapists=0 if therapists is None else len(therapists),
            intakes=0 if intakes is None else len(intakes),
            outcomes=0 if outcomes is None else len(outcomes),
        )

    def update_therapist(
        self, record: dict[str, Any], extra: dict[str, Any], *, set_capacity: bool
    ) -> None:
        """Replace one therapist's validated record (their own profile edit).

        Open places are written only with ``set_capacity``: otherwise the live
        count stays as placements left it, even if one was made meanwhile.
        """
        values: dict[str, Any] = {
            "record": _clean(record),
            "extra": _clean(extra),
            "name": record["name"],
            "updated_at": now_utc(),
        }
        if set_capacity:
            values["capacity"] = record["capacity"]
        with Session(self.engine) as session, session.begin():
            changed = session.execute(
                update(TherapistRow)
                .where(TherapistRow.therapist_id == record["therapist_id"])
                .values(**values)
            ).rowcount
            if not changed:
                raise NotFoundError(f"no therapist {record['therapist_id']!r}")
            self.bump(session, "roster")
            if set_capacity:
                self.bump(session, "capacity")

    def _check_references(self, session, outcomes, therapists, intakes) -> None:
        known_therapists = set(session.scalars(select(TherapistRow.therapist_id)))
        known_clients = set(session.scalars(select(IntakeRow.client_id)))
        if therapists is not None:
            known_therapists |= set(therapists["therapist_id"])
        if intakes is not None:
            known_clients |= set(intakes["client_id"])
        problems = []
        for position, (client, therapist) in enumerate(
            zip(outcomes["client_id"], outcomes["therapist_id"], strict=True)
        ):
            if client not in known_clients:
                problems.append(
                    Problem(
                        "client_id",
                        f"unknown client {client!r}; import its intake first",
                        "outcomes.csv",
                        position + 2,
                    )
                )
            if therapist not in known_therapists:
                problems.append(
                    Problem(
                        "therapist_id",
                        f"unknown therapist {therapist!r}; import the roster first",
                        "outcomes.csv",
                        position + 2,
                    )
                )
        if problems:
            raise ValidationError(problems)

    def roster_version(self) -> int:
        """Changes whenever the roster does; cheap to ask on every request."""
        return self.version("roster")

    def therapists(self, changed_since: datetime | None = None) -> pd.DataFrame:
        """The roster in validated form (see :func:`matcher.schema.validate_therapists`);
        with ``changed_since``, only therapists imported at or after that moment."""
        query = select(TherapistRow).order_by(TherapistRow.therapist_id)
        if changed_since is not None:
            query = query.where(TherapistRow.updated_at >= changed_since)
        with Session(self.engine) as session:
            rows = session.scalars(query)
            records = [{**row.record, "capacity": row.capacity} for row in rows]
        return pd.DataFrame.from_records(records, columns=list(THERAPIST_COLUMNS))

    def roster_changed_at(self) -> datetime | None:
        """When the roster was last imported into (for incremental rebuilds)."""
        with Session(self.engine) as session:
            return session.scalar(select(func.max(TherapistRow.updated_at)))

    def intakes(self) -> pd.DataFrame:
        with Session(self.engine) as session:
            rows = session.scalars(select(IntakeRow).order_by(IntakeRow.client_id))
            records = [row.record for row in rows]
        return pd.DataFrame.from_records(records, columns=list(INTAKE_COLUMNS))

    def outcomes(self) -> pd.DataFrame:
        """Outcomes in validated form, with an ``extra`` column of any extra fields."""
        with Session(self.engine) as session:
            rows = session.scalars(select(OutcomeRow).order_by(OutcomeRow.id))
            records = [{**row.record, "extra": row.extra or {}} for row in rows]
        return pd.DataFrame.from_records(records, columns=[*OUTCOME_COLUMNS, "extra"])

    def counts(self) -> dict[str, int]:
        with Session(self.engine) as session:
            return {
                "therapists": session.scalar(select(func.count()).select_from(TherapistRow)),
                "intakes": session.scalar(select(func.count()).select_from(IntakeRow)),
                "outcomes": session.scalar(select(func.count()).select_from(OutcomeRow)),
            }

    def is_empty(self) -> bool:
        return self.counts()["therapists"] == 0

    # --- the client's own intake and results ----------------------------------------------

    def add_intake(
        self,
        record: dict[str, Any],
        *,
        urgent: bool = False,
        support_note: str = "",
        wellbeing: dict[str, int] | None = None,
        consented_at: datetime | None = None,
        with_intake: Callable[[Session, str, str], None] | None = None,
    ) -> StoredIntake:
        """Store one intake from the web or API; returns it with its private token.

        ``with_intake(session, client_id, token)`` adds rows that belong with it (contact
        details, notifications) in the same transaction: all are stored, or none.
        """
        record = _clean(dict(record))
        record["client_id"] = f"web-{secrets.token_hex(6)}"
        token = secrets.token_urlsafe(24)  # 192 bits
        row = IntakeRow(
            client_id=record["client_id"],
            record=record,
            extra={},
            token=token,
            urgent=urgent,
            support_note=support_note,
            source="web",
            wellbeing=wellbeing,
            consented_at=consented_at,
        )
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            session.add(row)
            session.flush()  # the intake exists before rows that refer to it
            if with_intake is not None:
                with_intake(session, row.client_id, token)
        return _stored(row)

    def intake(self, client_id: str) -> StoredIntake:
        """One intake by id; ``NotFoundError`` when there is none."""
        with Session(self.engine) as session:
            row = session.get(IntakeRow, client_id)
            if row is None:
                raise NotFoundError(f"no client {client_id!r}")
            return _stored(row)

    def intake_by_token(self, token: str) -> StoredIntake:
        """The intake behind a results link; ``NotFoundError`` for any other token."""
        with Session(self.engine) as session:
            row = session.scalar(select(IntakeRow).where(IntakeRow.token == token))
            if row is None or not secrets.compare_digest(row.token or "", token):
                raise NotFoundError("no intake has that link")
            return _stored(row)

    def save_ranking(self, client_id: str, ranking: Ranking) -> None:
        """Keep what the client was shown (the results page and training read it back)."""
        with Session(self.engine) as session, session.begin():
            session.add(
                RankingRow(
                    client_id=client_id,
                    model_version=ranking.model_version,
                    top_score=ranking[0].score if len(ranking) else None,
                    payload=_clean(ranking.as_dict()),
                )
            )

    def shown_rankings(self) -> pd.DataFrame:
        """What each client was last shown, a row per suggestion: client_id, therapist_id,
        rank, eligible, score, propensity (logged, of the order down to that rank), and
        the ranking's policy, expected_loss and loss_bound (shares of its top score) and
        model_version. Rankings stored before these were logged (all deterministic) have
        NaN propensity and loss, and policy ""."""
        rows = []
        with Session(self.engine) as session:
            latest = (
                select(RankingRow.client_id, func.max(RankingRow.id).label("id"))
                .group_by(RankingRow.client_id)
                .subquery()
            )
            for row in session.scalars(
                select(RankingRow).join(latest, RankingRow.id == latest.c.id)
            ):
                policy = row.payload.get("policy") or {}
                for suggestion in row.payload.get("suggestions", []):
                    propensity = suggestion.get("propensity")
                    rows.append(
                        (
                            row.client_id,
                            suggestion["therapist_id"],
                            suggestion["rank"],
                            row.payload.get("eligible", 0),
                            suggestion.get("score", np.nan),
                            np.nan if propensity is None else float(propensity),
                            policy.get("name", ""),
                            policy.get("expected_loss", np.nan),
                            policy.get("loss_bound", np.nan),
                            row.model_version,
                        )
                    )
        columns = ["client_id", "therapist_id", "rank", "eligible", "score", "propensity"]
        columns += ["policy", "expected_loss", "loss_bound", "model_version"]
        return pd.DataFrame(rows, columns=columns)

    def latest_ranking(self, client_id: str) -> Ranking | None:
        with Session(self.engine) as session:
            row = session.scalar(
                select(RankingRow)
                .where(RankingRow.client_id == client_id)
                .order_by(RankingRow.id.desc())
                .limit(1)
            )
            return Ranking.from_dict(row.payload) if row else None


def _stored(row: IntakeRow) -> StoredIntake:
    return StoredIntake(
        client_id=row.client_id,
        record=Intake(row.record),
        token=row.token,
        urgent=row.urgent,
        support_note=row.support_note,
        created_at=row.created_at,
        status=row.status,
        wellbeing=row.wellbeing,
        consented_at=row.consented_at,
        choice=row.choice,
        chosen_therapist_id=row.chosen_therapist_id,
        chosen_at=row.chosen_at,
        returned_at=row.returned_at,
    )


MIGRATIONS = Path(__file__).parent / "migrations"


def _alembic_config(connection):
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(engine) -> str | None:
    """Bring the schema to the newest Alembic revision (same migrations on every database).

    Returns the revision upgraded from (``"empty"`` for a new database), or None
    when the schema was already current.
    """
    with engine.begin() as connection:
        config = _alembic_config(connection)
        head = ScriptDirectory.from_config(config).get_current_head()
        current = MigrationContext.configure(connection).get_current_revision()
        if current == head:
            return None
        command.upgrade(config, "head")
        return current or "empty"


def _require_current_schema(engine) -> None:
    with engine.connect() as connection:
        head = ScriptDirectory.from_config(_alembic_config(connection)).get_current_head()
        current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        raise MatcherError(
            f"the database schema is at revision {current or 'none'}, the code needs {head}; "
            "run `matcher db upgrade` first"
        )


def upgrade_schema(url: str | None = None) -> str:
    """``matcher db upgrade``: apply pending migrations, as an explicit production step."""
    url = url or default_database_url()
    engine = create_engine(url, future=True)
    try:
        before = migrate(engine)
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(_alembic_config(None)).get_current_head()
    if before is None:
        return f"the database schema is current (revision {head})"
    return f"upgraded the database schema from {before} to {head}"


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
