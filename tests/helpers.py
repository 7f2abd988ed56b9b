"""Small helpers shared by tests: decoding tokens without the service's own code, and the
changes to an account that end its tokens."""

import base64
import json

from accounts.models import Session


def jwt_parts(token: str) -> tuple[dict, dict]:
    """The header and payload of a compact JWT, decoded without verification."""
    header, payload, _signature = token.split(".")
    return _b64json(header), _b64json(payload)


def _b64json(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(
    token: str, *, header: dict | None = None, payload: dict | None = None, signature: str | None = None
) -> str:
    """`token` with its header and/or payload replaced, keeping (or replacing) its signature."""
    old_header, old_payload, old_signature = token.split(".")
    new_header = b64url(json.dumps(header).encode()) if header is not None else old_header
    new_payload = b64url(json.dumps(payload).encode()) if payload is not None else old_payload
    return f"{new_header}.{new_payload}.{old_signature if signature is None else signature}"


# What can happen to a signed-in user or its sessions after its tokens were issued.
ACCOUNT_CHANGES = ("disabled", "revoked", "password set", "deleted", "username changed")


def change_account(user, change: str) -> None:
    """Make one of ACCOUNT_CHANGES happen to `user`, as the admin or the user would."""
    if change == "disabled":
        user.is_active = False
        user.save()
    elif change == "revoked":
        Session.objects.filter(user=user).revoke(reason=Session.EndReason.ADMIN)
    elif change == "password set":
        user.set_password("a new password")
        user.save()
    elif change == "deleted":
        user.delete()
    elif change == "username changed":
        user.username = "john"
        user.save()
    else:
        raise ValueError(f"unknown change {change!r}")


def run_readme_shell(script: str, *, timeout: int = 120):
    """Run a README walk-through `script` in bash from the project folder, as a reader would in
    a checkout, with the test database and keys (tests.conftest.other_process_environment)."""
    import subprocess
    from pathlib import Path

    from tests.conftest import other_process_environment

    return subprocess.run(
        ["bash", "-c", script],
        cwd=Path(__file__).resolve().parent.parent,
        env=other_process_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def readme_section_script(section: str, base_url: str) -> str:
    """The README section `section`'s one sh block, after the first walk-through's helper `field`
    and `$API` (pointed at `base_url`), as a reader runs it with `make run` serving."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    first = re.search(r"```sh\n(.*?)```", text[text.index("## Walk-through with curl") :], re.S).group(1)
    prelude = [line for line in first.splitlines() if line.startswith(("field()", "API="))]
    assert len(prelude) == 2
    start = text.index(section)
    (block,) = re.findall(r"```sh\n(.*?)```", text[start : text.index("\n## ", start)], re.S)
    return "set -eu\n" + "\n".join(prelude).replace("http://127.0.0.1:8000", base_url) + "\n" + block
