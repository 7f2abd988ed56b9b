// Passkeys (WebAuthn): the one script of the service's pages, for the forms marked data-passkey.
//
// A form with data-passkey="create" (add a passkey) or "get" (sign in with one) first asks its
// data-options URL for the ceremony's options (a POST with the page's CSRF token: the challenge is
// kept in the session), hands them to the browser's navigator.credentials, and puts the answer, as
// JSON, in the form's `credential` field before sending the form. Where passkeys cannot work
// (no WebAuthn in the browser, or a page address that is not one of data-origins), the form says
// so instead. When the options are refused (a sign-in that is too old, say), the form is sent as
// it is and the server's page answers.
(function () {
  "use strict";

  function fromBase64url(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
  }

  function toBase64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map((d) => Object.assign({}, d, { id: fromBase64url(d.id) }));
  }

  function creationOptions(json) {
    return Object.assign({}, json, {
      challenge: fromBase64url(json.challenge),
      user: Object.assign({}, json.user, { id: fromBase64url(json.user.id) }),
      excludeCredentials: descriptors(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    return Object.assign({}, json, {
      challenge: fromBase64url(json.challenge),
      allowCredentials: descriptors(json.allowCredentials),
    });
  }

  function answer(credential) {
    const r = credential.response;
    const response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toBase64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      response.userHandle = r.userHandle ? toBase64url(r.userHandle) : null;
    }
    return JSON.stringify({
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: response,
    });
  }

  function setUp(form) {
    const status = form.querySelector("[data-passkey-status]");
    const origins = (form.dataset.origins || "").split(" ").filter(Boolean);
    // The sign-in page's way in is a link, like the provider's ("Sign in with Google"), so that
    // its one button stays the password's "Sign in"; the form is hidden until this script runs.
    const link = form.querySelector("[data-passkey-submit]");
    const control = link || form.querySelector("button");
    const disable = () => {
      if (link) {
        link.removeAttribute("href");
        link.setAttribute("aria-disabled", "true");
      } else {
        control.disabled = true;
      }
    };
    form.hidden = false;
    if (link) {
      link.addEventListener("click", (event) => {
        event.preventDefault();
        if (link.hasAttribute("href")) form.requestSubmit();
      });
    }
    if (!window.PublicKeyCredential) {
      status.textContent = "This browser cannot use passkeys.";
      disable();
      return;
    }
    if (origins.length && !origins.includes(window.location.origin)) {
      const there = origins[0] + window.location.pathname + window.location.search;
      status.textContent = "Passkeys work at " + origins[0] + ": ";
      const thereLink = document.createElement("a");
      thereLink.href = there;
      thereLink.textContent = "open this page there";
      status.appendChild(thereLink);
      disable();
      return;
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      status.textContent = "";
      const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
      try {
        const reply = await fetch(form.dataset.options, {
          method: "POST",
          headers: { "X-CSRFToken": csrf, Accept: "application/json" },
          credentials: "same-origin",
        });
        if (!reply.ok || reply.redirected) {
          form.submit(); // the server's page says what is needed (a recent sign-in, ...)
          return;
        }
        const json = await reply.json();
        const credential =
          form.dataset.passkey === "create"
            ? await navigator.credentials.create({ publicKey: creationOptions(json) })
            : await navigator.credentials.get({ publicKey: requestOptions(json) });
        form.querySelector("[name=credential]").value = answer(credential);
        form.submit();
      } catch (error) {
        status.textContent = "No passkey was used (" + (error.message || error.name) + ").";
      }
    });
  }

  document.querySelectorAll("form[data-passkey]").forEach(setUp);
})();
