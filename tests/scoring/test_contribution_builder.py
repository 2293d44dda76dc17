"""A standing's contributions built without the frozen dataclass's __init__
(scoring/standing.py: `contribution`) are the Contributions its __init__ builds."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialcredit.scoring.standing import Contribution, contribution

text = st.text(max_size=8)
number = st.floats(allow_nan=False)


@given(text, text, st.integers(0, 10**6), text, number, number,
       st.integers(0, 2 * 10**17), number, st.booleans(), st.none() | text,
       st.none() | text)
def test_the_builder_makes_what_init_makes(record_id: str, type_: str, rule: int,
                                           dimension: str, points: float, value: float,
                                           occurred_at: int, age: float, resolved: bool,
                                           label: str | None,
                                           scored_under: str | None) -> None:
    args = (record_id, type_, rule, dimension, points, value, occurred_at, age, resolved,
            label, scored_under)
    got, want = contribution(*args), Contribution(*args)
    assert type(got) is Contribution
    assert got == want and hash(got) == hash(want) and repr(got) == repr(want)
    assert list(vars(got).items()) == list(vars(want).items())  # every field, in order
    assert dataclasses.astuple(got) == dataclasses.astuple(want)
    assert got.as_dict() == want.as_dict()
    assert dataclasses.replace(got, points=1.0) == dataclasses.replace(want, points=1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.points = 0.0  # type: ignore[misc]


def test_the_defaults_are_inits() -> None:
    assert contribution("r", "t", 0, "d", 1.0, 1.0, 5, 0.5, False) == \
        Contribution("r", "t", 0, "d", 1.0, 1.0, 5, 0.5, False)
