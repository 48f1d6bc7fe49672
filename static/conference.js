// The live conference page. Every change anyone makes re-sends whole parts of the page, so this
// script keeps what a person is doing across those swaps (focus, what they are typing or have
// chosen, an open dialog or fold, the answer to their own change), reads out what others changed
// in a polite live region, puts the answer to a refused change next to the control that made it,
// and says whether the live connection is up.
(function () {
  "use strict";
  var SESSION_ENDED = 4401;
  var REFUSALS = {
    4403: "Not allowed to join this conference.",
    4404: "This conference does not exist, or you are not invited to it.",
    4428: "Accept the confidentiality statement: reload the page."
  };
  var FIELDS = "input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea";
  var CONTROLS = "button, a[href], input:not([type=hidden]), select, textarea, summary, [tabindex]";

  // The live conference, or a case page kept up to date the same way.
  function conference() { return document.querySelector(".conference, .live-case"); }

  // --- The connection ----------------------------------------------------------------------

  // The session ended (logout, expiry, account closed): the meeting leaves the screen and the
  // page offers to log in again, coming back here. Nothing more arrives on this page.
  function sessionEnded() {
    var page = conference();
    var live = document.getElementById("conference-live");
    if (live) { live.replaceChildren(); }
    var notice = document.getElementById("conference-notice");
    if (notice && page) {
      var message = document.createElement("p");
      message.className = "notice error";
      message.setAttribute("role", "alert");
      message.textContent = "Your session has ended. ";
      var link = document.createElement("a");
      link.href = page.dataset.login;
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

  // --- What a person is doing survives a swap -----------------------------------------------

  function defaultIndex(select) {
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].defaultSelected) { return i; }
    }
    return select.options.length ? 0 : -1;
  }

  // Changed by the person since the server drew it.
  function edited(field) {
    if (field.type === "checkbox" || field.type === "radio") { return field.checked !== field.defaultChecked; }
    if (field.tagName === "SELECT") { return field.selectedIndex !== defaultIndex(field); }
    return field.value !== field.defaultValue;
  }

  // Shared with the case workspace's script (case.js), which asks the same question of its sections.
  window.coordinatorPage = {edited: edited};

  function valueOf(field) {
    return field.type === "checkbox" || field.type === "radio" ? String(field.checked) : field.value;
  }

  function setValue(field, value) {
    if (field.type === "checkbox" || field.type === "radio") { field.checked = value === "true"; } else { field.value = value; }
  }

  function versionOf(field) {
    var version = field.form && field.form.elements.namedItem("version");
    return version && version.tagName === "INPUT" ? version : null;
  }

  function ancestorIds(element) {
    var ids = [];
    for (var node = element.parentElement; node; node = node.parentElement) {
      if (node.id) { ids.push(node.id); }
    }
    return ids;
  }

  function announceable(root) {
    var texts = {};
    root.querySelectorAll("[data-announce][id], [data-announce-new][id]").forEach(function (element) {
      texts[element.id] = element.dataset.announce || "";
    });
    return texts;
  }

  function capture() {
    var root = conference();
    var state = {fields: [], open: [], notices: [], focus: null, announced: root ? announceable(root) : {}};
    if (!root) { return state; }
    var active = document.activeElement;
    if (active && active !== document.body && root.contains(active)) {
      var start = null, end = null;
      try { start = active.selectionStart; end = active.selectionEnd; } catch (ignored) { /* not a text field */ }
      state.focus = {node: active, id: active.id, start: start, end: end,
                     instead: (active.dataset.focusInstead || "").split(" ").filter(Boolean), ancestors: ancestorIds(active)};
    }
    root.querySelectorAll(FIELDS).forEach(function (field) {
      if (field.id && edited(field)) {
        var version = versionOf(field);
        state.fields.push({node: field, id: field.id, value: valueOf(field), version: version ? version.value : null});
      }
    });
    root.querySelectorAll("details[open][id], dialog[open][id]").forEach(function (element) {
      state.open.push({node: element, id: element.id});
    });
    root.querySelectorAll(".form-notice[id]").forEach(function (slot) {
      if (slot.textContent.trim()) { state.notices.push({id: slot.id, html: slot.innerHTML, field: slot.dataset.field}); }
    });
    return state;
  }

  function focusable(element) {
    return element && !element.disabled && element.getClientRects().length > 0;
  }

  function firstControl(container) {
    var controls = container.querySelectorAll(CONTROLS);
    for (var i = 0; i < controls.length; i++) {
      if (focusable(controls[i]) && controls[i].tabIndex >= 0) { return controls[i]; }
    }
    return null;
  }

  // Focus goes back to the control that had it, or to the one that replaced it (data-focus-instead),
  // or into the nearest part of the page that is still there: never to the page body.
  function restoreFocus(saved) {
    if (!saved || saved.node.isConnected) { return; }
    var active = document.activeElement;
    if (active && active !== document.body && active.isConnected) { return; }  // moved on meanwhile
    var candidates = [saved.id].concat(saved.instead);
    for (var i = 0; i < candidates.length; i++) {
      var element = candidates[i] && document.getElementById(candidates[i]);
      if (focusable(element)) {
        element.focus({preventScroll: true});
        if (i === 0 && saved.start !== null && element.setSelectionRange) {
          try { element.setSelectionRange(saved.start, saved.end); } catch (ignored) { /* not a text field */ }
        }
        return;
      }
    }
    for (var j = 0; j < saved.ancestors.length; j++) {
      var container = document.getElementById(saved.ancestors[j]);
      if (!container || !focusable(container)) { continue; }
      var target = firstControl(container) || container.querySelector("h2, h3") || container;
      if (target.tabIndex < 0 && !target.hasAttribute("tabindex")) { target.setAttribute("tabindex", "-1"); }
      target.focus({preventScroll: true});
      return;
    }
  }

  // ``byOthers``: the swap brought someone else's change. A form with typed values then keeps the
  // version its person saw, so saving is refused as a conflict (showing what won) rather than
  // silently overwriting the other change. After one's own refused change, the form takes the
  // current version and keeps the values, so saving again applies them knowingly.
  function restore(state, byOthers) {
    state.fields.forEach(function (saved) {
      if (saved.node.isConnected) { return; }  // kept in place (hx-preserve)
      var field = document.getElementById(saved.id);
      if (!field || valueOf(field) === saved.value) { return; }
      setValue(field, saved.value);
      var version = versionOf(field);
      if (byOthers && version && saved.version !== null) { version.value = saved.version; }
    });
    state.open.forEach(function (saved) {
      if (saved.node.isConnected) { return; }
      var element = document.getElementById(saved.id);
      if (!element || element.open) { return; }
      if (element.tagName === "DIALOG") { element.showModal(); } else { element.open = true; }
    });
    state.notices.forEach(function (saved) {
      var slot = document.getElementById(saved.id);
      if (slot && !slot.textContent.trim()) {
        slot.innerHTML = saved.html;
        slot.dataset.field = saved.field || "";
        slot.querySelectorAll("[role=alert]").forEach(function (message) { message.removeAttribute("role"); });
        describe(slot, saved.field);
      }
    });
    restoreFocus(state.focus);
  }

  // --- Reading out what others changed -------------------------------------------------------

  var announceTimer = null;

  function announce(before) {
    var root = conference();
    var region = document.getElementById("conference-announcer");
    if (!root || !region) { return; }
    var first = [], rest = [];
    root.querySelectorAll("[data-announce][id], [data-announce-new][id]").forEach(function (element) {
      var now = element.dataset.announce || "";
      var text = null;
      if (!(element.id in before)) {
        text = element.dataset.announceNew || now;
      } else if (before[element.id] !== now) {
        text = now;
      }
      if (text) { (element.hasAttribute("data-announce-first") ? first : rest).push(text); }
    });
    // A new case replaces everything below it: say which case, not every row that came with it.
    var messages = first.length ? first : rest;
    if (!messages.length) { return; }
    region.textContent = "";
    clearTimeout(announceTimer);
    // Emptied first, so the same words said twice are read out twice.
    announceTimer = setTimeout(function () { region.textContent = messages.join(". ") + "."; }, 50);
  }

  // --- The answer to one's own change, next to the control ----------------------------------

  function describe(slot, field) {
    var message = slot.querySelector(".notice");
    if (!message) { return; }
    message.id = slot.id + "-message";
    var form = slot.closest("form") || document.querySelector('form[data-notice="' + slot.id + '"]');
    var control = form && field ? form.elements.namedItem(field) : null;
    if (control && control.setAttribute) {
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", message.id);
    }
  }

  function clearNotice(slotId) {
    var slot = document.getElementById(slotId);
    if (!slot) { return; }
    var form = slot.closest("form") || document.querySelector('form[data-notice="' + slotId + '"]');
    slot.replaceChildren();
    delete slot.dataset.field;
    if (form) {
      form.querySelectorAll("[aria-invalid]").forEach(function (field) {
        field.removeAttribute("aria-invalid");
        field.removeAttribute("aria-describedby");
      });
    }
  }

  function placeAnswer(slotId, status) {
    if (!slotId) { return; }
    if (status < 400) { clearNotice(slotId); return; }
    var slot = document.getElementById(slotId);
    var notice = document.getElementById("conference-notice");
    var message = notice && notice.querySelector(".notice");
    if (!slot || !message) { return; }  // the control is gone: the answer stays at the top
    clearNotice(slotId);
    slot.dataset.field = message.dataset.field || "";
    slot.appendChild(message);
    describe(slot, message.dataset.field);
  }

  // --- Wiring --------------------------------------------------------------------------------

  var live = null;
  document.addEventListener("htmx:wsBeforeMessage", function () { live = capture(); });
  document.addEventListener("htmx:wsAfterMessage", function () {
    if (!live) { return; }
    var state = live;
    live = null;
    restore(state, true);
    announce(state.announced);
    tick();
  });

  // The answer to a change of one's own: htmx swaps the notice (and, for a conflict, the current
  // state); afterSwap fires once per swapped element, all after the swapping, so the first does it.
  var answer = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var form = event.detail.requestConfig && event.detail.requestConfig.elt;  // detail.elt is the target
    if (!(form && form.matches && form.matches("form[data-notice]"))) { return; }
    answer = {state: capture(), slot: form.dataset.notice, status: event.detail.xhr.status};
  });
  document.addEventListener("htmx:afterSwap", function () {
    if (!answer) { return; }
    var done = answer;
    answer = null;
    restore(done.state, false);
    placeAnswer(done.slot, done.status);
    tick();
  });

  // A confirmed dialog closes as its form goes.
  document.addEventListener("submit", function (event) {
    var dialog = event.target.closest && event.target.closest("dialog[open]");
    if (dialog) { dialog.close(); }
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

  // --- The chair's time-box ------------------------------------------------------------------

  // Minutes on the current case, counted from when the chair moved the meeting to it (the server
  // says when); the same figure on every screen, and a reload does not restart it.
  function tick() {
    var clock = document.getElementById("case-clock");
    if (!clock) { return; }
    var since = Date.parse(clock.dataset.started || "") || Date.now();
    var minutes = Math.floor((Date.now() - since) / 60000);
    var budget = Number(clock.dataset.minutes) || 15;
    clock.textContent = minutes + " min on this case" + (minutes >= budget ? " (over the " + budget + " min time-box)" : "");
    clock.classList.toggle("over", minutes >= budget);
  }

  document.addEventListener("DOMContentLoaded", tick);
  setInterval(tick, 20000);

  // --- Staying signed in ---------------------------------------------------------------------

  // A session ends after a while without use. Shortly before, the page asks the server how long
  // is left (asking does not count as use: an open page of a meeting in progress is renewed by
  // the server, and another tab may have been used) and, if the end is near, offers "Stay signed
  // in" in an alert region, which screen readers read out at once; the button takes the
  // keyboard like any other. Its answer, or any change the person makes, starts the count again.
  var sessionTimer = null;
  var focusBeforeWarning = null;

  function sessionPage() {
    var page = conference();
    return page && page.dataset.sessionWarning ? page : null;
  }

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || ""; } catch (ignored) { return ""; }
  }

  function checkSessionIn(seconds) {
    clearTimeout(sessionTimer);
    sessionTimer = setTimeout(checkSession, Math.max(1, seconds) * 1000);
  }

  function hideWarning() {
    var region = document.getElementById("session-warning");
    if (!region || !region.firstChild) { return; }
    var hadFocus = region.contains(document.activeElement);
    region.replaceChildren();
    if (hadFocus && focusBeforeWarning && document.contains(focusBeforeWarning)) { focusBeforeWarning.focus(); }
    focusBeforeWarning = null;
  }

  function showWarning(secondsLeft) {
    var region = document.getElementById("session-warning");
    if (!region) { return; }
    var minutes = Math.max(1, Math.round(secondsLeft / 60));
    var text = "Your session ends in about " + minutes + (minutes === 1 ? " minute" : " minutes") +
      " unless you stay signed in. What you have typed is kept.";
    var message = region.querySelector("p");
    if (message) { message.firstChild.textContent = text + " "; return; }  // already offered: only the time moves
    focusBeforeWarning = document.activeElement;
    message = document.createElement("p");
    message.className = "notice info";
    message.appendChild(document.createTextNode(text + " "));
    var button = document.createElement("button");
    button.type = "button";
    button.id = "session-stay";
    button.textContent = "Stay signed in";
    button.addEventListener("click", staySignedIn);
    message.appendChild(button);
    region.replaceChildren(message);
  }

  function checkSession() {
    var page = sessionPage();
    if (!page) { return; }
    var warning = Number(page.dataset.sessionWarning);
    fetch("/api/session/expiry", {credentials: "same-origin", cache: "no-store"})
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        page.dataset.sessionChecks = String(Number(page.dataset.sessionChecks || 0) + 1);
        var left = answer.seconds_left;
        page.dataset.sessionLeft = String(left);  // what the page last heard, for whoever looks into it
        if (left <= 0) { hideWarning(); return; }  // ended: the live connection says so
        if (left > warning) { hideWarning(); checkSessionIn(left - warning); return; }
        showWarning(left);
        checkSessionIn(Math.min(left, 15));  // keep the time shown current, and notice a renewal elsewhere
      })
      .catch(function () { checkSessionIn(15); });
  }

  function staySignedIn() {
    fetch("/api/session/renew", {method: "POST", credentials: "same-origin", headers: {"x-csrftoken": csrfToken()}})
      .then(function (response) { return response.ok ? response.json() : {seconds_left: 0}; })
      .then(function (answer) {
        if (answer.seconds_left > 0) {
          hideWarning();
          sayPolitely("You stay signed in.");
          checkSessionIn(answer.seconds_left - Number(sessionPage().dataset.sessionWarning));
        }
      });
  }

  function sayPolitely(text) {
    var announcer = document.getElementById("conference-announcer");
    if (announcer) { announcer.textContent = text; }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var page = sessionPage();
    if (page) { checkSessionIn(Number(page.dataset.sessionIdle) - Number(page.dataset.sessionWarning)); }
  });
  // Any change the person makes uses the session: the count starts again from its answer.
  document.addEventListener("htmx:afterRequest", function (event) {
    var page = sessionPage();
    if (page && event.detail.successful) {
      hideWarning();
      checkSessionIn(Number(page.dataset.sessionIdle) - Number(page.dataset.sessionWarning));
    }
  });

  // --- What was typed survives logging in again ----------------------------------------------

  // Typing is kept for this tab (sessionStorage: gone when the tab closes) until its form is
  // accepted, so a session that ends mid-sentence loses nothing: logging in again brings the
  // person back to this page and the text back into its field.
  var DRAFTS = "drafts:" + location.pathname;

  function drafts() {
    try { return JSON.parse(sessionStorage.getItem(DRAFTS) || "{}"); } catch (ignored) { return {}; }
  }

  function keepDrafts(kept) {
    try {
      if (Object.keys(kept).length) { sessionStorage.setItem(DRAFTS, JSON.stringify(kept)); } else { sessionStorage.removeItem(DRAFTS); }
    } catch (ignored) { /* storage full or refused: typing still works, only the safety net is off */ }
  }

  document.addEventListener("input", function (event) {
    var field = event.target;
    if (!(field.id && field.matches && field.matches(FIELDS) && conference() && conference().contains(field))) { return; }
    var kept = drafts();
    if (edited(field)) { kept[field.id] = valueOf(field); } else { delete kept[field.id]; }
    keepDrafts(kept);
  });

  function restoreDrafts() {
    var kept = drafts();
    Object.keys(kept).forEach(function (id) {
      var field = document.getElementById(id);
      if (field && field.matches(FIELDS) && !edited(field)) { setValue(field, kept[id]); }
    });
  }

  document.addEventListener("DOMContentLoaded", restoreDrafts);
  document.addEventListener("htmx:wsAfterMessage", restoreDrafts);  // fields that arrive with the live page

  // Logging out on purpose takes this tab's drafts with it (a session that merely ended keeps them).
  document.addEventListener("submit", function (event) {
    if (event.target.getAttribute && event.target.getAttribute("action") === "/logout") { keepDrafts({}); }
  });

  // A form the server accepted: its typing is saved, so its draft goes.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!(event.detail.successful && form && form.tagName === "FORM")) { return; }
    var kept = drafts();
    Array.prototype.forEach.call(form.elements, function (field) { delete kept[field.id]; });
    keepDrafts(kept);
  });
})();
