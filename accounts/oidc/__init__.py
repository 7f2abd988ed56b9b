"""OpenID Connect provider (Core 1.0, Discovery 1.0, RP-Initiated Logout 1.0) and token
introspection (RFC 7662), on top of the authorization server of accounts.oauth."""
