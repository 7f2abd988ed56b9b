"""Throttling of sign-ins: the policy (policy.py), its shared counters (counters.py), and where
every sign-in passes through it (backends.py: the authentication backend behind Django's
`authenticate`, so /login, the admin's sign-in and the browser sign-in of accounts.signin all
count alike)."""
