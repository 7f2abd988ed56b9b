"""The authorization server: registered clients, /authorize with sign-in and consent, the
authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636, RFC 8252, RFC 9207, RFC 9700)."""
