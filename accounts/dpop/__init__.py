"""DPoP (RFC 9449): tokens bound to a key the client holds. proofs.py checks a DPoP proof and
makes the server's nonces; the token endpoint binds what it issues to the proof's key
(accounts.callers.Caller.dpop_jkt, read by accounts.issuance and accounts.services); the
protected endpoints ask for a proof of the bound key (accounts.authentication)."""
