"""Malformed and unsigned requests on `/slack/events` (issue 13): the signature is checked on
the raw bytes before anything parses them; unsigned → 401, signed but unreadable → 400, never a
500 and never a traceback in the log. Real HTTP requests to the real Bolt app."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bank.db import Database
from bank.models import ProcessedEvent
from tests.slack_wire import SECRET
from tests.test_slack import Slack
from tests.test_slack import slack as slack  # the fixture, re-exported


def send(
    slack: Slack, body: bytes, content_type: str, *, signed: bool = True, **headers: str
) -> int:
    ts = str(int(time.time()))
    all_headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts}
    if signed:
        base = b"v0:" + ts.encode() + b":" + body
        digest = hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()
        all_headers["X-Slack-Signature"] = f"v0={digest}"
    all_headers.update(headers)
    request = urllib.request.Request(
        f"{slack.client.url}/slack/events", data=body, headers=all_headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@pytest.mark.parametrize(
    ("body", "content_type", "signed", "headers", "status"),
    [
        (b"\xff\xfe garbage \x00", "application/octet-stream", False, {}, 401),
        (b"payload=%7B%7D", FORM, False, {"X-Slack-Signature": "v0=zz"}, 401),
        (b"payload=%7B%7D", FORM, False, {"X-Slack-Request-Timestamp": "soon"}, 401),
        (b"\xff\xfe not utf-8", FORM, True, {}, 401),  # cannot be verified: refused as unsigned
        (b"payload=%7Bnot json", FORM, True, {}, 400),
        (b'{"type": "event_callback", "event": ', JSON, True, {}, 400),
        (b"[1, 2, 3]", JSON, True, {}, 400),
        (b'"just a string"', JSON, True, {}, 400),
        (b"payload=%5B%5D", FORM, True, {}, 400),
    ],
)
def test_malformed_requests_are_refused_without_a_traceback(
    slack: Slack,
    bank_db: Database,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    signed: bool,
    headers: dict[str, str],
    status: int,
) -> None:
    caplog.set_level(logging.INFO)
    assert send(slack, body, content_type, signed=signed, **headers) == status
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    with bank_db.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 0


def test_oversized_body_is_refused(slack: Slack, caplog: pytest.LogCaptureFixture) -> None:
    body = b"payload=" + b"x" * (1024 * 1024 + 1024)
    assert send(slack, body, FORM, Connection="close") == 413
    assert not [r for r in caplog.records if r.exc_info]


def test_well_formed_requests_still_work(slack: Slack) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc"}).encode()
    assert send(slack, body, JSON) == 200


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["type", "event", "payload", "user", "team", "view", "actions", "x"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


def test_fuzzed_signed_payload_shapes(slack: Slack, caplog: pytest.LogCaptureFixture) -> None:
    """Signed bodies of random shape, as JSON or as a form `payload`: answered 200 or 400 (Bolt
    answers 404 for a well-formed request no listener takes), never 500, never a traceback."""

    @settings(
        max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(shape=JSONISH, as_form=st.booleans())
    def run(shape: object, as_form: bool) -> None:
        text = json.dumps(shape)
        body = urlencode({"payload": text}).encode() if as_form else text.encode()
        status = send(slack, body, FORM if as_form else JSON)
        assert status in (200, 400, 404), (status, text)

    run()
    assert not [r for r in caplog.records if r.exc_info and r.name.startswith(("aiohttp", "dojo"))]
