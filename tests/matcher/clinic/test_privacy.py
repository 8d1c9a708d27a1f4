"""A client's data: exported whole, deleted whole, with a place given back and an audit trail."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matcher import NotFoundError, Ranking
from matcher.clinic.accounts import audit, audit_entries
from matcher.clinic.placement import assign
from matcher.clinic.privacy import (
    CLIENT_TABLES,
    client_text_keys,
    delete_client,
    export_client,
    export_client_csv,
    held_about,
)
from matcher.clinic.store import Store
from matcher.clinic.tables import (
    AuditRow,
    Base,
    EmbeddingRow,
    FeedbackRow,
    IntakeRow,
    OutcomeRow,
    PlacementRow,
    RankingRow,
)
from matcher.ranking.embed import text_key
from matcher.schema import parse_intake

STORY = "My sister died in March and I cannot sleep."
HOPES = "Someone gentle. I want to talk about her."
NOTE = "Lives alone; a neighbour checks in."
INTAKE = {
    "concerns": "grief",
    "story": STORY,
    "hopes": HOPES,
    "language": "english",
    "modality": "telehealth",
}
WELLBEING = {"personal": 3, "relationships": 4, "social": 5, "overall": 3}
PERSONAL = (STORY, HOPES, NOTE, "I cried a lot")


@pytest.fixture
def database_url(any_database_url):
    """Deletion is one transaction on SQLite and on PostgreSQL alike."""
    return any_database_url


def _client_with_history(store: Store, *, model: str = "fake-bow") -> str:
    """A web intake that was ranked, placed (active), gave feedback and has an outcome."""
    stored = store.add_intake(
        parse_intake(INTAKE), urgent=True, support_note=NOTE, wellbeing=WELLBEING
    )
    client = stored.client_id
    store.save_ranking(
        client,
        Ranking.from_dict(
            {
                "model_version": "prior",
                "suggestions": [{"therapist_id": "T2", "rank": 1, "score": 0.8, "name": "Sam"}],
                "eligible": 3,
            }
        ),
    )
    placement = assign(store, client, "T2", by="maria", rank_shown=1, score=0.8)
    with Session(store.engine) as session, session.begin():
        session.add(
            FeedbackRow(
                placement_id=placement.id,
                client_id=client,
                session_number=1,
                entered_by=None,
                session={"heard": 9, "goals": 8, "approach": 9, "overall": 9},
                wellbeing=WELLBEING,
            )
        )
        session.add(
            OutcomeRow(
                client_id=client,
                therapist_id="T2",
                record={"client_id": client, "therapist_id": "T2", "sessions": 1, "alliance": 35.0},
                extra={"comment": "I cried a lot"},
            )
        )
    audit(store, "maria", "view_intake", client_id=client)
    store.embeddings.put_many(
        {key: np.ones(4, dtype=np.float32) for key in client_text_keys(stored.record, [model])}
    )
    return client


def _count(store: Store, table, client_id: str) -> int:
    with Session(store.engine) as session:
        query = select(func.count()).select_from(table).where(table.client_id == client_id)
        return session.scalar(query)


def test_export_holds_everything_stored_about_the_client(store):
    client = _client_with_history(store)
    data = export_client(store, client)

    json.dumps(data)  # serialisable as it is
    intake = data["intake"]
    assert data["client_id"] == client
    assert intake["record"]["story"] == STORY and intake["record"]["hopes"] == HOPES
    assert intake["support_note"] == NOTE and intake["urgent"] is True
    assert intake["wellbeing"] == WELLBEING and intake["status"] == "placed"
    assert "token" not in intake  # the results link is a key, not information about them
    assert [r["payload"]["suggestions"][0]["therapist_id"] for r in data["rankings"]] == ["T2"]
    assert [(p["therapist_id"], p["status"], p["placed_by"]) for p in data["placements"]] == [
        ("T2", "active", "maria")
    ]
    assert data["feedback"][0]["session"]["heard"] == 9
    assert data["outcomes"][0]["extra"] == {"comment": "I cried a lot"}
    assert [e["action"] for e in data["audit"]] == ["assign", "view_intake"]
    assert isinstance(data["audit"][0]["at"], str)


def test_export_as_csv_is_spreadsheet_safe(store):
    client = _client_with_history(store)
    data = export_client(store, client)
    data["intake"]["record"]["hopes"] = '=HYPERLINK("http://evil.example")'
    rows = list(csv.reader(io.StringIO(export_client_csv(data))))

    assert rows[0] == ["section", "item", "field", "value"]
    values = {(r[0], r[2]): r[3] for r in rows[1:]}
    assert values[("intake", "support_note")] == NOTE
    assert values[("intake.record", "hopes")].startswith("'=")
    assert ("feedback", "session") in values and ("placements", "therapist_id") in values


def test_held_about_counts_without_content(store):
    client = _client_with_history(store)
    held = held_about(store, client)
    assert held["rankings"] == held["placements"] == held["active_placements"] == 1
    assert held["feedback"] == held["outcomes"] == 1 and held["has_support_note"]
    assert not any(text in repr(held) for text in PERSONAL)


def test_delete_erases_everything_frees_the_place_and_leaves_an_audit_entry(store):
    client = _client_with_history(store)
    other = store.add_intake(parse_intake({**INTAKE, "story": "Someone else's story."}))
    capacity, version = store.capacities()["T2"], store.version("capacity")

    deletion = delete_client(store, client, by="admin", embedding_models=["fake-bow"])

    assert deletion.rows == {
        "contacts": 0,
        "outbox": 0,
        "feedback": 1,
        "rankings": 1,
        "outcomes": 1,
        "placements": 1,
    }
    assert deletion.freed_places == 1
    assert deletion.embeddings == len(client_text_keys({"story": STORY, "hopes": HOPES}, ["m"]))
    for table in (FeedbackRow, RankingRow, OutcomeRow, PlacementRow, IntakeRow):
        assert _count(store, table, client) == 0, table.__tablename__
    assert store.capacities()["T2"] == capacity + 1
    assert store.version("capacity") == version + 1
    with Session(store.engine) as session:
        keys = [text_key("fake-bow", STORY), text_key("fake-bow", HOPES)]
        assert not session.scalars(select(EmbeddingRow).where(EmbeddingRow.key.in_(keys))).all()
    with pytest.raises(NotFoundError):
        store.intake(client)
    store.intake(other.client_id)  # nobody else is touched

    (entry,) = audit_entries(store, client_id=client, action="delete_client")
    assert entry.actor == "admin" and entry.detail["deleted"]["placements"] == 1
    with Session(store.engine) as session:
        everything = repr([(r.actor, r.detail) for r in session.scalars(select(AuditRow))])
    assert not any(text in everything for text in PERSONAL)


def test_delete_without_an_active_placement_gives_no_place_back(store):
    stored = store.add_intake(parse_intake(INTAKE))
    capacities, version = store.capacities(), store.version("capacity")
    deletion = delete_client(store, stored.client_id, by="admin")
    assert deletion.freed_places == 0
    assert store.capacities() == capacities and store.version("capacity") == version


def test_unknown_client_is_not_found_and_nothing_changes(store):
    with pytest.raises(NotFoundError, match="no client 'nobody'"):
        delete_client(store, "nobody", by="admin")
    with pytest.raises(NotFoundError):
        export_client(store, "nobody")
    assert audit_entries(store) == []


def test_a_failed_delete_changes_nothing(store, monkeypatch):
    """One transaction: if the last step fails, the earlier deletions are rolled back."""
    client = _client_with_history(store)
    capacity = store.capacities()["T2"]

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("matcher.clinic.privacy.audit", broken)
    with pytest.raises(RuntimeError):
        delete_client(store, client, by="admin", embedding_models=["fake-bow"])
    assert store.intake(client).support_note == NOTE
    assert store.capacities()["T2"] == capacity
    for table in (FeedbackRow, RankingRow, OutcomeRow, PlacementRow):
        assert _count(store, table, client) == 1, table.__tablename__


def test_every_table_about_a_client_is_deleted_with_them():
    """A new table that refers to an intake or a placement must be added to CLIENT_TABLES."""
    referring = {
        table.name
        for table in Base.metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.column.table.name in ("intakes", "placements")
    }
    assert referring <= set(CLIENT_TABLES)
    for name in CLIENT_TABLES:
        assert "client_id" in Base.metadata.tables[name].c, name


# --- contact details and notifications ----------------------------------------------------------

CONTACT_EMAIL = "alex.private@example.org"


def _client_with_contact_and_messages(store: Store):
    """A web intake with contact details, a confirmation email and an urgent notice."""
    from matcher.clinic.contacts import Contact, add_contact
    from matcher.clinic.outbox import queue_intake_confirmation, queue_urgent_intake

    def with_intake(session, client_id, token):
        add_contact(
            session, client_id, Contact("Alex", CONTACT_EMAIL, "", "email", "weekday evenings")
        )
        queue_intake_confirmation(
            session,
            client_id=client_id,
            to=CONTACT_EMAIL,
            name="Alex",
            link=f"https://practice.example/matches/{token}",
        )
        queue_urgent_intake(
            session, client_id=client_id, recipients=["maria@example.org"], link="https://q"
        )

    return store.add_intake(parse_intake(INTAKE), urgent=True, with_intake=with_intake)


def test_export_includes_contact_details_and_messages_without_the_link_token(store):
    stored = _client_with_contact_and_messages(store)
    data = export_client(store, stored.client_id)

    (contact,) = data["contacts"]
    assert contact["preferred_name"] == "Alex" and contact["email"] == CONTACT_EMAIL
    assert contact["method"] == "email" and contact["times"] == "weekday evenings"
    messages = {m["kind"]: m for m in data["outbox"]}
    assert set(messages) == {"intake_confirmation", "urgent_intake"}
    assert messages["intake_confirmation"]["to_address"] == CONTACT_EMAIL
    assert "We have your request" in messages["intake_confirmation"]["subject"]
    assert isinstance(messages["urgent_intake"]["created_at"], str)
    assert stored.token not in json.dumps(data)  # the link's key stays out of the download
    rows = list(csv.reader(io.StringIO(export_client_csv(data))))
    assert ("contacts", "email", CONTACT_EMAIL) in {(r[0], r[2], r[3]) for r in rows}
    assert any(r[0] == "outbox" and r[2] == "body" for r in rows)

    held = held_about(store, stored.client_id)
    assert held["contacts"] == 1 and held["outbox"] == 2
    assert CONTACT_EMAIL not in repr(held)


def test_delete_erases_contact_details_and_messages(store):
    from matcher.clinic.contacts import contact_of
    from matcher.clinic.outbox import outbox_messages
    from matcher.clinic.tables import ContactRow, OutboxRow

    stored = _client_with_contact_and_messages(store)
    other = _client_with_contact_and_messages(store)

    deletion = delete_client(store, stored.client_id, by="admin")

    assert deletion.rows["contacts"] == 1 and deletion.rows["outbox"] == 2
    assert _count(store, ContactRow, stored.client_id) == 0
    assert _count(store, OutboxRow, stored.client_id) == 0
    assert contact_of(store, stored.client_id) is None
    assert contact_of(store, other.client_id).email == CONTACT_EMAIL  # nobody else is touched
    assert {m.client_id for m in outbox_messages(store)} == {other.client_id}
    (entry,) = audit_entries(store, client_id=stored.client_id, action="delete_client")
    assert entry.detail["deleted"]["contacts"] == 1 and entry.detail["deleted"]["outbox"] == 2
    assert CONTACT_EMAIL not in repr(entry.detail)


def test_contacts_and_the_outbox_are_client_tables():
    assert {"contacts", "outbox"} <= set(CLIENT_TABLES)
