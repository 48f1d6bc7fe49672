// The case workspace's live updates never take work away. When a change by someone else arrives
// for the section on screen and the reader is working in it (a form open, something typed, an
// error showing, focus in a field), the section is left as it is and a notice offers to reload
// it; the header and everything else still update. conference.js (loaded first) says what "edited" is.
(function () {
  "use strict";
  var FIELDS = "input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea";

  // The reader is working in this section: replacing it would lose what they are doing.
  function working(section) {
    var fields = section.querySelectorAll(FIELDS);
    for (var i = 0; i < fields.length; i++) {
      if (window.coordinatorPage.edited(fields[i])) { return true; }
    }
    var folds = section.querySelectorAll("details[open]");
    for (var j = 0; j < folds.length; j++) {
      if (folds[j].querySelector("form")) { return true; }
    }
    if (section.querySelector(".notice.error, .field-error, .form-notice:not(:empty)")) { return true; }
    var active = document.activeElement;
    return !!(active && section.contains(active) && active.matches(FIELDS));
  }

  // The section's own address (a refused form's answer stands at the form's address instead).
  function sectionUrl() {
    var page = document.querySelector("[data-section-url]");
    return page ? page.dataset.sectionUrl : window.location.pathname;
  }

  // After a refused form the address bar shows where the form went; a reload must not send it again.
  document.addEventListener("DOMContentLoaded", function () {
    var url = sectionUrl();
    if (window.location.pathname !== url) { window.history.replaceState(null, "", url); }
  });

  function offerReload(by) {
    var notice = document.getElementById("section-changed");
    if (!notice) {
      notice = document.createElement("div");
      notice.id = "section-changed";
      notice.className = "notice info section-changed";
      notice.setAttribute("role", "status");
      var body = document.getElementById("section-body");
      body.parentNode.insertBefore(notice, body);
    }
    notice.replaceChildren();
    var text = document.createElement("span");
    text.textContent = "Changed by " + (by || "someone") + " a moment ago. Your work here is kept. ";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = "Reload this section";
    button.addEventListener("click", function () {
      htmx.ajax("GET", sectionUrl(), {target: "#section-body", swap: "innerHTML"}).then(function () {
        notice.remove();
        var heading = document.querySelector("#section-body h2");
        if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
      });
    });
    notice.appendChild(text);
    notice.appendChild(button);
  }

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "section-body" || !working(target)) { return; }
    event.detail.shouldSwap = false;
    var fragment = event.detail.fragment;
    var by = fragment && fragment.getAttribute ? fragment.getAttribute("data-changed-by") : "";
    if (by) { offerReload(by); }  // without a name it is the page's own first state, nothing new
  });

  // A section replaced live needs no offer to reload any more (htmx announces this event even
  // for a swap that was held back, so that case is told apart).
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    if (event.detail.shouldSwap && event.detail.target && event.detail.target.id === "section-body") {
      var notice = document.getElementById("section-changed");
      if (notice) { notice.remove(); }
    }
  });
})();
