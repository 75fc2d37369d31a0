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

  // The end of a session, said before it comes (WCAG 2.2.1). Two minutes before the idle
  // logoff (15 minutes in healthcare) a dialog offers "Stay signed in"; before the absolute
  // end (12 hours after signing in), which nothing extends, it says so. At the end itself
  // the tab goes to the login page, so a screen nobody watches stops showing the practice's
  // information.
  // N.B. the server counts every request as activity and ends an idle session between the
  // idle time and 30 seconds later (sessions.TOUCH_EVERY). Requests this page does not
  // see come from a link or a form (a download stays on the page), or from another tab,
  // which says so through localStorage: otherwise a tab left behind would leave, or warn,
  // too soon.
  var WARN_BEFORE = 2 * 60 * 1000;
  var GRACE = 35 * 1000;
  var LONGEST_TIMER = 2147483647;  // setTimeout fires at once after a longer delay
  var SHARED = "ozyops:active";

  function watchSession() {
    var dialog = document.getElementById("idle-warning");
    if (!dialog || typeof dialog.showModal !== "function") return;
    var idle = Number(dialog.dataset.idleSeconds) * 1000;
    var warnAfter = Math.max(idle - WARN_BEFORE, idle / 2);  // a short idle time warns halfway
    var endsIn = Number(dialog.dataset.endsIn) * 1000;
    var end = endsIn > 0 ? Date.now() + endsIn : Infinity;
    var stay = dialog.querySelector("form[data-stay]");
    var lastHere = Date.now();
    var timer = null;
    var dismissed = false;  // the absolute end's notice, read and closed

    function lastActive() {
      var shared = 0;
      try { shared = Number(localStorage.getItem(SHARED)) || 0; } catch (e) { /* storage off */ }
      return Math.max(lastHere, shared);
    }
    function later(ms) {
      timer = setTimeout(check, Math.max(0, Math.min(ms, LONGEST_TIMER)));
    }
    function check() {
      clearTimeout(timer);
      var now = Date.now();
      var since = lastActive();
      var ending = end <= since + idle;  // the absolute end comes first: staying cannot help
      var endsAt = ending ? end : since + idle;
      if (now >= endsAt + GRACE) {
        var here = location.pathname + location.search;
        location.assign(dialog.dataset.login + "?next=" + encodeURIComponent(here));
        return;
      }
      var warnAt = ending ? end - WARN_BEFORE : since + warnAfter;
      if (now < warnAt || (ending && dismissed)) {
        if (dialog.open) dialog.close();
        later((now < warnAt ? warnAt : endsAt + GRACE) - now);
        return;
      }
      if (!dialog.open) {
        dialog.classList.toggle("ending", ending);
        stay.hidden = ending;
        dialog.querySelector("[data-idle-at]").textContent = new Date(endsAt)
          .toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
        dialog.showModal();
      }
      later(endsAt + GRACE - now);
    }
    function active() {
      lastHere = Date.now();
      try { localStorage.setItem(SHARED, String(lastHere)); } catch (e) { /* storage off */ }
      check();
    }

    // Escape means "I'm here": it stays, rather than closing the question unanswered. Before
    // the absolute end it only closes the notice.
    dialog.addEventListener("cancel", function (event) {
      if (stay.hidden) { dismissed = true; return; }
      event.preventDefault();
      stay.requestSubmit();
    });
    dialog.querySelector("[data-dismiss]").addEventListener("click", function () {
      dismissed = true;
      dialog.close();
    });
    document.addEventListener("htmx:afterRequest", function (event) {
      if (event.detail.successful) active();
    });
    document.addEventListener("click", function (event) {
      if (event.target.closest && event.target.closest("a[href]")) active();
    });
    document.addEventListener("submit", active);
    window.addEventListener("storage", function (event) {
      if (event.key === SHARED) check();
    });
    active();
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); watchSession(); });
  document.addEventListener("htmx:load", function (event) { enhance(event.detail.elt); });
})();
