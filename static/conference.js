// The live conference page: say whether the live connection is up. htmx's websocket extension
// reconnects by itself after a drop; a refusal (codes 44xx) is final and says why.
(function () {
  "use strict";
  var SESSION_ENDED = 4401;
  var REFUSALS = {
    4403: "Not allowed to join this conference.",
    4404: "This conference does not exist, or you are not invited to it.",
    4428: "Accept the confidentiality statement: reload the page."
  };

  // The session ended (logout, expiry, account closed): the meeting leaves the screen and the
  // page offers to log in again, coming back here. Nothing more arrives on this page.
  function sessionEnded() {
    var conference = document.querySelector(".conference");
    var live = document.getElementById("conference-live");
    if (live) { live.replaceChildren(); }
    var notice = document.getElementById("conference-notice");
    if (notice && conference) {
      var message = document.createElement("p");
      message.className = "notice error";
      message.setAttribute("role", "alert");
      message.textContent = "Your session has ended. ";
      var link = document.createElement("a");
      link.href = conference.dataset.login;
      link.textContent = "Log in again to return to the meeting";
      message.appendChild(link);
      notice.replaceChildren(message);
    }
    show("Session ended", "ended");
  }

  function show(text, state) {
    var badge = document.getElementById("conference-connection");
    if (!badge) { return; }
    badge.textContent = text;
    badge.dataset.state = state;
  }

  document.addEventListener("htmx:wsOpen", function () { show("Connected", "open"); });
  document.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail && event.detail.event ? event.detail.event.code : 0;
    if (code === SESSION_ENDED) { sessionEnded(); return; }
    show(REFUSALS[code] || "Connection lost: reconnecting…", REFUSALS[code] ? "refused" : "lost");
  });

  // Typed fields survive live updates (hx-preserve), so clear a form once its change is
  // accepted. The live update may replace the form before the answer arrives, so the form to
  // clear is looked up when the answer comes, not remembered from when it was sent.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (!(form && form.matches && form.matches("form[data-reset-on-success]"))) { return; }
    var action = form.getAttribute("action");
    event.detail.xhr.addEventListener("loadend", function () {
      var status = event.detail.xhr.status;
      var current = document.querySelector('form[data-reset-on-success][action="' + action + '"]');
      if (status >= 200 && status < 300 && current) { current.reset(); }
    });
  });
})();
