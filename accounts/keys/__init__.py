"""The key pairs that sign access tokens.

- `ring`: what signs and verifies, read from the database and never written (every process, on
  every request);
- `lifecycle`: what creates, replaces, distrusts and deletes keys, run only by explicit steps
  (start-up, `rotate_signing_key`, `cleanup_tokens`);
- `material`: generating, parsing, encrypting and fingerprinting key material.

Names: a *key pair* is one row of SigningKey; the *signing key* is the pair that signs new tokens
now; *published keys* are the public halves in the JWKS; the *operator's key* is one supplied by
ACCESS_TOKEN_SIGNING_KEY(_FILE); the *HMAC keys* of accounts.signing are not key pairs at all.
"""

ASYMMETRIC_ALGORITHMS = ("RS256", "ES256", "EdDSA")
ACCESS_TOKEN_ALGORITHMS = (*ASYMMETRIC_ALGORITHMS, "HS256")
