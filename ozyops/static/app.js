// Small comforts that need JavaScript. Every page works without this file: the setup key
// and recovery key are plain, selectable text, the download link is plain HTML, and the
// idle logoff happens on the server whether or not this file warned of it.
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain-HTTP installs on a practice's network have no async clipboard: select and copy.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var ok = document.execCommand("copy");
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  // Give every [data-copyable] element a "Copy" button after it, once.
  function enhance(root) {
    root.querySelectorAll("[data-copyable]").forEach(function (el) {
      if (el.dataset.enhanced) return;
      el.dataset.enhanced = "1";
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy";
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy " + el.dataset.copyable);
      var status = document.createElement("span");
      status.className = "copy-status";
      status.setAttribute("role", "status");
      button.addEventListener("click", function () {
        copyText(el.textContent.trim()).then(
          function () { status.textContent = "Copied."; },
          function () { status.textContent = "Select the text and copy it instead."; }
        );
      });
      el.insertAdjacentElement("afterend", status);
      el.insertAdjacentElement("afterend", button);
    });
  }

  // What htmx.render announces when a part of the page changes (a filter's results).
  // N.B. emptied first, then filled a moment later: a screen reader does not read out a
  // live region whose text is set to what it already was ("3 members match" twice).
  var announcing = null;
  document.addEventListener("ozyops:announce", function (event) {
    var announcer = document.getElementById("announcer");
    if (!announcer) return;
    announcer.textContent = "";
    clearTimeout(announcing);  // only the newest of two quick ones
    announcing = setTimeout(function () { announcer.textContent = event.detail.value; }, 100);
  });

  // The idle logoff (15 minutes in healthcare), said before it happens: two minutes ahead a
  // dialog offers "Stay signed in", and at the logoff itself the tab goes to the login page,
  // so a screen left unattended stops showing the practice's information (WCAG 2.2.1).
  // N.B. the server counts any request as activity and ends the session between the idle
  // time and 30 seconds later (sessions.TOUCH_EVERY); tabs tell each other of theirs
  // through localStorage, so a tab left behind the one in use neither warns nor leaves.
  var WARN_BEFORE = 2 * 60 * 1000;
  var GRACE = 35 * 1000;
  var SHARED = "ozyops:active";

  function watchIdle() {
    var dialog = document.getElementById("idle-warning");
    if (!dialog || typeof dialog.showModal !== "function") return;
    var idle = Number(dialog.dataset.idleSeconds) * 1000;
    var form = dialog.querySelector("form");
    var lastHere = Date.now();
    var timer = null;

    function lastActive() {
      var shared = 0;
      try { shared = Number(localStorage.getItem(SHARED)) || 0; } catch (e) { /* storage off */ }
      return Math.max(lastHere, shared);
    }
    function check() {
      clearTimeout(timer);
      var now = Date.now();
      var since = lastActive();
      if (now >= since + idle + GRACE) {
        var here = location.pathname + location.search;
        location.assign(dialog.dataset.login + "?next=" + encodeURIComponent(here));
        return;
      }
      if (now < since + idle - WARN_BEFORE) {
        if (dialog.open) dialog.close();
        timer = setTimeout(check, since + idle - WARN_BEFORE - now);
        return;
      }
      if (!dialog.open) {
        var at = new Date(since + idle);
        dialog.querySelector("[data-idle-at]").textContent =
          at.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
        dialog.showModal();
      }
      timer = setTimeout(check, since + idle + GRACE - now);
    }
    function active() {
      lastHere = Date.now();
      try { localStorage.setItem(SHARED, String(lastHere)); } catch (e) { /* storage off */ }
      check();
    }

    // Escape means "I'm here" too: it stays, rather than closing the question unanswered.
    dialog.addEventListener("cancel", function (event) {
      event.preventDefault();
      form.requestSubmit();
    });
    document.addEventListener("htmx:afterRequest", function (event) {
      if (event.detail.successful) active();
    });
    window.addEventListener("storage", function (event) {
      if (event.key === SHARED) check();
    });
    active();
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); watchIdle(); });
  document.addEventListener("htmx:load", function (event) { enhance(event.detail.elt); });
})();
