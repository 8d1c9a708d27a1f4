"""Logs never hold what clients told us: free text, safety answers, names."""

from __future__ import annotations

import logging
import re


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
