"""People's own doors: sign-up, email verification, forgotten and changed passwords, email change.

links.py makes and checks the single-use links; mail.py composes each email and sends it from the
task queue; services.py holds the rules (no HTTP); views.py and forms.py are the API and the pages.
"""
