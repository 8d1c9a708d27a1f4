"""Results links: unguessable tokens, and no way around them, logged in or not."""

from __future__ import annotations

import math
import secrets


def test_results_tokens_carry_at_least_128_bits(store):
    from matcher.schema import parse_intake

    record = parse_intake({"concerns": "grief", "language": "english", "modality": "telehealth"})
    tokens = {store.add_intake(record).token for _ in range(50)}
    assert len(tokens) == 50
    alphabet = 64  # URL-safe base64
    assert all(len(t) * math.log2(alphabet) >= 128 for t in tokens)


def test_staff_cannot_open_a_results_page_without_its_token(
    client, store, coordinator, submit, token_of, intake_form
):
    token = token_of(submit(intake_form))
    assert client.get(f"/matches/{token}").status_code == 200
    assert client.get(f"/matches/{secrets.token_urlsafe(24)}").status_code == 404
    assert client.get(f"/matches/{token[:-1]}").status_code == 404
    client_id = store.intake_by_token(token).client_id
    assert client.get(f"/matches/{client_id}").status_code == 404
