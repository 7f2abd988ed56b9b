"""Sign-in through an upstream OpenID Connect provider (Google, or any provider with discovery).

providers.py  the provider described by its issuer: discovery document and keys, cached
idtokens.py   verifying the provider's ID tokens (PyJWT, an explicit algorithm allow-list)
linking.py    which local user an identity of the provider is: the linking rules
exchange.py   RFC 8693 token exchange of a provider's ID token for this service's tokens
views.py      the browser flow: /login/google, /login/google/callback, the password step
"""
