// Passkeys (WebAuthn): adding one on the Security screen, and using one in the second step of
// signing in. A form marked data-passkey asks the server for the ceremony's options
// (data-options), lets the browser make or use the passkey, puts the browser's answer into the
// form's hidden "credential" field and submits the form as usual. The server speaks WebAuthn's
// JSON, with binary values in base64url; the browser's API wants and gives ArrayBuffers.
(function () {
  "use strict";

  function fromBase64url(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(binary, function (c) { return c.charCodeAt(0); }).buffer;
  }

  function toBase64url(buffer) {
    var binary = "";
    new Uint8Array(buffer).forEach(function (byte) { binary += String.fromCharCode(byte); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: fromBase64url(c.id) }); });
  }

  function creationOptions(publicKey) {
    return Object.assign({}, publicKey, {
      challenge: fromBase64url(publicKey.challenge),
      user: Object.assign({}, publicKey.user, { id: fromBase64url(publicKey.user.id) }),
      excludeCredentials: withIds(publicKey.excludeCredentials),
    });
  }

  function requestOptions(publicKey) {
    return Object.assign({}, publicKey, {
      challenge: fromBase64url(publicKey.challenge),
      allowCredentials: withIds(publicKey.allowCredentials),
    });
  }

  // The browser's answer as JSON, the binary parts in base64url.
  function answer(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      json.response.attestationObject = toBase64url(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toBase64url(response.authenticatorData);
      json.response.signature = toBase64url(response.signature);
      if (response.userHandle) json.response.userHandle = toBase64url(response.userHandle);
    }
    return JSON.stringify(json);
  }

  function showError(form, message) {
    var box = form.parentNode.querySelector("[data-passkey-error]");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
  }

  async function ceremony(form) {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      throw new Error("This browser cannot use passkeys here (passkeys need https, or http://localhost).");
    }
    var csrf = form.querySelector("input[name=csrf]");
    var body = new URLSearchParams(csrf ? { csrf: csrf.value } : {});
    var reply = await fetch(form.getAttribute("data-options"), { method: "POST", body: body, credentials: "same-origin" });
    var options = await reply.json().catch(function () { return { error: "The site did not answer (" + reply.status + ")." }; });
    if (!reply.ok) throw new Error(options.error || "The site refused (" + reply.status + ").");
    var credential = form.getAttribute("data-passkey") === "register"
      ? await navigator.credentials.create({ publicKey: creationOptions(options.publicKey) })
      : await navigator.credentials.get({ publicKey: requestOptions(options.publicKey) });
    form.querySelector("input[name=credential]").value = answer(credential);
  }

  document.querySelectorAll("form[data-passkey]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.querySelector("input[name=credential]").value) return;
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      ceremony(form).then(
        function () { form.submit(); },
        function (err) {
          button.disabled = false;
          var cancelled = err && err.name === "NotAllowedError";
          showError(form, cancelled ? "The passkey was not used (cancelled, timed out, or not on this device)." : err.message);
        }
      );
    });
  });
})();
