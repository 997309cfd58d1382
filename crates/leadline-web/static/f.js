/* Leadline form loader. Put where the form should appear:
   <div data-leadline-form="SLUG"></div>
   <script src="https://YOUR-LEADLINE/f.js" async></script>
   The page's origin must be listed under Settings → Capture → CORS origins. The form posts
   to Leadline like a plain HTML form (it works the same without this script). */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) { return; }
  var base = new URL(script.src).origin;
  var nodes = document.querySelectorAll("[data-leadline-form]");
  Array.prototype.forEach.call(nodes, function (node) {
    var slug = node.getAttribute("data-leadline-form");
    if (!/^[a-z0-9-]{1,64}$/.test(slug)) { return; }
    fetch(base + "/f/" + slug + "/embed" + location.search, { credentials: "omit" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        /* The fragment is rendered by Leadline with every value escaped. */
        node.innerHTML = html;
        var vid = (document.cookie.match(/(?:^|; )ll_vid=([A-Za-z0-9_-]{8,64})/) || [])[1];
        var form = node.querySelector("form");
        if (form) { form.action = base + form.getAttribute("action"); }
        if (vid && form) {
          var i = document.createElement("input");
          i.type = "hidden"; i.name = "ll_vid"; i.value = vid;
          form.appendChild(i);
        }
      })
      .catch(function () { node.textContent = "The form could not be loaded."; });
  });
})();
