// Live preview for the template editor: while someone types, the form is posted with
// action=preview (the same request the Preview button makes) and the preview and any
// errors are taken from the page that comes back. Without script the button does it.
(function () {
  "use strict";
  var form = document.querySelector("form[data-live-preview]");
  var preview = document.getElementById("preview");
  if (!form || !preview) return;
  var timer = null;
  var seq = 0;
  function refresh() {
    var body = new URLSearchParams(new FormData(form));
    body.set("action", "preview");
    var mine = ++seq;
    preview.setAttribute("aria-busy", "true");
    // getAttribute: the buttons are named "action", which shadows form.action.
    fetch(form.getAttribute("action"), { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        if (mine !== seq) return; // a newer request is on its way
        var doc = new DOMParser().parseFromString(html, "text/html");
        var next = doc.getElementById("preview");
        if (next) preview.innerHTML = next.innerHTML;
        var errors = document.getElementById("errors");
        var nextErrors = doc.getElementById("errors");
        if (errors && nextErrors) errors.innerHTML = nextErrors.innerHTML;
      })
      .catch(function () {})
      .then(function () { preview.removeAttribute("aria-busy"); });
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 600);
  });
})();
