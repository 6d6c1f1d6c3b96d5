// The little JavaScript the pages need. No inline scripts: the Content-Security-Policy forbids them.
(function () {
  "use strict";

  // The login form sends the browser's time zone: at the first login it becomes the profile's,
  // so the first page already shows times in it.
  document.querySelectorAll("input[data-browser-time-zone]").forEach(function (input) {
    input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  });

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
  // (htmx fires afterSwap on each element swapped in: the poll's answer starts with the poller.)
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var banner = document.getElementById("new-banner");
    if (!banner || event.target.id !== "poller") return;
    var added = event.target.parentElement.querySelectorAll("[data-new]").length;
    if (window.scrollY > 200 && added > 0) {
      banner.hidden = false;
      banner.querySelector("[data-count]").textContent = added;
    }
  });

  // Rows swapped into the deployments table (the poll's new ones, "Load older") come under
  // their day's header; where the page already heads the rows that follow with that same day,
  // the second header goes, so the rows of a day stay under one.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var rows = event.target.closest && event.target.closest("[data-live-rows]");
    if (!rows) return;
    var day = null;
    rows.querySelectorAll("tr.day").forEach(function (header) {
      if (header.getAttribute("data-day") === day) header.remove();
      else day = header.getAttribute("data-day");
    });
  });

  // On a phone the deployments filters fold behind a "Filters (n)" button.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-toggle-filters]");
    if (!toggle) return;
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    document.getElementById(toggle.getAttribute("aria-controls")).classList.toggle("is-open", open);
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("#new-banner")) {
      window.scrollTo({ top: 0, behavior: "smooth" });
      document.getElementById("new-banner").hidden = true;
    }
  });
})();

// Checklists (common.widgets.Checklist, e.g. a component's "Depends on"): the filter box above
// the checkboxes hides the entries whose name does not contain what is typed (a hidden entry
// stays checked; the page lists the checked ones first).
(function () {
  "use strict";

  function filterChecklist(list, text) {
    var query = text.trim().toLowerCase();
    var shown = 0;
    list.querySelectorAll(".checklist-options li").forEach(function (item) {
      item.hidden = query !== "" && item.textContent.toLowerCase().indexOf(query) === -1;
      if (!item.hidden) shown += 1;
    });
    list.querySelector(".checklist-none").hidden = shown > 0;
  }

  document.querySelectorAll("[data-checklist] .checklist-filter").forEach(function (input) {
    input.hidden = false; // without JavaScript there is no filter to offer
  });
  document.addEventListener("input", function (event) {
    if (!event.target.matches(".checklist-filter")) return;
    filterChecklist(event.target.closest("[data-checklist]"), event.target.value);
  });
  // Enter in the filter would submit the form half-filled.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.matches(".checklist-filter")) event.preventDefault();
  });
})();

// Forms with data-confirm (revoking an API token) ask before they submit.
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) event.preventDefault();
});
