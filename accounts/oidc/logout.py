"""RP-Initiated Logout 1.0's rules (GET or POST /logout), out of its view. No HTTP here.

With a valid `id_token_hint` (an ID token this service signed, expired or not) the logout needs
no confirmation and ends the token session the hint names too; without one, the user confirms
first. The browser is redirected only to a post_logout_redirect_uri registered for the client the
request is trusted to name: the hint's audience, or `client_id` without a hint. A `client_id`
beside a hint must be the hint's audience (§2); another one gets no redirect at all.
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from accounts.oauth.clients import active_client, redirect_uri_matches
from accounts.oidc.idtokens import id_token_hint_claims

PARAMETERS = ("id_token_hint", "post_logout_redirect_uri", "state", "client_id")


@dataclass(frozen=True)
class LogoutRequest:
    hint: dict | None  # the claims of a valid id_token_hint
    client_id: str | None  # the client trusted to name the redirect (None: no redirect)
    post_logout_redirect_uri: str | None
    state: str | None
    sent: dict[str, str]  # what was sent, for the confirmation form


def parse(params) -> LogoutRequest:
    """The request's parameters (a QueryDict or dict: the first non-blank value of each)."""
    sent = {name: value for name in PARAMETERS if (value := (params.get(name) or "").strip())}
    hint = id_token_hint_claims(sent["id_token_hint"]) if "id_token_hint" in sent else None
    hinted_client = hint["aud"] if hint and isinstance(hint.get("aud"), str) else None
    mismatch = hinted_client is not None and sent.get("client_id") not in (None, hinted_client)
    return LogoutRequest(
        hint=hint,
        client_id=None if mismatch else hinted_client or sent.get("client_id"),
        post_logout_redirect_uri=sent.get("post_logout_redirect_uri"),
        state=sent.get("state"),
        sent=sent,
    )


@dataclass(frozen=True)
class NeedsConfirmation:
    """Ask the user first (no valid hint): the form carries these parameters back."""

    hidden: list[tuple[str, str]]


@dataclass(frozen=True)
class SignOut:
    """Sign the browser out, revoke the hinted session (`session_id`), then redirect to
    `redirect_to` or show the signed-out page (None)."""

    session_id: str | None
    redirect_to: str | None


def decide(request: LogoutRequest, *, confirmed: bool) -> NeedsConfirmation | SignOut:
    if request.hint is None and not confirmed:
        hidden = [
            (name, request.sent[name])
            for name in ("post_logout_redirect_uri", "state", "client_id")
            if name in request.sent
        ]
        return NeedsConfirmation(hidden=hidden)
    return SignOut(
        session_id=request.hint.get("sid") if request.hint is not None else None,
        redirect_to=_redirect(request),
    )


def _redirect(request: LogoutRequest) -> str | None:
    target = request.post_logout_redirect_uri
    if not target or request.client_id is None:
        return None
    client = active_client(request.client_id)
    if client is None or not redirect_uri_matches(client.post_logout_redirect_uris, target):
        return None
    if not request.state:
        return target
    return target + ("&" if "?" in target else "?") + urlencode({"state": request.state})
