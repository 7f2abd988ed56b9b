"""Clients that act for themselves: the client credentials grant (RFC 6749 §4.4)."""
