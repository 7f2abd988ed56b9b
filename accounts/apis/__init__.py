"""APIs (resource servers) that accept this service's access tokens: each has an identifier (the
tokens' `aud`, RFC 8707's `resource`), a name and its scopes with the lines the consent page
shows. The rules are accounts.apis.scopes'."""
