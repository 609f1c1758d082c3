/* Sidebar toggles (pydata-sphinx-theme 0.17.1 + sphinx-book-theme 1.3.0).
 *
 * pydata-sphinx-theme 0.17 renders its own .primary-toggle / .secondary-toggle in the
 * top navbar, which sphinx-book-theme hides and replaces by the buttons in its article
 * header. Both themes bind their handlers with document.querySelector(), so only the
 * first, hidden, button of each kind opens the phone drawer (pydata) or collapses the
 * desktop sidebar (book theme); the visible buttons show a tooltip and do nothing
 * (pydata-sphinx-theme issue 2451, sphinx-book-theme PR 991). Forward a click on every
 * other toggle to the bound one, so both themes' own code runs unchanged. */
(function () {
  "use strict";

  function forwardClicks(selector) {
    var buttons = document.querySelectorAll(selector);
    var bound = buttons[0];
    Array.prototype.slice.call(buttons, 1).forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        event.stopPropagation();
        bound.click(); // pydata returns focus to this button when the drawer closes
      });
    });
  }

  /* Formulas are out of the tab order (mathjax3_config), but a display formula wider
   * than the column scrolls sideways, and a keyboard needs a stop to scroll it. */
  function focusableWideFormulas() {
    document.querySelectorAll('mjx-container[display="true"]').forEach(function (formula) {
      if (formula.scrollWidth > formula.clientWidth + 1) { formula.setAttribute("tabindex", "0"); }
    });
  }

  function setup() {
    forwardClicks(".primary-toggle");
    forwardClicks(".secondary-toggle");
    window.addEventListener("load", function () {
      var mathjax = window.MathJax;
      if (mathjax && mathjax.startup && mathjax.startup.promise) {
        mathjax.startup.promise.then(focusableWideFormulas);
      }
    });
  }

  if (document.readyState !== "loading") { setup(); } else { document.addEventListener("DOMContentLoaded", setup); }
})();
