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

// Display equations wider than the column (a phone, a narrow window): shrink the equation to
// fit, by at most 30 %; if it still does not fit beside its number, move the number onto its
// own line and fit again; what is still too wide scrolls inside the full-width box, never
// under the number.
const MIN_EQUATION_SCALE = 0.7;

function fitEquation(container) {
  container.style.fontSize = "";
  const block = container.parentElement;
  if (!block || !block.classList.contains("math")) return;
  block.classList.remove("lossbook-eqno-above");
  const shrink = () => {
    container.style.fontSize = "";
    const ratio = container.clientWidth / container.scrollWidth;
    if (ratio < 1) {
      container.style.fontSize = `${Math.max(ratio * 0.98, MIN_EQUATION_SCALE) * 100}%`;
    }
    return container.scrollWidth <= container.clientWidth + 1;
  };
  if (!shrink() && block.querySelector(":scope > .eqno")) {
    block.classList.add("lossbook-eqno-above");
    shrink();
  }
}

function fitEquations() {
  document.querySelectorAll('mjx-container[display="true"]').forEach(fitEquation);
}

window.addEventListener("load", () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(fitEquations);
  }
});
let resizeTimer;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(fitEquations, 150);
});

