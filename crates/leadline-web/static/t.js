/* Leadline tracking snippet. Add to every page of your site:
   <script src="https://YOUR-LEADLINE/t.js" async></script>
   It keeps a first-party visitor id (cookie ll_vid on your site), records a page view,
   adds the visitor id to forms that post to Leadline, and offers
   window.leadline.track("webinar_attended", {webinar: "..."}) for custom events.
   Set window.leadlineConsent = true/false before it loads if your site asks for consent. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.URL) { return; }
  var base = new URL(script.src).origin;
  function newId() {
    var a = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return btoa(String.fromCharCode.apply(null, a)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function visitorId() {
    var m = document.cookie.match(/(?:^|; )ll_vid=([A-Za-z0-9_-]{8,64})/);
    if (m) { return m[1]; }
    var id = newId();
    document.cookie = "ll_vid=" + id + "; path=/; max-age=63072000; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
    return id;
  }
  var vid = visitorId();
  var link = null;
  try { link = new URLSearchParams(location.search).get("ll_t"); } catch (e) { link = null; }
  function track(kind, properties) {
    var body = JSON.stringify({
      visitor_id: vid, kind: kind || "page_view", url: location.href, title: document.title,
      referrer: document.referrer || null, link: link,
      consent: typeof window.leadlineConsent === "boolean" ? window.leadlineConsent : null,
      properties: properties || {}
    });
    /* text/plain keeps this a simple request: no CORS preflight. */
    var blob = new Blob([body], { type: "text/plain" });
    if (navigator.sendBeacon && navigator.sendBeacon(base + "/t/e", blob)) { return; }
    if (window.fetch) { fetch(base + "/t/e", { method: "POST", body: blob, keepalive: true, mode: "no-cors" }); }
  }
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f && f.action && f.action.indexOf(base) === 0 && !f.querySelector("input[name=ll_vid]")) {
      var i = document.createElement("input");
      i.type = "hidden"; i.name = "ll_vid"; i.value = vid;
      f.appendChild(i);
    }
  }, true);
  window.leadline = { track: track, visitorId: vid };
  track("page_view");
})();
