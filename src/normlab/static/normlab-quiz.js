/* normlab quizzes: check answers in the browser, no kernel.
 * Mirrors normlab.quiz.Question.check; the HTML comes from normlab.sphinx_quiz. */
(function () {
  "use strict";

  function $all(root, selector) { return Array.prototype.slice.call(root.querySelectorAll(selector)); }

  function hideExplanations(quiz) {
    $all(quiz, ".nl-quiz-explain").forEach(function (el) { el.hidden = true; });
    $all(quiz, ".nl-quiz-option, .nl-quiz-item").forEach(function (el) {
      el.classList.remove("nl-quiz-right", "nl-quiz-wrong");
    });
  }

  function show(el) { if (el) { el.hidden = false; } }

  function say(quiz, correct, message) {
    var feedback = quiz.querySelector(".nl-quiz-feedback");
    feedback.textContent = message;
    feedback.classList.toggle("nl-quiz-correct", correct === true);
    feedback.classList.toggle("nl-quiz-incorrect", correct === false);
  }

  function checkChoices(quiz) {
    var options = $all(quiz, ".nl-quiz-option");
    var picked = options.filter(function (li) { return li.querySelector("input").checked; });
    if (picked.length === 0) { say(quiz, null, "Choose an answer first."); return; }
    // an option is wrong when its checked state differs from its key
    var wrong = options.filter(function (li) {
      return li.querySelector("input").checked !== (li.dataset.correct === "true");
    });
    if (quiz.dataset.quizType === "single") { wrong = wrong.filter(function (li) { return picked.indexOf(li) >= 0; }); }
    var correct = wrong.length === 0;
    (correct ? picked : wrong).forEach(function (li) {
      li.classList.add(correct ? "nl-quiz-right" : "nl-quiz-wrong");
      show(li.querySelector(".nl-quiz-explain"));
    });
    say(quiz, correct, correct ? "Correct!" : "Not quite. Read the explanation below the highlighted option" +
      (wrong.length > 1 ? "s." : "."));
  }

  function checkOrdering(quiz) {
    var items = $all(quiz, ".nl-quiz-item");
    var misplaced = items.filter(function (li, pos) { return Number(li.dataset.rank) !== pos; });
    var correct = misplaced.length === 0;
    misplaced.forEach(function (li) { li.classList.add("nl-quiz-wrong"); show(li.querySelector(".nl-quiz-explain")); });
    if (correct) {
      items.forEach(function (li) { li.classList.add("nl-quiz-right"); });
      show(quiz.querySelector('.nl-quiz-explain[data-general="true"]'));
    }
    say(quiz, correct, correct ? "Correct!" : "Not quite: " + misplaced.length + " of " + items.length +
      " steps are out of place. Read why below them.");
  }

  var NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

  function parseNumbers(text) {
    var inner = text.trim().replace(/^[\(\[]+|[\)\]]+$/g, "").trim();
    var parts = inner.split(/[,\s]+/).filter(function (p) { return p.length > 0; });
    if (parts.length === 0 || !parts.every(function (p) { return NUMBER.test(p); })) { return null; }
    return parts.map(Number);
  }

  function matches(given, expected, tolerance) {
    return given.length === expected.length && given.every(function (g, i) {
      return Math.abs(g - expected[i]) <= tolerance;
    });
  }

  function checkNumeric(quiz) {
    var input = quiz.querySelector(".nl-quiz-input");
    var given = parseNumbers(input.value);
    if (given === null) {
      say(quiz, null, "Expected a number such as 0.5 or a shape such as (2, 8, 10, 10).");
      return;
    }
    var tolerance = Number(input.dataset.tolerance);
    var correct = matches(given, JSON.parse(input.dataset.answer), tolerance);
    input.setAttribute("aria-invalid", correct ? "false" : "true");
    var explain = null;
    if (!correct) {
      explain = $all(quiz, ".nl-quiz-explain[data-wrong-answer]").filter(function (el) {
        return matches(given, JSON.parse(el.dataset.wrongAnswer), tolerance);
      })[0];
    }
    show(explain || quiz.querySelector('.nl-quiz-explain[data-general="true"]'));
    say(quiz, correct, correct ? "Correct!" : "Not quite. Read the explanation below.");
  }

  function labelMoveButtons(quiz) {
    var items = $all(quiz, ".nl-quiz-item");
    items.forEach(function (li, pos) {
      var name = li.querySelector(".nl-quiz-item-text").textContent.trim();
      var up = li.querySelector(".nl-quiz-up");
      var down = li.querySelector(".nl-quiz-down");
      up.setAttribute("aria-label", "Move up: " + name);
      down.setAttribute("aria-label", "Move down: " + name);
      up.disabled = pos === 0;
      down.disabled = pos === items.length - 1;
    });
  }

  function move(quiz, li, step) {
    var list = li.parentNode;
    if (step < 0 && li.previousElementSibling) { list.insertBefore(li, li.previousElementSibling); }
    if (step > 0 && li.nextElementSibling) { list.insertBefore(li.nextElementSibling, li); }
    hideExplanations(quiz);
    say(quiz, null, "");
    labelMoveButtons(quiz);
    var items = $all(quiz, ".nl-quiz-item");
    var pos = items.indexOf(li);
    quiz.querySelector(".nl-quiz-announce").textContent =
      li.querySelector(".nl-quiz-item-text").textContent.trim() + ": position " + (pos + 1) + " of " + items.length;
    // keep keyboard focus on the moved item; fall back to the other button at the ends
    var again = li.querySelector(step < 0 ? ".nl-quiz-up" : ".nl-quiz-down");
    (again.disabled ? li.querySelector(step < 0 ? ".nl-quiz-down" : ".nl-quiz-up") : again).focus();
  }

  function reset(quiz) {
    hideExplanations(quiz);
    say(quiz, null, "");
    $all(quiz, "input").forEach(function (input) {
      if (input.type === "text") { input.value = ""; input.removeAttribute("aria-invalid"); }
      else { input.checked = false; }
    });
    var list = quiz.querySelector(".nl-quiz-order");
    if (list) {
      var items = $all(list, ".nl-quiz-item");
      items.sort(function (a, b) { return Number(a.dataset.start) - Number(b.dataset.start); });
      items.forEach(function (li) { list.appendChild(li); });
      labelMoveButtons(quiz);
    }
  }

  var CHECKERS = { single: checkChoices, multiple: checkChoices, ordering: checkOrdering, numeric: checkNumeric };

  function setUp(quiz) {
    $all(quiz, ".nl-quiz-item").forEach(function (li, pos) { li.dataset.start = String(pos); });
    if (quiz.dataset.quizType === "ordering") { labelMoveButtons(quiz); }
    quiz.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button || !quiz.contains(button)) { return; }
      if (button.classList.contains("nl-quiz-check")) { hideExplanations(quiz); CHECKERS[quiz.dataset.quizType](quiz); }
      else if (button.classList.contains("nl-quiz-reset")) { reset(quiz); }
      else if (button.classList.contains("nl-quiz-up")) { move(quiz, button.closest(".nl-quiz-item"), -1); }
      else if (button.classList.contains("nl-quiz-down")) { move(quiz, button.closest(".nl-quiz-item"), +1); }
    });
    var input = quiz.querySelector(".nl-quiz-input");
    if (input) {
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); hideExplanations(quiz); checkNumeric(quiz); }
      });
    }
    quiz.classList.add("nl-quiz-ready");
  }

  function setUpAll() { $all(document, ".nl-quiz").forEach(setUp); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", setUpAll); }
  else { setUpAll(); }
})();
