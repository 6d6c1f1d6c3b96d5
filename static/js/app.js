// The little JavaScript the pages need. No inline scripts: the Content-Security-Policy forbids them.
(function () {
  "use strict";

  // Tell the server the viewer's time zone, so it renders times in it (next page load).
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone && document.cookie.indexOf("tz=" + encodeURIComponent(zone)) === -1) {
    document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
  }

  // Buttons with data-copy-target copy that element's text (keys shown once, Markdown).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy-target"));
    if (!source) return;
    var text = source.value !== undefined ? source.value : source.textContent;
    navigator.clipboard.writeText(text).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });

  // "N new events" banner: rows that arrive while the reader has scrolled down are counted
  // instead of pulling the page under their eyes.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var banner = document.getElementById("new-banner");
    if (!banner || !event.detail.target.matches("[data-live-rows]")) return;
    var added = event.detail.target.querySelectorAll("[data-new]").length;
    if (window.scrollY > 200 && added > 0) {
      banner.hidden = false;
      banner.querySelector("[data-count]").textContent = added;
    }
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("#new-banner")) {
      window.scrollTo({ top: 0, behavior: "smooth" });
      document.getElementById("new-banner").hidden = true;
    }
  });
})();
