"""Property-based tests of the whole OpenAPI document (schemathesis): for every operation,
generated requests (valid and invalid) never make the server fail (no 5xx) and every
answer — problems included — has a status the document lists for the operation and
matches the schema and media type it gives for that status.

Run as an operator (who may reach the most) and anonymously (who must be refused
cleanly). Examples are bounded and derandomized so the suite is stable and quick.
Schemathesis' Python API drives Hypothesis directly here (one Hypothesis test per
operation and generation mode), which keeps the ledger fixture per backend.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import World

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance]


def run_every_operation(world: World, headers: dict[str, str], examples: int = 25) -> None:
    # generous limits: the property is about answers, not about being throttled
    world.app.state.sc.limits.rate = world.app.state.sc.limits.burst = 1e9
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        # path parameters alone are strings anything can fill: nothing invalid to send
        invalid = [p for p in operation.iter_parameters() if p.location != "path"] or \
            operation.get_request_payload_content_types()
        modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE][:2 if invalid else 1]
        for mode in modes:

            @given(case=operation.as_strategy(mode))
            @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck), print_blob=False)
            def check(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing invalid to send: fine
            except Exception as e:  # every operation is tried; all failures reported
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value})"
                                f": {e}")
    assert operations >= 40
    assert not failures, "\n\n".join(failures)


def test_an_operator_never_gets_a_server_error_or_an_undocumented_answer(
        world: World) -> None:
    # a second operator, under a name no generated path parameter will hit, so that a
    # generated DELETE /principals/{id} cannot revoke the token the test acts with
    token = world.svc.principals.add("root-7c1e9a40", "operator")["token"]
    run_every_operation(world, {"Authorization": f"Bearer {token}"})


def test_the_anonymous_public_never_gets_a_server_error_or_an_undocumented_answer(
        world: World) -> None:
    run_every_operation(world, {})


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("who", ["alice", "court", "railway"])
def test_other_parties_never_get_a_server_error(world: World, who: str) -> None:
    """A subject, a provider and a relying party reach routes the operator is refused
    (their bodies then get to the ledger: on PostgreSQL, which refuses more text than
    SQLite does). Fewer examples: the operator's run covers the schemas already."""
    run_every_operation(world, world.auth(who), examples=8)
