// Passkeys: the browser's navigator.credentials calls behind the pages' passkey buttons. The server
// makes the options (and keeps their challenge) and checks the answer; this file carries the bytes
// both ways, as base64url text in JSON.
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    return Uint8Array.from(atob(base64), function (c) { return c.charCodeAt(0); }).buffer;
  }

  function toText(buffer) {
    var binary = "";
    new Uint8Array(buffer).forEach(function (b) { binary += String.fromCharCode(b); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function post(url, body) {
    var token = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"];
    return fetch(url, {method: "POST", credentials: "same-origin", body: JSON.stringify(body || {}),
                       headers: {"content-type": "application/json", "x-csrftoken": token}})
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (answer) {
          if (!response.ok) throw new Error(answer.detail || "The server refused (" + response.status + ").");
          return answer;
        });
      });
  }

  function keys(descriptors) {
    (descriptors || []).forEach(function (d) { d.id = toBytes(d.id); });
  }

  // What the server's library reads: the credential as the WebAuthn JSON encoding names its parts.
  function answer(credential) {
    var r = credential.response;
    var sent = {id: credential.id, rawId: toText(credential.rawId), type: credential.type,
                clientExtensionResults: credential.getClientExtensionResults(),
                response: {clientDataJSON: toText(r.clientDataJSON)}};
    if (r.attestationObject) {
      sent.response.attestationObject = toText(r.attestationObject);
      sent.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      sent.response.authenticatorData = toText(r.authenticatorData);
      sent.response.signature = toText(r.signature);
      if (r.userHandle) sent.response.userHandle = toText(r.userHandle);
    }
    return JSON.stringify(sent);
  }

  function register() {
    return post("/api/account/passkeys/options").then(function (options) {
      options.challenge = toBytes(options.challenge);
      options.user.id = toBytes(options.user.id);
      keys(options.excludeCredentials);
      return navigator.credentials.create({publicKey: options});
    }).then(function (credential) {
      var name = document.getElementById("passkey-name");
      return post("/api/account/passkeys", {credential: answer(credential), name: name ? name.value : ""});
    });
  }

  function logIn() {
    return post("/api/login/passkey/options").then(function (options) {
      options.challenge = toBytes(options.challenge);
      keys(options.allowCredentials);
      return navigator.credentials.get({publicKey: options});
    }).then(function (credential) {
      return post("/api/login/passkey", {credential: answer(credential)});
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-passkey]").forEach(function (button) {
      if (!window.PublicKeyCredential) {
        button.disabled = true;
        button.title = "This browser cannot use passkeys";
        return;
      }
      button.addEventListener("click", function () {
        var status = document.getElementById("passkey-status");
        status.textContent = "Waiting for your passkey…";
        (button.dataset.passkey === "register" ? register() : logIn()).then(function (done) {
          window.location.assign(done.next);
        }, function (error) {
          status.textContent = error.name === "NotAllowedError" ? "The passkey was not used: try again." : error.message;
        });
      });
    });
  });
})();
