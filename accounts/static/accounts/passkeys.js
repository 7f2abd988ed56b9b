// Passkeys (WebAuthn): the one script of the service's pages, for the elements marked data-passkey.
//
// A form with data-passkey="create" (add a passkey) or "get" (use one) first asks its data-options
// URL for the ceremony's options (a POST with the page's CSRF token, and the form's `name` for a
// new passkey, checked before any key is made: the challenge is kept in the session), hands them
// to the browser's navigator.credentials, and puts the answer, as JSON, in the form's
// `credential` field before sending the form. The sign-in page's way in is not a form
// (that page keeps one form, the password's) but a link, like the provider's: the script posts
// the answer to its data-action, with its data-next. Where passkeys cannot work (no WebAuthn in
// the browser, or a page address that is not one of data-origins), the element says so instead;
// it is hidden until this script runs. When the options are refused, their `detail` is shown; a
// form refused for a sign-in that is too old (403) is sent as it is, and the server's page asks
// for the sign-in.
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

  function csrfToken(element) {
    const field = element.querySelector("[name=csrfmiddlewaretoken]") ||
      document.querySelector("[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  // The form that carries the answer: the element itself, or one made (once) for the link's target.
  function formFor(element) {
    if (element.tagName === "FORM") return element;
    if (element.passkeyForm) return element.passkeyForm;
    const form = document.createElement("form");
    form.method = "post";
    form.action = element.dataset.action;
    form.hidden = true;
    const fields = { csrfmiddlewaretoken: csrfToken(element), next: element.dataset.next || "", credential: "" };
    for (const [name, value] of Object.entries(fields)) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.appendChild(input);
    }
    document.body.appendChild(form);
    element.passkeyForm = form;
    return form;
  }

  async function refusal(reply) {
    try {
      const body = await reply.json();
      if (body && typeof body.detail === "string") return body.detail;
    } catch (error) {
      // not JSON: a page (a sign-in asked for, say)
    }
    return "Passkeys are not available here now: reload the page and try again.";
  }

  function setUp(element) {
    const status = element.querySelector("[data-passkey-status]");
    const origins = (element.dataset.origins || "").split(" ").filter(Boolean);
    const link = element.querySelector("[data-passkey-submit]");
    const control = link || element.querySelector("button");
    const disable = () => {
      if (link) {
        link.removeAttribute("href");
        link.setAttribute("aria-disabled", "true");
      } else {
        control.disabled = true;
      }
    };
    element.hidden = false;
    if (!window.PublicKeyCredential) {
      status.textContent = "This browser cannot use passkeys.";
      disable();
      return;
    }
    if (origins.length && !origins.includes(window.location.origin)) {
      status.textContent = "Passkeys work at " + origins[0] + ": ";
      const there = document.createElement("a");
      there.href = origins[0] + window.location.pathname + window.location.search;
      there.textContent = "open this page there";
      status.appendChild(there);
      disable();
      return;
    }
    let busy = false; // one ceremony at a time: a second would replace the first's challenge
    async function ceremony(event) {
      event.preventDefault();
      if (busy) return;
      busy = true;
      status.textContent = "";
      const form = formFor(element);
      const body = new FormData();
      const name = element.querySelector("[name=name]");
      if (name) body.append("name", name.value);
      try {
        const reply = await fetch(element.dataset.options, {
          method: "POST",
          headers: { "X-CSRFToken": csrfToken(element), Accept: "application/json" },
          body: body,
          credentials: "same-origin",
        });
        if (reply.status === 403 && !link) {
          form.submit(); // the server's page asks for a recent sign-in
          return;
        }
        if (!reply.ok || reply.redirected) {
          status.textContent = await refusal(reply);
          busy = false;
          return;
        }
        const json = await reply.json();
        const credential =
          element.dataset.passkey === "create"
            ? await navigator.credentials.create({ publicKey: creationOptions(json) })
            : await navigator.credentials.get({ publicKey: requestOptions(json) });
        form.querySelector("[name=credential]").value = answer(credential);
        form.submit();
      } catch (error) {
        status.textContent = "No passkey was used (" + (error.message || error.name) + ").";
        busy = false;
      }
    }
    if (link) link.addEventListener("click", ceremony);
    else element.addEventListener("submit", ceremony);
  }

  document.querySelectorAll("[data-passkey]").forEach(setUp);
})();
