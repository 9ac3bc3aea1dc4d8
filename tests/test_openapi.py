"""The REST API against its OpenAPI description (docs/openapi.yaml), fuzzed by schemathesis
through a real Jupyter server, its sidecar and real Dask: no 500, every 4xx says what was
wrong, every answer matches the description, and no request leaves a half-created cluster."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import REPO, DaskHpc, jupyter_server, logged_in, processes_mentioning, wait_until_gone

TOKEN = "fuzz-token"

SCHEMA = schemathesis.openapi.from_path(REPO / "docs" / "openapi.yaml")
HEADERS = {"Authorization": f"token {TOKEN}"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance, negative_data_rejection]
EXAMPLES_PER_ROUTE = 25
REQUESTS: list[tuple[str, int]] = []


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """A whole `jupyter server` in a fake PBS job on a node without batch clients on PATH (so
    worker jobs and runner mode are refused, not submitted), and its API's base URL."""
    root = tmp_path_factory.mktemp("openapi")
    node = DaskHpc(root)
    empty_bin = root / "bin"
    empty_bin.mkdir()
    with jupyter_server(node, TOKEN, PATH=str(empty_bin)) as (base, _):
        yield base
    assert wait_until_gone(processes_mentioning(str(root)), 30) == []


@SCHEMA.parametrize()
# derandomize: CI runs the same examples every time; to search further by hand, set it to
# False (each run then tries new examples; four such runs found the bugs fixed in handlers.py
# and api-server.ts).
@settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_route_answers_as_described_and_never_500(api, case):
    response = case.call(base_url=api, headers=HEADERS, timeout=120)  # a real cluster may take a while on 2 cores
    REQUESTS.append((case.method, response.status_code))
    try:
        case.validate_response(response, checks=CHECKS, headers=HEADERS)
        # Our answers are JSON and say what was wrong. (Tornado answers a few itself before the
        # relay, in HTML: a malformed multipart Content-Type, a method a route does not have.)
        if response.headers.get("Content-Type", "").startswith("application/json") and 400 <= response.status_code < 500:
            assert response.json().get("message"), f"a {response.status_code} must say what was wrong"
    finally:
        # Whatever this request created goes now: the next examples start from nothing.
        if case.method == "POST" and case.path == "/clusters" and response.status_code == 201:
            requests.delete(f"{api}/clusters/{response.json()['id']}", headers=HEADERS, timeout=120).raise_for_status()


def test_after_the_fuzzing_no_cluster_is_left_half_created(api):
    assert REQUESTS, "the fuzzing ran first"
    clusters = requests.get(f"{api}/clusters", headers=HEADERS, timeout=30).json()
    assert clusters == []
    print(
        f"\n{len(REQUESTS)} requests, {sum(1 for _, s in REQUESTS if 400 <= s < 500)} refused with 4xx, "
        f"{sum(1 for m, s in REQUESTS if m == 'POST' and s == 201)} clusters created and deleted"
    )


def test_without_a_token_every_route_is_403(api):
    for operation in SCHEMA.get_all_operations():
        op = operation.ok()
        path = op.path.replace("{id}", "abcdef12")
        response = requests.request(op.method.upper(), f"{api}{path}", json={} if op.method in ("post", "patch") else None, timeout=30)
        assert response.status_code == 403, (op.method, path, response.status_code)


# What a body must be (docs/openapi.yaml's description): each route with a body documents
# these refusals and answers them, with a message.
BODY_ROUTES = [
    (method.upper(), path.replace("{id}", "abcdef12"), operation["responses"])
    for path, item in SCHEMA.raw_schema["paths"].items()
    for method, operation in item.items()
    if isinstance(operation, dict) and "requestBody" in operation
]
BAD_BODIES = [
    ("not declared JSON", "text/plain", b'{"workload": "cpu"}', 415),
    ("a form", "application/x-www-form-urlencoded", b"workload=cpu", 415),
    ("over 64 KiB", "application/json", b'{"workload": "cpu"}'.ljust(64 * 1024 + 1), 413),
    ("nested 20,000 deep", "application/json", b"[" * 20_000 + b"]" * 20_000, 400),
]


@pytest.mark.parametrize(("method", "path", "responses"), BODY_ROUTES, ids=[f"{m} {p}" for m, p, _ in BODY_ROUTES])
@pytest.mark.parametrize(("what", "content_type", "body", "status"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_a_bad_body_is_refused_as_described(api, method, path, responses, what, content_type, body, status):
    assert str(status) in responses, f"{method} {path} does not document {status}"
    response = requests.request(method, f"{api}{path}", data=body, headers={**HEADERS, "Content-Type": content_type}, timeout=30)
    assert response.status_code == status, (what, response.text)
    assert response.json()["message"]
    assert requests.get(f"{api}/clusters", headers=HEADERS, timeout=30).json() == []


@pytest.mark.parametrize(("method", "path", "responses"), BODY_ROUTES, ids=[f"{m} {p}" for m, p, _ in BODY_ROUTES])
def test_the_login_cookie_needs_the_xsrf_header_as_described(api, method, path, responses):
    session, xsrf = logged_in(api[: -len("/dask-hpc/api")], TOKEN)
    json_body = {"Content-Type": "application/json"}
    assert "403" in responses
    forged = session.request(method, f"{api}{path}", data="{}", headers=json_body, timeout=30)
    assert forged.status_code == 403, forged.text
    sent = session.request(method, f"{api}{path}", data="{}", headers={**json_body, "X-XSRFToken": xsrf}, timeout=30)
    assert sent.status_code != 403 and str(sent.status_code) in responses, sent.text
    if method == "POST" and path == "/clusters" and sent.status_code == 201:
        requests.delete(f"{api}/clusters/{sent.json()['id']}", headers=HEADERS, timeout=120).raise_for_status()
