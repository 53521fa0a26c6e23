"""Argon2id password hashing with the real argon2-cffi (cheap parameters to stay fast)."""

import pytest

from app.adapters.passwords import Argon2PasswordHasher


@pytest.fixture
def hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher(time_cost=1, memory_kib=1024)


def test_a_hash_verifies_its_password_only(hasher: Argon2PasswordHasher) -> None:
    password_hash = hasher.hash("s3cret-pass")

    assert hasher.verify(password_hash, "s3cret-pass")
    assert not hasher.verify(password_hash, "S3cret-pass")


def test_hashes_are_argon2id_with_the_given_cost_and_a_fresh_salt(
    hasher: Argon2PasswordHasher,
) -> None:
    first, second = hasher.hash("s3cret-pass"), hasher.hash("s3cret-pass")

    assert first.startswith("$argon2id$")
    assert "m=1024,t=1," in first
    assert first != second


@pytest.mark.parametrize("stored", ["", "not a hash", "$argon2id$v=19$m=1024,t=1,p=4$xx$yy"])
def test_a_broken_stored_hash_never_verifies_and_never_raises(
    hasher: Argon2PasswordHasher, stored: str
) -> None:
    assert not hasher.verify(stored, "s3cret-pass")
