"""Who is calling: the user agent and the client address of a request.

"Caller" and not "client": in OAuth a client is a registered application. The address is the
connection's, unless the connection comes from a trusted proxy (TRUSTED_PROXIES), whose
X-Forwarded-For is then read.
"""

import functools
import ipaddress
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

# The TRUSTED_PROXIES entry for a proxy that reaches gunicorn on a unix socket (REMOTE_ADDR empty).
UNIX_SOCKET = "unix"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Caller:
    """The user agent and address of a request, as recorded on its session (None: unknown)."""

    user_agent: str = ""
    ip_address: str | None = None
    dpop_jkt: str | None = None  # the key its DPoP proof proved (RFC 9449): what tokens are bound to


def caller_of(request: HttpRequest) -> Caller:
    """The Caller of a Django or DRF request."""
    return Caller(
        # Printable characters only: a NUL cannot be stored in PostgreSQL text.
        user_agent="".join(c for c in request.META.get("HTTP_USER_AGENT", "") if c.isprintable()),
        ip_address=client_ip(
            request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", "")
        ),
    )


def client_ip(remote_addr: str, forwarded_for: str) -> str | None:
    """The client's address, or None when it cannot be known.

    From a trusted proxy (TRUSTED_PROXIES; `unix` for a proxy on a unix socket, whose REMOTE_ADDR
    is empty), X-Forwarded-For is read from the right past every trusted proxy: the first other
    address is the one the nearest trusted proxy saw connect. Entries left of it could be forged
    by the client, so the proxy must set the header, not pass on what the client sent.
    """
    networks, unix = trusted_proxies(tuple(settings.TRUSTED_PROXIES))
    address = parse_ip(remote_addr)
    trusted = (address is None and not remote_addr.strip() and unix) or _in(address, networks)
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    while trusted and hops:
        address = parse_ip(hops.pop())
        trusted = _in(address, networks)
    return str(address) if address is not None else None


def parse_ip(value: str) -> IPAddress | None:
    """An address from REMOTE_ADDR or an X-Forwarded-For entry ("[v6]:port" and "v4:port" too);
    an IPv4-mapped IPv6 address (a dual-stack socket) as the IPv4 address it is."""
    value = value.strip()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=8)
def trusted_proxies(entries: tuple[str, ...]) -> tuple[tuple, bool]:
    """The networks of TRUSTED_PROXIES, and whether a unix-socket proxy is trusted.

    Raises ValueError naming the entry that is neither an address, a network nor `unix`
    (the system check accounts.E006 runs this at start-up).
    """
    networks = []
    for entry in entries:
        if entry == UNIX_SOCKET:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address, a network or {UNIX_SOCKET!r}") from None
    return tuple(networks), UNIX_SOCKET in entries


def _in(address: IPAddress | None, networks: tuple) -> bool:
    return address is not None and any(address in network for network in networks)
