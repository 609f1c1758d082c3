/* ipywidgets 8 typesets widget labels with the MathJax 2 API, MathJax.Hub.Queue(...);
 * the book loads MathJax 3, which has no Hub, so every labelled control threw
 * "Cannot read properties of undefined (reading 'Queue')". Give whatever object ends up
 * in window.MathJax (the config, then MathJax 3 itself) a Hub.Queue that forwards to
 * MathJax 3's typesetPromise. Loaded before the widget manager (nb_ipywidgets_js). */
(function () {
  "use strict";
  var current = window.MathJax;

  function addHub(mathjax) {
    if (!mathjax || typeof mathjax !== "object" || mathjax.Hub) { return; }
    Object.defineProperty(mathjax, "Hub", {
      enumerable: false, // keep it out of MathJax 3's option merging
      value: {
        Queue: function (command) {
          var element = Array.isArray(command) ? command[2] : null;
          if (element && typeof window.MathJax.typesetPromise === "function") {
            window.MathJax.typesetPromise([element]).catch(function (err) { console.warn(err); });
          }
        }
      }
    });
  }

  addHub(current);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    get: function () { return current; },
    set: function (value) { current = value; addHub(value); }
  });
})();
