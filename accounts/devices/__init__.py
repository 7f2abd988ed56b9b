"""Device authorization (RFC 8628): a TV or a command-line tool gets tokens for a person who
approves it on another device. The rules are accounts.devices.flow's; the pages and the endpoint
are accounts.devices.views'; the polling grant is accounts.devices.grants'."""
