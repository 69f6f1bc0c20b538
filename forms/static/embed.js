/* Inlet opt-in form embed: renders one form into the host page. No framework, no requests
   except the submit to the gateway. Texts are set with textContent (never innerHTML). */
(function (C) {
  "use strict";
  var d = document, script = d.currentScript;
  var host = d.querySelector('[data-inlet-form="' + C.slug + '"]:not([data-inlet-ready])');
  if (!host) {
    if (!script || !script.parentNode) { return; }
    host = d.createElement("div");
    script.parentNode.insertBefore(host, script.nextSibling);
  }
  host.setAttribute("data-inlet-ready", "1");
  var here = window.location.origin;
  if (C.allowed && C.allowed.indexOf(here) < 0) {
    // The gateway would refuse every submit from this site: say so instead of a form.
    var refused = d.createElement("p");
    refused.setAttribute("role", "alert");
    refused.setAttribute("class", "inlet-refused");
    refused.style.cssText = "border:2px solid #b00020;padding:.6rem;color:#b00020;max-width:32rem";
    refused.textContent = C.refused.replace("{origin}", here);
    host.appendChild(refused);
    return;
  }

  function el(tag, attrs, text) {
    var node = d.createElement(tag), key;
    for (key in attrs || {}) {
      if (Object.prototype.hasOwnProperty.call(attrs, key) && attrs[key] !== null &&
          attrs[key] !== false) { node.setAttribute(key, attrs[key] === true ? "" : attrs[key]); }
    }
    if (text) { node.textContent = text; }
    return node;
  }

  var style = el("style", null,
    ".inlet-form{font:inherit;max-width:32rem}.inlet-form .inlet-row{margin:0 0 .8rem}" +
    ".inlet-form label{display:block;font-weight:600;margin:0 0 .2rem}" +
    ".inlet-form input[type=email],.inlet-form input[type=text],.inlet-form input[type=number]," +
    ".inlet-form input[type=date],.inlet-form select{width:100%;box-sizing:border-box;padding:.4rem}" +
    ".inlet-form fieldset{border:0;padding:0;margin:0 0 .8rem}.inlet-form legend{font-weight:600}" +
    ".inlet-form .inlet-check label{display:inline;font-weight:normal}" +
    ".inlet-form .inlet-error{color:#b00020;margin:.2rem 0 0}" +
    ".inlet-form .inlet-hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}");
  host.appendChild(style);

  var form = el("form", {method: "post", action: C.action, "class": "inlet-form",
                         "accept-charset": "utf-8", novalidate: true});
  if (C.texts.title) { form.appendChild(el("h2", null, C.texts.title)); }
  if (C.texts.intro) { form.appendChild(el("p", null, C.texts.intro)); }
  var errors = {};

  function errorNode(f) {
    var p = el("p", {id: f.id + "-error", "class": "inlet-error", hidden: true});
    errors[f.name] = p;
    return p;
  }

  function checkbox(name, id, value, label, checked) {
    var wrap = el("div", {"class": "inlet-check"});
    wrap.appendChild(el("input", {type: "checkbox", name: name, id: id, value: value,
                                  checked: !!checked}));
    wrap.appendChild(el("label", {"for": id}, label));
    return wrap;
  }

  C.fields.forEach(function (f) {
    var row, input;
    if (f.input === "checkboxes") {
      row = el("fieldset", {"class": "inlet-row", "aria-describedby": f.id + "-error"});
      row.appendChild(el("legend", null, f.label));
      f.options.forEach(function (o, i) {
        row.appendChild(checkbox(f.name, f.id + "-" + i, o.value, o.label,
                                 (f.value || []).indexOf(o.value) >= 0));
      });
    } else if (f.input === "checkbox") {
      row = el("div", {"class": "inlet-row"});
      row.appendChild(checkbox(f.name, f.id, "yes", f.label, false));
    } else {
      row = el("div", {"class": "inlet-row"});
      row.appendChild(el("label", {"for": f.id}, f.label));
      if (f.input === "select") {
        input = el("select", {name: f.name, id: f.id, "aria-describedby": f.id + "-error"});
        f.options.forEach(function (o) {
          input.appendChild(el("option", {value: o.value, selected: o.value === f.value},
                               o.label));
        });
      } else {
        input = el("input", {type: f.input, name: f.name, id: f.id, value: f.value || "",
                             required: f.required, autocomplete: f.autocomplete || null,
                             "aria-describedby": f.id + "-error"});
      }
      row.appendChild(input);
    }
    row.appendChild(errorNode(f));
    form.appendChild(row);
  });

  var hp = el("div", {"class": "inlet-hp", hidden: true, "aria-hidden": "true"});
  hp.appendChild(el("label", {"for": "inlet-hp-" + C.slug}, "Website"));
  hp.appendChild(el("input", {type: "text", name: C.honeypot, id: "inlet-hp-" + C.slug,
                              tabindex: "-1", autocomplete: "off"}));
  form.appendChild(hp);
  var ts = el("input", {type: "hidden", name: "_ts", value: C.ts});
  form.appendChild(ts);
  form.appendChild(el("input", {type: "hidden", name: "_lang", value: C.language}));
  form.appendChild(el("input", {type: "hidden", name: "_embed", value: "script"}));
  if (C.texts.consent) { form.appendChild(el("p", {"class": "inlet-consent"}, C.texts.consent)); }
  var button = el("button", {type: "submit"}, C.texts.submit);
  form.appendChild(button);
  var status = el("p", {role: "status", "aria-live": "polite", "class": "inlet-status"});
  form.appendChild(status);
  host.appendChild(form);

  function showErrors(details) {
    Object.keys(errors).forEach(function (k) { errors[k].hidden = true; });
    (details || []).forEach(function (e) {
      var p = errors[e.field];
      if (p) { p.textContent = e.message; p.hidden = false; }
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    status.textContent = "";
    var body = new URLSearchParams(new FormData(form));
    fetch(C.action, {method: "POST", body: body, credentials: "omit",
                     headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json().then(function (j) { return [r.status, j]; }); })
      .then(function (res) {
        var code = res[0], data = res[1];
        button.disabled = false;
        if (code < 300) {
          if (data.redirect) { window.location.href = data.redirect; return; }
          var done = el("p", {role: "status", "class": "inlet-thanks"}, data.message);
          host.replaceChild(done, form);
          return;
        }
        var err = data.error || {};
        if (err.code === "too_fast") {
          (err.details || []).forEach(function (x) { if (x.ts) { ts.value = x.ts; } });
        }
        showErrors(err.code === "validation_failed" ? err.details : []);
        status.textContent = err.message || C.texts.invalid;
      })
      .catch(function () { button.disabled = false; status.textContent = C.texts.failed; });
  });
})(/*CONFIG*/);
