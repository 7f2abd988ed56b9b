"""The browser sign-in: who a browser is signed in as, the ways a person proves it, and the page.

- `state`: the signed-in state of a browser (user, `auth_time`, the methods used), the one place
  for its session keys and the authentication backend's path;
- `methods`: the sign-in methods, each a small unit that proves a user or refuses (a password
  today, a provider's sign-in in accounts.federation; passkeys and one-time codes later), and the
  registry of the methods that add a way in to the sign-in page (the provider's button);
- `redirects`: the one check of where a browser may go once signed in;
- `pages`: the sign-in page, as every flow that asks a person to sign in shows it.
"""
