// lossbook site behaviour, loaded on every page (see _ext/lossbook_site.py).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Download buttons save the page's source (.ipynb or .md) instead of opening it in a tab.
  document
    .querySelectorAll("a.btn-download-source-button, a.btn-download-notebook-button")
    .forEach((a) => {
      const name = a.getAttribute("href").split("/").pop();
      a.setAttribute("download", name);
      a.removeAttribute("target");
    });

  // On the search page, the page's own search box is the one search box.
  if (DOCUMENTATION_OPTIONS.pagename === "search") {
    document.querySelectorAll(".search-button__button").forEach((b) => (b.style.display = "none"));
  }

  // Search result snippets are cut from each page's HTML, where the mathematics is still
  // TeX source: replace every math element by an ellipsis before Sphinx takes the text.
  if (typeof Search !== "undefined" && typeof Search.htmlToText === "function") {
    const htmlToText = Search.htmlToText;
    Search.htmlToText = (htmlString, anchor) => {
      const doc = new DOMParser().parseFromString(htmlString, "text/html");
      doc.querySelectorAll(".math, mjx-container").forEach((el) => el.replaceWith("…"));
      return htmlToText(doc.documentElement.outerHTML, anchor);
    };
  }
});
