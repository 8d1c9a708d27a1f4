"""Therapists' own area: their profile, their invitation, their referrals and clients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from matcher import Matcher, MatcherError, NotFoundError, ValidationError
from matcher.clinic import (
    InvitationError,
    accept_invitation,
    accept_referral,
    assign,
    audit_entries,
    authenticate,
    client_of,
    clients_of,
    decline_referral,
    invite_therapist,
    list_users,
    open_invitation,
    outbox_messages,
    record_feedback,
    referrals_for,
    set_active,
    therapist_profile,
    update_profile,
    validate_contact,
    waiting_queue,
)
from matcher.clinic import therapists as therapists_module
from matcher.clinic.contacts import add_contact
from matcher.clinic.tables import IntakeRow, InvitationRow
from matcher.schema import parse_intake

PASSWORD = "a-long-test-password"
INTAKE = {
    "concerns": "anxiety",
    "story": "I worry a lot.",
    "hopes": "Someone calm who gives me tools.",
    "language": "english",
    "modality": "telehealth",
}
SESSION = {"heard": 8, "goals": 7, "approach": 9, "overall": 8}


def _client(store, *, contact: bool = True, urgent: bool = False, **changes) -> str:
    stored = store.add_intake(parse_intake({**INTAKE, **changes}), urgent=urgent)
    if contact:
        details = validate_contact(
            {"preferred_name": "Robin", "email": "robin@example.org", "method": "email"}
        )
        with Session(store.engine) as session, session.begin():
            add_contact(session, stored.client_id, details)
    return stored.client_id


def _placed(store, therapist_id: str = "T2", **changes) -> tuple[str, int]:
    client_id = _client(store, **changes)
    return client_id, assign(store, client_id, therapist_id, by="maria").id


# --- the profile ---------------------------------------------------------------------------


def test_the_profile_is_the_stored_record_with_open_places(store):
    profile = therapist_profile(store, "T1")
    assert profile["name"] == "Dr. Ana Ruiz" and profile["capacity"] == 3
    assert profile["languages"] == ["english", "spanish"]
    with pytest.raises(NotFoundError):
        therapist_profile(store, "nobody")


def test_a_bad_profile_is_refused_like_a_csv_row_and_nothing_changes(store):
    before, version = therapist_profile(store, "T1"), store.roster_version()
    with pytest.raises(ValidationError) as caught:
        update_profile(
            store,
            "T1",
            {
                "fee": "lots",
                "directive": "5",
                "approach": "",
                "telehealth": "no",
                "in_person": "no",
            },
            by="ana",
        )
    errors = caught.value.by_field()
    assert set(errors) == {"fee", "directive", "approach", "in_person"}
    assert "number" in errors["fee"] and "-3 to +3" in errors["directive"]
    assert "therapists.csv" not in str(caught.value) and "row" not in str(caught.value)
    assert therapist_profile(store, "T1") == before
    assert store.roster_version() == version
    assert audit_entries(store, action="edit_profile") == []


def test_id_and_name_are_not_the_therapists_to_change(store):
    with pytest.raises(ValidationError) as caught:
        update_profile(store, "T1", {"name": "Dr. Someone", "therapist_id": "T9"}, by="ana")
    assert set(caught.value.by_field()) == {"name", "therapist_id"}
    assert therapist_profile(store, "T1")["name"] == "Dr. Ana Ruiz"


def test_age_groups_cannot_be_left_empty_on_purpose(store):
    with pytest.raises(ValidationError) as caught:
        update_profile(store, "T1", {"age_groups": []}, by="ana")
    assert set(caught.value.by_field()) == {"age_groups"}


def test_an_update_is_stored_whole_and_audited_by_field_name_only(store):
    profile = update_profile(
        store,
        "T4",
        {
            "fee": "85",
            "languages": "english; french; Spanish",
            "availability": ["sat_am", "sun_pm", "mon_eve"],
            "age_groups": ["adolescents", "adults"],
            "directive": "-2",  # unchanged
            "sliding_scale": "yes",  # unchanged
        },
        by="jo",
    )
    assert profile["fee"] == 85.0 and profile["languages"] == ["english", "french", "spanish"]
    assert profile["availability"] == ["sat_am", "sun_pm", "mon_eve"]
    assert profile["age_groups"] == ["adolescents", "adults"]
    assert therapist_profile(store, "T4") == profile
    roster = store.therapists().set_index("therapist_id")
    assert roster.loc["T4", "fee"] == 85.0 and roster.loc["T1", "fee"] == 120.0
    (entry,) = audit_entries(store, action="edit_profile")
    assert (entry.actor, entry.therapist_id) == ("jo", "T4")
    assert entry.detail == {"fields": ["availability", "fee", "languages", "age_groups"]}
    assert "85" not in repr(entry.detail) and "spanish" not in repr(entry.detail)


def test_nothing_changed_stores_nothing(store):
    version = store.roster_version()
    profile = therapist_profile(store, "T2")
    assert update_profile(store, "T2", {"fee": "90", "telehealth": True}, by="sam") == profile
    assert store.roster_version() == version
    assert audit_entries(store, action="edit_profile") == []


def test_open_places_are_the_therapists_to_set(store):
    update_profile(store, "T5", {"capacity": "2"}, by="lee")
    assert store.capacities()["T5"] == 2
    with pytest.raises(ValidationError, match="whole number"):
        update_profile(store, "T5", {"capacity": "1.5"}, by="lee")


def test_an_update_takes_effect_in_the_next_ranking(store, fake_embedder):
    matcher = Matcher.load("", embedder=fake_embedder, store=store)
    spanish = parse_intake({**INTAKE, "language": "spanish"})
    before = {s.therapist_id for s in matcher.rank(spanish, k=10)}
    assert "T4" not in before
    encoded = fake_embedder.texts_encoded
    update_profile(store, "T4", {"languages": "english; french; spanish"}, by="jo")
    after = {s.therapist_id for s in matcher.rank(spanish, k=10)}
    assert "T4" in after and before < after
    # only the changed therapist (and the client) were encoded again, not the whole roster
    assert fake_embedder.texts_encoded - encoded < len(store.therapists())


# --- invitations ---------------------------------------------------------------------------


def test_an_invitation_sets_up_one_account_once(store):
    token = invite_therapist(store, "T2", by="admin")
    with Session(store.engine) as session:
        (row,) = session.scalars(select(InvitationRow))
        assert row.token_hash != token and token not in row.token_hash and len(row.token_hash) == 64
    assert open_invitation(store, token).therapist_name == "Sam Lindqvist"
    user = accept_invitation(store, token, "Sam", PASSWORD, email="sam@example.org")
    assert (user.username, user.role, user.therapist_id) == ("sam", "therapist", "T2")
    assert authenticate(store, "sam", PASSWORD).therapist_id == "T2"
    with pytest.raises(InvitationError, match="already been used"):
        accept_invitation(store, token, "sam2", PASSWORD)
    assert [u.username for u in list_users(store)] == ["sam"]
    actions = [e.action for e in audit_entries(store)]
    assert actions == ["create_user", "invite_therapist"]
    assert token not in repr(audit_entries(store))


def test_a_second_account_for_a_therapist_is_refused(store):
    accept_invitation(store, invite_therapist(store, "T2", by="admin"), "sam", PASSWORD)
    with pytest.raises(InvitationError, match="already has an account"):
        invite_therapist(store, "T2", by="admin")
    set_active(store, "sam", False)
    token = invite_therapist(store, "T2", by="admin")  # once deactivated, a new one is fine
    accept_invitation(store, token, "sam-new", PASSWORD)


def test_unknown_and_expired_invitations_are_refused(store):
    for token in ("", "not-a-token"):
        with pytest.raises(InvitationError, match="not valid"):
            accept_invitation(store, token, "sam", PASSWORD)
    token = invite_therapist(store, "T2", by="admin", valid_days=1)
    with Session(store.engine) as session, session.begin():
        session.execute(
            update(InvitationRow).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    with pytest.raises(InvitationError, match="expired"):
        accept_invitation(store, token, "sam", PASSWORD)
    assert list_users(store) == []
    assert issubclass(InvitationError, MatcherError)
    with pytest.raises(NotFoundError):
        invite_therapist(store, "nobody", by="admin")


def test_a_new_invitation_replaces_the_unused_one(store):
    first = invite_therapist(store, "T2", by="admin")
    second = invite_therapist(store, "T2", by="admin")
    with pytest.raises(InvitationError, match="expired"):
        open_invitation(store, first)
    assert accept_invitation(store, second, "sam", PASSWORD).therapist_id == "T2"


def test_a_bad_username_keeps_the_invitation_open(store):
    token = invite_therapist(store, "T2", by="admin")
    with pytest.raises(ValidationError) as caught:
        accept_invitation(store, token, "x!", "short", email="not an address")
    assert set(caught.value.by_field()) == {"email"}
    with pytest.raises(ValidationError) as caught:
        accept_invitation(store, token, "x!", "short")
    assert set(caught.value.by_field()) == {"username", "password"}
    assert accept_invitation(store, token, "sam", PASSWORD).username == "sam"


def test_an_invitation_with_an_email_queues_the_link(store):
    token = invite_therapist(
        store, "T2", by="admin", email="sam@example.org", link_for=lambda t: f"https://x/j/{t}"
    )
    (message,) = outbox_messages(store)
    assert (message.kind, message.to) == ("invitation", "sam@example.org")
    assert f"https://x/j/{token}" in message.body
    with pytest.raises(ValidationError):
        invite_therapist(store, "T4", by="admin", email="nope", link_for=str)


# --- referrals and clients -----------------------------------------------------------------


def test_a_therapist_sees_only_their_own_referrals_and_clients(store):
    mine, placement = _placed(store, "T2", urgent=True)
    other, _ = _placed(store, "T4")
    imported, imported_placement = _placed(store, "T2", contact=False)
    (referral, plain) = referrals_for(store, "T2")  # urgent first
    assert (referral.client_id, referral.placement_id, referral.urgent) == (mine, placement, True)
    assert referral.preferred_name == "Robin" and referral.contact.email == "robin@example.org"
    assert referral.concerns == ["anxiety"] and referral.hopes == INTAKE["hopes"]
    assert referral.pending and referral.feedback_count == 0
    assert plain.client_id == imported and plain.contact is None and plain.preferred_name is None
    assert clients_of(store, "T2") == []
    assert [r.client_id for r in referrals_for(store, "T4")] == [other]
    with pytest.raises(NotFoundError):
        client_of(store, "T2", other)
    with pytest.raises(NotFoundError):
        client_of(store, "T2", "nobody")

    accept_referral(store, placement, therapist_id="T2", by="sam")
    record_feedback(store, mine, SESSION, None, entered_by="sam")
    (client,) = clients_of(store, "T2")
    assert client.client_id == mine and not client.pending and client.feedback_count == 1
    assert [r.client_id for r in referrals_for(store, "T2")] == [imported]
    assert client_of(store, "T2", mine) == client
    with pytest.raises(NotFoundError):  # another therapist cannot accept it either
        accept_referral(store, imported_placement, therapist_id="T4", by="jo")


def test_declining_frees_the_place_and_puts_the_client_back_in_the_queue(store):
    client_id, placement = _placed(store, "T2")
    assert store.capacities()["T2"] == 1
    decline_referral(store, placement, therapist_id="T2", by="sam", reason="No evening slots")
    assert store.capacities()["T2"] == 2
    assert client_id in {item.client_id for item in waiting_queue(store)}
    with Session(store.engine) as session:
        assert session.get(IntakeRow, client_id).returned_at is not None
    assert referrals_for(store, "T2") == [] and clients_of(store, "T2") == []
    (entry,) = audit_entries(store, action="decline_referral")
    assert (entry.actor, entry.client_id, entry.therapist_id) == ("sam", client_id, "T2")


def test_a_profile_edit_never_gives_back_a_place_taken_meanwhile(store, monkeypatch):
    """The edit reads the record, a coordinator takes a place, then the edit is stored:
    the open places stay as the placement left them."""
    client = store.add_intake(parse_intake(INTAKE)).client_id
    read_profile = therapists_module._profile
    placed = []

    def read_then_place(row):
        profile = read_profile(row)
        if not placed:
            placed.append(assign(store, client, "T2", by="maria"))  # meanwhile, elsewhere
        return profile

    monkeypatch.setattr(therapists_module, "_profile", read_then_place)
    update_profile(store, "T2", {"fee": "95"}, by="sam")
    assert therapist_profile(store, "T2")["fee"] == 95
    assert store.capacities()["T2"] == 1  # 2 open places, one taken meanwhile
