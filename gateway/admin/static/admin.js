// Progressive enhancements only: every page works without this file.
(function () {
  "use strict";

  // After a failed submit, focus the error summary so its list of links is read first.
  var summary = document.querySelector("[data-error-summary]");
  if (summary && document.activeElement !== summary) { summary.focus(); }

  // The main menu is a <details>; a browser that cannot show it open-or-not on wide screens
  // (no ::details-content) gets it opened there instead.
  var menu = document.querySelector("details[data-menu]");
  if (menu && !(window.CSS && CSS.supports("selector(::details-content)"))) {
    var wide = window.matchMedia("(min-width: 60rem)");
    var sync = function () { if (wide.matches) { menu.open = true; } };
    sync();
    if (wide.addEventListener) { wide.addEventListener("change", sync); }
  }

  // First login: offer the browser's time zone to the account (kept only if none was chosen).
  var zoneUrl = document.body.getAttribute("data-time-zone-url");
  var browserZone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zoneUrl && browserZone) {
    var body = new URLSearchParams({time_zone: browserZone, auto: "1",
                                    csrf_token: document.body.getAttribute("data-csrf")});
    fetch(zoneUrl, {method: "POST", credentials: "same-origin", body: body});
  }

  // <form data-confirm="…">: ask before a destructive POST.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });

  // <button data-copy="#selector">: copy the element's text to the clipboard.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) { return; }
    var text = source.value !== undefined ? source.value : source.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      var area = document.createElement("textarea");
      area.value = text; document.body.appendChild(area); area.select();
      document.execCommand("copy"); document.body.removeChild(area); done();
    }
  });

  // <form data-live-preview>: re-render the preview frame shortly after each change, by
  // pressing the form's own "Preview changes" button (it posts into the frame, unsaved).
  document.querySelectorAll("form[data-live-preview]").forEach(function (form) {
    var button = form.querySelector("[data-preview-button]");
    if (!button || !form.requestSubmit) { return; }
    var timer = null;
    var refresh = function () { form.requestSubmit(button); };
    var later = function () { clearTimeout(timer); timer = setTimeout(refresh, 400); };
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    // The preview speaks the language being edited: the one whose texts or mails have the
    // focus or were just unfolded, else the default language as it changes.
    var chosen = document.querySelector("[data-preview-language]");
    var show = function (code) {
      if (chosen && code && chosen.value !== code) { chosen.value = code; later(); }
    };
    form.addEventListener("focusin", function (event) {
      var box = event.target.closest("[data-lang]");
      if (box) { show(box.getAttribute("data-lang")); }
    });
    form.querySelectorAll("details[data-lang]").forEach(function (box) {
      box.addEventListener("toggle", function () {
        if (box.open) { show(box.getAttribute("data-lang")); }
      });
    });
    var defaultLanguage = form.querySelector("[name=default_language]");
    if (defaultLanguage) {
      defaultLanguage.addEventListener("change", function () { show(defaultLanguage.value); });
    }
    refresh();
  });

  // <iframe data-fit-content>: as tall as the page it shows (same origin), so the whole form
  // shows, consent and button included; a pane taller than the window scrolls with the page.
  document.querySelectorAll("iframe[data-fit-content]").forEach(function (frame) {
    var fit = function () {
      var doc = frame.contentDocument;
      if (!doc || !doc.documentElement) { return; }
      frame.style.height = (doc.documentElement.scrollHeight + 4) + "px";
      var pane = frame.closest(".preview");
      if (pane) {
        pane.style.position = pane.offsetHeight > window.innerHeight - 32 ? "static" : "";
      }
    };
    frame.addEventListener("load", fit);
    window.addEventListener("resize", fit);
    fit();
  });
})();
