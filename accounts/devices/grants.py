"""The device_code grant of POST /token (registered in accounts.apps)."""

from accounts import services
from accounts.devices import flow
from accounts.grants import Grant
from accounts.oauth.models import DEVICE_CODE


class DeviceCodeGrant(Grant):
    """RFC 8628 §3.4: the device polls with its device code (a public client names itself)."""

    grant_type = DEVICE_CODE
    parameters = ("device_code",)
    needs_client = True

    def issue(self) -> services.IssuedTokens:
        return flow.poll(device_code=self.params["device_code"], client=self.client, caller=self.caller)
