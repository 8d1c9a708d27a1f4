"""Logs never hold what clients told us: free text, safety answers, names."""

from __future__ import annotations

import logging
import re

from web.access_log import TokenMasking


def test_a_full_flow_leaves_no_sensitive_text_in_the_logs(
    client, store, intake_form, caplog, login
):
    caplog.set_level(logging.DEBUG)
    secret_story = "ZEBRA my brother hurt me at the lake house"
    secret_hopes = "QUOKKA someone who understands farm life"
    secret_note = "PANGOLIN my aunt Rosa is around"
    page = client.get("/intake").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {
        **intake_form,
        "csrf_token": token,
        "safety": "yes",
        "story": secret_story,
        "hopes": secret_hopes,
        "support_note": secret_note,
    }
    response = client.post("/intake", data=form)
    assert response.status_code == 303
    client.get(response.headers["Location"])
    # an invalid submission and an API call with text
    client.post("/intake", data={**form, "max_fee": "lots"})
    client.post(
        "/api/v1/matches", json={"story": secret_story, "language": "english", "modality": "boat"}
    )
    # a coordinator looks and places
    login("coordinator")
    (intake,) = [i for i in store.intakes().itertuples() if i.story == secret_story]
    client.get(f"/coordinator/clients/{intake.client_id}")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in ("ZEBRA", "QUOKKA", "PANGOLIN", "Rosa", "lake house"):
        assert secret not in logged
    assert "safety" not in logged.lower()


def test_private_tokens_never_reach_the_access_log(submit, intake_form, token_of, client, caplog):
    caplog.set_level(logging.INFO)
    token = token_of(submit(intake_form))
    client.get(f"/matches/{token}")
    client.get(f"/matches/{token}/feedback")
    client.get("/therapist/join/secret-invitation-token")
    lines = [r.getMessage() for r in caplog.records if r.name == "web.access"]
    assert any('"GET /matches/[token]" 200' in line for line in lines)
    assert any("/therapist/join/[token]" in line for line in lines)
    assert not any(token in r.getMessage() for r in caplog.records)
    assert "secret-invitation-token" not in caplog.text


def test_the_development_servers_request_lines_are_masked_too():
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '%s - - "%s" %s',
        ("127.0.0.1", "GET /matches/Abc-123_x HTTP/1.1", "200"),
        None,
    )
    assert TokenMasking().filter(record)
    assert record.getMessage() == '127.0.0.1 - - "GET /matches/[token] HTTP/1.1" 200'
