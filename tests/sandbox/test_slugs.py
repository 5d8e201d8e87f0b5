"""Namespace names as data: valid, deterministic, distinct across users, generations, installs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.slugs import (
    install_label,
    is_dns_label,
    learner_namespace_name,
    pool_namespace_name,
)

SALT = "unit-test-salt"


def test_learner_names_look_like_this() -> None:
    name = learner_namespace_name(user_id=42, salt=SALT)
    assert name.startswith("kl-u42-")
    assert len(name) == len("kl-u42-") + 8
    assert learner_namespace_name(user_id=42, salt=SALT, generation=3).startswith("kl-u42-g3-")
    assert pool_namespace_name(slot_id=17, salt=SALT).startswith("kl-p17-")


def test_deterministic() -> None:
    assert learner_namespace_name(user_id=7, salt=SALT) == learner_namespace_name(
        user_id=7, salt=SALT
    )
    assert pool_namespace_name(slot_id=7, salt=SALT) == pool_namespace_name(slot_id=7, salt=SALT)


def test_installs_and_generations_and_pools_never_share_names() -> None:
    names = {
        learner_namespace_name(user_id=1, salt="a"),
        learner_namespace_name(user_id=1, salt="b"),
        learner_namespace_name(user_id=1, salt="a", generation=1),
        pool_namespace_name(slot_id=1, salt="a"),
    }
    assert len(names) == 4
    assert install_label("a") != install_label("b")
    assert is_dns_label(install_label("a"))


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("kl-u1-abcdef12", True),
        ("a", True),
        ("-a", False),
        ("a-", False),
        ("A", False),
        ("a_b", False),
        ("a" * 63, True),
        ("a" * 64, False),
        ("", False),
    ],
)
def test_dns_label_rule(name: str, valid: bool) -> None:
    assert is_dns_label(name) is valid


@given(
    user_id=st.integers(min_value=0, max_value=2**63 - 1),
    generation=st.integers(min_value=0, max_value=10**6),
    salt=st.text(max_size=40),
)
def test_every_name_is_a_valid_namespace(user_id: int, generation: int, salt: str) -> None:
    assert is_dns_label(learner_namespace_name(user_id=user_id, salt=salt, generation=generation))
    assert is_dns_label(pool_namespace_name(slot_id=user_id, salt=salt))


@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=2, max_size=50, unique=True))
def test_distinct_users_get_distinct_names(user_ids: list[int]) -> None:
    names = [learner_namespace_name(user_id=uid, salt=SALT) for uid in user_ids]
    assert len(set(names)) == len(names)


def test_negative_ids_are_refused() -> None:
    with pytest.raises(ValueError):
        learner_namespace_name(user_id=-1, salt=SALT)
    with pytest.raises(ValueError):
        pool_namespace_name(slot_id=-1, salt=SALT)
