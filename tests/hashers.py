from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """PBKDF2 with two iterations: hashes made with one are upgraded at login, fast."""

    iterations = 2
