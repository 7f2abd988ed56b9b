"""Password hashing: Argon2id at parameters an operator chooses (documented variables).

Django's Argon2PasswordHasher uses 100 MiB and 8 lanes per hash (about 200 ms of CPU and 100 MiB
per concurrent login). The defaults here are OWASP's recommended minimum for Argon2id (19 MiB,
2 passes, 1 lane): about 30 ms of CPU and 19 MiB per login. The algorithm name stays `argon2`, so
hashes made with other parameters still verify, and Django re-hashes them at the user's next
login (`must_update`), which revokes nothing (accounts.models.User.save).
"""

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    """Argon2id with ARGON2_TIME_COST passes over ARGON2_MEMORY_KIB KiB in ARGON2_PARALLELISM lanes,
    read when a password is hashed or checked (so tests can change them)."""

    @property
    def time_cost(self) -> int:
        return settings.ARGON2_TIME_COST

    @property
    def memory_cost(self) -> int:
        return settings.ARGON2_MEMORY_KIB

    @property
    def parallelism(self) -> int:
        return settings.ARGON2_PARALLELISM
