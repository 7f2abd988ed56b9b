"""Register a client: prints {"client_id", "client_secret"} (the secret shown only this once)."""

import json

from django.core.management.base import BaseCommand, CommandError

from accounts.oauth.clients import InvalidRegistration, Registration, register
from accounts.oauth.models import AUTHORIZATION_CODE, GRANT_TYPES, REFRESH_TOKEN


class Command(BaseCommand):
    help = "Register an OAuth client; print its client_id and (confidential clients) its secret as JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="the name people see on the sign-in and consent pages")
        parser.add_argument(
            "--redirect-uri",
            action="append",
            default=[],
            dest="redirect_uris",
            metavar="URI",
            help="where /authorize may send the code (repeat for several; needed with the "
            "authorization_code grant): https, http on 127.0.0.1 or [::1] (any port matches), or a native "
            "app's private-use scheme (com.example.app:/callback)",
        )
        parser.add_argument(
            "--grant-type",
            action="append",
            dest="grant_types",
            choices=GRANT_TYPES,
            metavar="GRANT",
            help="a grant it may use (repeat for several): authorization_code, refresh_token, "
            "client_credentials (confidential clients), urn:ietf:params:oauth:grant-type:device_code (a TV "
            "or command-line tool, RFC 8628); default: authorization_code and refresh_token",
        )
        parser.add_argument(
            "--scope",
            action="append",
            default=[],
            dest="api_scopes",
            metavar="NAME",
            help="a scope of an API (create_api) it may ask for, with the API as resource (repeat for several)",
        )
        parser.add_argument(
            "--confidential",
            action="store_true",
            help="a server that keeps a secret: one is made and printed once (default: a public client, "
            "PKCE is its proof)",
        )
        parser.add_argument(
            "--jwks",
            metavar="FILE",
            help="a JSON file of its public keys (a JWKS): it authenticates with private_key_jwt (RFC 7523) "
            "and gets no secret; implies --confidential",
        )
        parser.add_argument(
            "--jwks-uri",
            metavar="URI",
            default="",
            help="where it publishes its public keys (https, http only on 127.0.0.1 or [::1]), read when it "
            "authenticates: private_key_jwt, no secret; implies --confidential",
        )
        parser.add_argument(
            "--first-party",
            action="store_true",
            help="one of your own apps: never shown the consent page, its tokens open /users/me/",
        )
        parser.add_argument(
            "--allowed-origin",
            action="append",
            default=[],
            dest="allowed_origins",
            metavar="ORIGIN",
            help="a browser origin (scheme://host[:port]) allowed to call /token, /revoke and /userinfo "
            "with CORS (repeat for several)",
        )
        parser.add_argument(
            "--post-logout-redirect-uri",
            action="append",
            default=[],
            dest="post_logout_redirect_uris",
            metavar="URI",
            help="where /logout may send the browser afterwards (repeat for several; same rules as "
            "--redirect-uri)",
        )
        parser.add_argument(
            "--client-id", help="choose the client_id: 1 to 64 of A-Z a-z 0-9 . _ ~ - (default: random)"
        )
        parser.add_argument(
            "--require-second-factor",
            action="store_true",
            help="its users sign in with two-step sign-in (a user without a second factor is refused)",
        )

        parser.add_argument(
            "--require-dpop",
            action="store_true",
            help="its token requests must carry a DPoP proof: its tokens are always bound to its key (RFC 9449)",
        )
        parser.add_argument(
            "--require-pushed-requests",
            action="store_true",
            help="its authorization requests must come through POST /par (RFC 9126)",
        )

    def handle(self, *args, **options) -> None:
        jwks = None
        if options["jwks"]:
            try:
                with open(options["jwks"], encoding="utf-8") as file:
                    jwks = json.load(file)
            except (OSError, ValueError) as e:
                raise CommandError(f"--jwks {options['jwks']}: {e}") from None
        try:
            client, secret = register(
                Registration(
                    name=options["name"],
                    redirect_uris=tuple(options["redirect_uris"]),
                    confidential=options["confidential"],
                    first_party=options["first_party"],
                    allowed_origins=tuple(options["allowed_origins"]),
                    post_logout_redirect_uris=tuple(options["post_logout_redirect_uris"]),
                    client_id=options["client_id"],
                    require_second_factor=options["require_second_factor"],
                    require_dpop=options["require_dpop"],
                    require_pushed_authorization_requests=options["require_pushed_requests"],
                    grant_types=tuple(options["grant_types"] or (AUTHORIZATION_CODE, REFRESH_TOKEN)),
                    jwks=jwks,
                    jwks_uri=options["jwks_uri"],
                    api_scopes=tuple(options["api_scopes"]),
                )
            )
        except InvalidRegistration as e:
            raise CommandError(str(e)) from None
        self.stdout.write(
            json.dumps({"client_id": client.client_id, "client_secret": secret, "name": client.name})
        )
