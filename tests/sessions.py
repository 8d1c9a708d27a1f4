"""Sign a Flask test client in as an account, as a successful login would."""

from __future__ import annotations

import time


def sign_in(client, user) -> None:
    """Put ``user``'s session in the client's cookie: id, session version and times."""
    now = int(time.time())
    with client.session_transaction() as session:
        session["user_id"] = user.id
        session["session_version"] = user.session_version
        session["logged_in_at"] = session["seen_at"] = now
