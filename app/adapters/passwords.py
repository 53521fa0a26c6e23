"""Password hashing with Argon2id (argon2-cffi)."""

from argon2 import PasswordHasher as Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError

from app.services.ports import PasswordHasher


class Argon2PasswordHasher(PasswordHasher):
    """Argon2id with the given cost; the parameters travel inside each hash."""

    def __init__(self, *, time_cost: int, memory_kib: int) -> None:
        self._argon2 = Argon2(time_cost=time_cost, memory_cost=memory_kib, type=Type.ID)

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
