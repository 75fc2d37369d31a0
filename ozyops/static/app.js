// Small comforts that need JavaScript. Every page works without this file: the setup key
// and recovery key are plain, selectable text, and the download link is plain HTML.
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

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:load", function (event) { enhance(event.detail.elt); });
})();
