"""The second factor: TOTP (RFC 6238) and recovery codes, checked at every sign-in of a user who
has one (the browser's second step, `otp` at POST /login). models.py and factors.py hold the rules
(no HTTP); views.py and the templates in accounts/templates/mfa/ are the pages."""
