"""A client's right to see and to erase what is held about them.

:func:`export_client` gathers everything stored about one client;
:func:`delete_client` erases it in one transaction, giving back an open place
the client held, and leaves only an audit entry that says a deletion happened
(who, when, how many rows), never what the client wrote.

Both walk :data:`CLIENT_TABLES`, so a table added there is exported and
erased with the rest; a test fails when a table that refers to an intake or a
placement is missing from it.

Earlier audit entries about the client are kept: they hold no intake text by
design (see :class:`matcher.clinic.tables.AuditRow`), and they are the record of who
looked at the client's data, which must outlive the data itself.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from ..errors import NotFoundError
from ..ranking.embed import text_key
from ..ranking.negation import split_sentences
from .accounts import audit
from .export import spreadsheet_safe
from .store import Store
from .tables import (
    AuditRow,
    Base,
    ContactRow,
    EmbeddingRow,
    FeedbackRow,
    IntakeRow,
    OutboxRow,
    OutcomeRow,
    PlacementRow,
    RankingRow,
    TherapistRow,
)

#: Tables of rows about one client (each has a ``client_id`` column), children first:
#: the order they are erased in. The intake itself is erased last.
CLIENT_TABLES: tuple[str, ...] = (
    ContactRow.__tablename__,
    OutboxRow.__tablename__,
    FeedbackRow.__tablename__,
    RankingRow.__tablename__,
    OutcomeRow.__tablename__,
    PlacementRow.__tablename__,
)

#: Columns left out of an export: the row's own client id, and the results link's token
#: (a key to the client's page, not information about them; a download can travel far).
_NOT_EXPORTED = frozenset({"client_id", "token"})
#: What stands in an exported message for the results link's token (the confirmation
#: email carries the link).
LINK_REMOVED = "[private link removed]"

EXPORT_FORMAT = 1


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _iso(value: datetime | date) -> str:
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    return value.isoformat()


def _jsonable(row: Mapping[str, Any], skip: Iterable[str] = _NOT_EXPORTED) -> dict[str, Any]:
    """A row's columns as JSON-safe values (dates as ISO 8601)."""
    return {
        key: _iso(value) if isinstance(value, datetime | date) else value
        for key, value in row.items()
        if key not in skip
    }


def export_client(store: Store, client_id: str) -> dict[str, Any]:
    """Everything held about one client, as a JSON-serialisable dict.

    Keys: ``format``, ``client_id``, ``exported_at``; ``intake`` (the answers
    as stored in ``record``, any ``extra`` fields, ``support_note``,
    ``urgent``, ``wellbeing`` at intake, ``status``, ``source``,
    ``created_at``); one list per table of :data:`CLIENT_TABLES`
    (``contacts``, ``outbox`` messages about them, ``feedback``, ``rankings``
    shown, ``outcomes``, ``placements``), oldest first; and ``audit``: who
    viewed or changed the client's record. The results link's token is left
    out, also from the messages that carry the link.

    Raises
    ------
    NotFoundError
        No client has this id.
    """
    with Session(store.engine) as session:
        intake = session.execute(
            select(_table(IntakeRow.__tablename__)).where(IntakeRow.client_id == client_id)
        ).first()
        if intake is None:
            raise NotFoundError(f"no client {client_id!r}")

        def rows(table: Table) -> list[dict[str, Any]]:
            query = (
                select(table)
                .where(table.c.client_id == client_id)
                .order_by(*table.primary_key.columns)
            )
            return [_jsonable(row) for row in session.execute(query).mappings()]

        data: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "client_id": client_id,
            "exported_at": _iso(datetime.now(UTC)),
            "intake": _jsonable(intake._mapping),
        }
        for name in CLIENT_TABLES:
            data[name] = rows(_table(name))
        token = intake._mapping["token"]
        if token:
            data[OutboxRow.__tablename__] = [
                {
                    k: v.replace(token, LINK_REMOVED) if isinstance(v, str) else v
                    for k, v in m.items()
                }
                for m in data[OutboxRow.__tablename__]
            ]
        data["audit"] = [
            {k: v for k, v in entry.items() if k != "id"}
            for entry in rows(_table(AuditRow.__tablename__))
        ]
        return data


def held_about(store: Store, client_id: str) -> dict[str, Any]:
    """How much is held about a client, without the content: row counts and flags.

    For a page that must show what a deletion would remove without showing
    (and so disclosing) the client's answers. ``NotFoundError`` for an unknown id.
    """
    with Session(store.engine) as session:
        intake = session.get(IntakeRow, client_id)
        if intake is None:
            raise NotFoundError(f"no client {client_id!r}")

        def count(table: Table, *where) -> int:
            query = select(func.count()).select_from(table).where(table.c.client_id == client_id)
            return int(session.scalar(query.where(*where)) or 0)

        held: dict[str, Any] = {
            "status": intake.status,
            "source": intake.source,
            "created_at": intake.created_at,
            "has_support_note": bool(intake.support_note),
            "has_wellbeing": intake.wellbeing is not None,
            "active_placements": count(
                _table(PlacementRow.__tablename__), PlacementRow.status == "active"
            ),
            "audit": count(_table(AuditRow.__tablename__)),
        }
        held.update({name: count(_table(name)) for name in CLIENT_TABLES})
        return held


def export_client_csv(export: dict[str, Any]) -> str:
    """An export of :func:`export_client` flattened to ``section,item,field,value`` CSV.

    One line per value, for people who open it in a spreadsheet: nested values
    are written as JSON, and text that a spreadsheet would run as a formula is
    neutralised (:func:`matcher.export.spreadsheet_safe`).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["section", "item", "field", "value"])

    def emit(section: str, item: int | str, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if isinstance(value, dict | list):
                value = json.dumps(value, ensure_ascii=False, sort_keys=True)
            row = [section, item, name, "" if value is None else value]
            writer.writerow([spreadsheet_safe(cell) for cell in row])

    emit("client", "", {k: export[k] for k in ("client_id", "exported_at", "format")})
    intake = dict(export["intake"])
    emit("intake", "", {k: v for k, v in intake.items() if k != "record"})
    emit("intake.record", "", intake.get("record") or {})
    for section in (*CLIENT_TABLES, "audit"):
        for number, entry in enumerate(export.get(section, []), start=1):
            emit(section, number, entry)
    return buffer.getvalue()


@dataclass(frozen=True)
class Deletion:
    """What :func:`delete_client` erased: counts only, nothing personal.

    ``rows`` maps each table of :data:`CLIENT_TABLES` to the rows deleted from it.
    """

    rows: dict[str, int] = field(default_factory=dict)
    embeddings: int = 0
    freed_places: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {**self.rows, "embeddings": self.embeddings, "freed_places": self.freed_places}


def client_text_keys(record: Mapping[str, Any], model_names: Iterable[str]) -> list[str]:
    """Embedding-cache keys of the client's own texts (story, hopes, its sentences).

    Concern tags are left out: their text is the same for everyone with those tags.
    """
    hopes = record.get("hopes") or ""
    texts = {record.get("story") or "", hopes, *split_sentences(hopes)}
    return sorted({text_key(name, t) for name in model_names for t in texts if t.strip()})


def delete_client(
    store: Store, client_id: str, *, by: str, embedding_models: Iterable[str] = ()
) -> Deletion:
    """Erase a client's data in one transaction: either all of it goes or none.

    Deletes their rows in :data:`CLIENT_TABLES` (contact details, outbox
    messages about them, feedback, rankings shown, outcomes, placements) and
    then the intake itself (answers, support note, wellbeing, results link).
    An active placement's place is given back to the therapist and the
    ``capacity`` counter bumped, so running matchers see it. Cached embeddings
    of the client's texts under each of ``embedding_models`` (embedder names)
    go too: a vector can say a good deal about the text it came from. One
    ``delete_client`` audit entry by ``by`` records the counts.

    Raises
    ------
    NotFoundError
        No client has this id (nothing changes).
    """
    models = list(embedding_models)
    with Session(store.engine) as session, session.begin():
        # Lock the intake first: a placement made at the same moment waits, then finds no client.
        intake = session.get(IntakeRow, client_id, with_for_update=True)
        if intake is None:
            raise NotFoundError(f"no client {client_id!r}")
        active = list(
            session.scalars(
                select(PlacementRow.therapist_id).where(
                    PlacementRow.client_id == client_id, PlacementRow.status == "active"
                )
            )
        )
        for therapist_id in active:
            session.execute(
                update(TherapistRow)
                .where(TherapistRow.therapist_id == therapist_id)
                .values(capacity=TherapistRow.capacity + 1)  # the place is free again
            )
        if active:
            store.bump(session, "capacity")
        keys = client_text_keys(intake.record or {}, models)
        rows = {}
        for name in CLIENT_TABLES:
            table = _table(name)
            rows[name] = session.execute(
                delete(table).where(table.c.client_id == client_id)
            ).rowcount
        embeddings = 0
        if keys:
            embeddings = session.execute(
                delete(EmbeddingRow).where(EmbeddingRow.key.in_(keys))
            ).rowcount
        session.delete(intake)
        result = Deletion(rows, embeddings, len(active))
        audit(
            store,
            by,
            "delete_client",
            client_id=client_id,
            detail={"deleted": result.as_dict()},
            session=session,
        )
    return result
