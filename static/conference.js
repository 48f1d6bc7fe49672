// The live conference page: say whether the live connection is up. htmx's websocket extension
// reconnects by itself after a drop; a refusal (codes 44xx) is final and says why.
(function () {
  "use strict";
  var REFUSALS = {
    4401: "Not logged in: reload the page to log in again.",
    4403: "Not allowed to join this conference.",
    4404: "This conference no longer exists.",
    4428: "Accept the confidentiality statement: reload the page."
  };

  function show(text, state) {
    var badge = document.getElementById("conference-connection");
    if (!badge) { return; }
    badge.textContent = text;
    badge.dataset.state = state;
  }

  document.addEventListener("htmx:wsOpen", function () { show("Connected", "open"); });
  document.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail && event.detail.event ? event.detail.event.code : 0;
    show(REFUSALS[code] || "Connection lost: reconnecting…", REFUSALS[code] ? "refused" : "lost");
  });

  // Typed fields survive live updates (hx-preserve), so clear a form once its change is accepted.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (event.detail.successful && form && form.matches && form.matches("form[data-reset-on-success]")) {
      form.reset();
    }
  });
})();
