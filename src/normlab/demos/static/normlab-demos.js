// Demo sliders for screen readers and keyboards (see normlab/book/demo_assets.py).
// ipywidgets' selection slider gives its noUiSlider handle no name and announces the
// option's index (aria-valuenow 0, 1, 2); the readout beside it shows the value. Each
// handle gets its control's label as its name and the readout as its value text,
// again whenever the value changes.
(function () {
  "use strict";

  function syncSlider(slider) {
    var label = slider.querySelector(".widget-label, .jupyter-widget-label");
    var readout = slider.querySelector(".widget-readout, .jupyter-widget-readout");
    slider.querySelectorAll(".noUi-handle").forEach(function (handle) {
      var name = label && label.textContent.trim();
      if (name && handle.getAttribute("aria-label") !== name) handle.setAttribute("aria-label", name);
      var value = readout && readout.textContent.trim();
      if (value && handle.getAttribute("aria-valuetext") !== value) handle.setAttribute("aria-valuetext", value);
    });
    if (readout) {
      // a readout is output, not input: typing into it does nothing
      if (readout.getAttribute("contenteditable") !== "false") readout.setAttribute("contenteditable", "false");
      readout.setAttribute("aria-hidden", "true");   // the handle already announces it
    }
  }

  // A demo's output never shrinks while the reader moves its controls (the views are
  // rendered one at a time, so the tallest cannot be measured up front: the build
  // reserves an estimate, this keeps the tallest seen). A new column width starts over.
  var widthSeen = window.innerWidth;
  function holdHeight(demo) {
    var output = demo.children[1];
    if (!output) return;
    var height = output.getBoundingClientRect().height;
    var held = parseFloat(output.style.minHeight) || 0;
    if (height > held + 0.5) output.style.minHeight = Math.ceil(height) + "px";
  }

  var pending = false;
  function scan() {
    pending = false;
    if (window.innerWidth !== widthSeen) {
      widthSeen = window.innerWidth;
      document.querySelectorAll(".normlab-demo").forEach(function (demo) {
        if (demo.children[1]) demo.children[1].style.minHeight = "";
      });
    }
    document.querySelectorAll(".normlab-demo .widget-slider, .normlab-demo .jupyter-widget-slider")
      .forEach(syncSlider);
    document.querySelectorAll(".normlab-demo").forEach(holdHeight);
  }
  function schedule() {
    if (!pending) {
      pending = true;
      window.requestAnimationFrame(scan);
    }
  }

  function start() {
    schedule();
    window.addEventListener("resize", schedule);
    window.addEventListener("load", schedule);   // images decoded: their full height
    new MutationObserver(schedule).observe(document.body, {
      subtree: true, childList: true, characterData: true,
      attributes: true, attributeFilter: ["aria-valuenow"],
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
