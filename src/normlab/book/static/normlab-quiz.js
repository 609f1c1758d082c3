/* normlab quizzes: check answers in the browser, no kernel, and keep the reader's
 * progress in this browser (localStorage; nothing is sent anywhere).
 *
 * One handler per quiz type, registered by name like normlab.quiz.types (Python):
 *   register("single", { check: function (quiz) {...}, setUp: ..., reset: ... })
 * The HTML comes from normlab.book.quiz_directive; parseNumbers follows
 * src/normlab/quiz/number_forms.json, as normlab.quiz.numbers does. */
(function (root) {
  "use strict";

  var HANDLERS = {};
  function register(name, handler) { HANDLERS[name] = handler; }

  // --- numbers: the forms of src/normlab/quiz/number_forms.json --------------------
  var NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
  var THOUSANDS = /^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$/;
  var TORCH_SIZE = /^(torch\.)?Size\(\s*\[([\s\S]*)\]\s*\)$/;
  var TIMES = /([\d.])\s*[xX\u00d7]\s*(?=[\d.+-])/g;
  var FORMAT_MESSAGE = "Expected a number such as 0.5 or 4,096, or a shape such as (2, 8, 10, 10).";

  function parseNumbers(text) {
    var source = String(text).trim();
    if (THOUSANDS.test(source)) { return [Number(source.replace(/,/g, ""))]; }
    var size = TORCH_SIZE.exec(source);
    var inner = size ? size[2] : source.replace(/^[\(\[]+|[\)\]]+$/g, "");
    inner = inner.trim().replace(TIMES, "$1,");
    var parts = inner.split(/[,\s]+/).filter(function (p) { return p.length > 0; });
    if (parts.length === 0 || !parts.every(function (p) { return NUMBER.test(p); })) { return null; }
    return parts.map(Number);
  }

  function matches(given, expected, tolerance) {
    return given.length === expected.length && given.every(function (g, i) {
      return Math.abs(g - expected[i]) <= tolerance;
    });
  }

  // --- progress, kept in this browser ----------------------------------------------
  var PROGRESS_KEY = "normlab-quiz-progress";
  var VARIANT_KEY = "normlab-quiz-variants";

  function load(key) {
    try { return JSON.parse(root.localStorage.getItem(key) || "{}") || {}; } catch (e) { return {}; }
  }
  function save(key, value) {
    try { root.localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode: no memory */ }
  }
  function recordResult(id, correct) {
    var progress = load(PROGRESS_KEY);
    var before = progress[id] || { tries: 0, everRight: false };
    progress[id] = { right: correct, everRight: before.everRight || correct, tries: before.tries + 1,
                     when: new Date().toISOString() };
    save(PROGRESS_KEY, progress);
  }

  // --- ordering: every order that keeps each step after the steps it needs -----------
  // ranks: the steps (their rank in the bank's order) as the reader has them; before[rank]:
  // the ranks that must come earlier. A step's explanation says where it goes, so none is
  // shown until the order is right, or until the reader gives up (Python: types.Ordering).
  function orderingVerdict(ranks, before, gaveUp) {
    var position = {};
    ranks.forEach(function (rank, pos) { position[rank] = pos; });
    var bad = {};
    ranks.forEach(function (rank) {
      (before[rank] || []).forEach(function (earlier) {
        if (position[earlier] > position[rank]) { bad[earlier] = true; bad[rank] = true; }
      });
    });
    var misplaced = ranks.filter(function (rank) { return bad[rank]; });
    var correct = misplaced.length === 0;
    return { correct: correct, misplaced: misplaced, explain: correct || gaveUp ? ranks.slice() : [] };
  }

  var api = { parseNumbers: parseNumbers, matches: matches, orderingVerdict: orderingVerdict, register: register,
              handlers: HANDLERS, FORMAT_MESSAGE: FORMAT_MESSAGE, PROGRESS_KEY: PROGRESS_KEY };
  root.normlabQuiz = api;
  if (typeof module !== "undefined" && module.exports) { module.exports = api; }
  if (typeof document === "undefined") { return; }  // node: the tests of parseNumbers

  // --- shared DOM helpers -----------------------------------------------------------
  function $all(el, selector) { return Array.prototype.slice.call(el.querySelectorAll(selector)); }
  function show(el) { if (el) { el.hidden = false; } }

  function mark(li, state) {
    li.classList.add("nl-quiz-" + state);
    var tag = li.querySelector(".nl-quiz-mark");
    if (tag) {
      tag.textContent = { right: "right", wrong: "wrong", missed: "missed: this one is right too" }[state];
      tag.hidden = false;
    }
  }

  function hideExplanations(quiz) {
    $all(quiz, ".nl-quiz-explain").forEach(function (el) { el.hidden = true; });
    $all(quiz, ".nl-quiz-mark").forEach(function (el) { el.hidden = true; el.textContent = ""; });
    $all(quiz, ".nl-quiz-option, .nl-quiz-item").forEach(function (el) {
      el.classList.remove("nl-quiz-right", "nl-quiz-wrong", "nl-quiz-missed");
    });
  }

  function say(quiz, correct, message) {
    var feedback = quiz.querySelector(".nl-quiz-feedback");
    feedback.textContent = message;
    feedback.classList.toggle("nl-quiz-correct", correct === true);
    feedback.classList.toggle("nl-quiz-incorrect", correct === false);
  }

  // --- single and multiple choice ---------------------------------------------------
  function checkChoices(quiz) {
    var options = $all(quiz, ".nl-quiz-option");
    var isPicked = function (li) { return li.querySelector("input").checked; };
    var isKey = function (li) { return li.dataset.correct === "true"; };
    var picked = options.filter(isPicked);
    if (picked.length === 0) { say(quiz, null, "Choose an answer first."); return null; }
    var wrong = picked.filter(function (li) { return !isKey(li); });
    var missed = quiz.dataset.quizType === "multiple" ?
      options.filter(function (li) { return isKey(li) && !isPicked(li); }) : [];
    var correct = wrong.length === 0 && missed.length === 0;
    picked.forEach(function (li) {
      mark(li, isKey(li) ? "right" : "wrong");
      if (correct || !isKey(li)) { show(li.querySelector(".nl-quiz-explain")); }
    });
    missed.forEach(function (li) { mark(li, "missed"); show(li.querySelector(".nl-quiz-explain")); });
    var message = "Correct!";
    if (!correct) {
      var parts = [];
      if (wrong.length) { parts.push(wrong.length + (wrong.length > 1 ? " picked options are" : " picked option is") + " wrong"); }
      if (missed.length) { parts.push(missed.length + (missed.length > 1 ? " right options were" : " right option was") + " missed"); }
      message = "Not quite: " + parts.join(", and ") + ". Read the explanation below " +
        (wrong.length + missed.length > 1 ? "each of them." : "it.");
    }
    say(quiz, correct, message);
    return correct;
  }
  register("single", { check: checkChoices });
  register("multiple", { check: checkChoices });

  // --- ordering: the page's steps, judged by orderingVerdict ---------------------------
  function judgeOrder(quiz, gaveUp) {
    var items = $all(quiz, ".nl-quiz-item");
    var before = {};
    items.forEach(function (li) {
      before[li.dataset.rank] = (li.dataset.before || "").split(" ").filter(Boolean).map(Number);
    });
    var verdict = orderingVerdict(items.map(function (li) { return Number(li.dataset.rank); }), before, gaveUp);
    items.forEach(function (li) {
      var rank = Number(li.dataset.rank);
      if (verdict.misplaced.indexOf(rank) >= 0) { mark(li, "wrong"); }
      if (verdict.correct && !gaveUp) { li.classList.add("nl-quiz-right"); }
      if (verdict.explain.indexOf(rank) >= 0) { show(li.querySelector(".nl-quiz-explain")); }
    });
    if (verdict.explain.length) { show(quiz.querySelector('.nl-quiz-explain[data-general="true"]')); }
    verdict.total = items.length;
    return verdict;
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

  register("ordering", {
    setUp: function (quiz) {
      $all(quiz, ".nl-quiz-item").forEach(function (li, pos) { li.dataset.start = String(pos); });
      labelMoveButtons(quiz);
      quiz.addEventListener("click", function (event) {
        var button = event.target.closest("button");
        if (!button || !quiz.contains(button)) { return; }
        if (button.classList.contains("nl-quiz-up")) { move(quiz, button.closest(".nl-quiz-item"), -1); }
        else if (button.classList.contains("nl-quiz-down")) { move(quiz, button.closest(".nl-quiz-item"), +1); }
      });
    },
    check: function (quiz) {
      var verdict = judgeOrder(quiz, false);
      say(quiz, verdict.correct, verdict.correct ? "Correct! Read why each step goes where it is." :
        "Not quite: " + verdict.misplaced.length + " of " + verdict.total + " steps are out of place " +
        "(marked). Move them and check again, or press Show the answer.");
      return verdict.correct;
    },
    reveal: function (quiz) {
      sortItems(quiz, "rank");  // the bank lists a right order
      judgeOrder(quiz, true);
      say(quiz, null, "One right order, with why each step goes where it is.");
    },
    reset: function (quiz) { sortItems(quiz, "start"); },
  });

  function sortItems(quiz, key) {
    var list = quiz.querySelector(".nl-quiz-order");
    var items = $all(list, ".nl-quiz-item");
    items.sort(function (a, b) { return Number(a.dataset[key]) - Number(b.dataset[key]); });
    items.forEach(function (li) { list.appendChild(li); });
    labelMoveButtons(quiz);
  }

  // --- numeric, with the variants of a parameterised question -------------------------
  function variants(quiz) { return quiz.dataset.variants ? JSON.parse(quiz.dataset.variants) : []; }

  function applyVariant(quiz, index) {
    var all = variants(quiz);
    if (all.length === 0) { return; }
    var v = all[index % all.length];
    quiz.dataset.variant = String(index % all.length);
    $all(quiz, ".nl-quiz-param").forEach(function (span) { span.textContent = String(v.params[span.dataset.param]); });
    quiz.querySelector(".nl-quiz-input").dataset.answer = JSON.stringify(v.answer);
    $all(quiz, ".nl-quiz-explain[data-wrong-index]").forEach(function (el) {
      el.dataset.wrongAnswer = JSON.stringify(v.wrong[Number(el.dataset.wrongIndex)]);
    });
    var chosen = load(VARIANT_KEY);
    chosen[quiz.dataset.quizId] = index % all.length;
    save(VARIANT_KEY, chosen);
  }

  function tryAnother(quiz) {
    var n = variants(quiz).length;
    if (n < 2) { return; }
    var now = Number(quiz.dataset.variant || 0);
    applyVariant(quiz, (now + 1 + Math.floor(Math.random() * (n - 1))) % n);
    reset(quiz);
    quiz.querySelector(".nl-quiz-input").focus();
  }

  function checkNumeric(quiz) {
    var input = quiz.querySelector(".nl-quiz-input");
    var given = parseNumbers(input.value);
    if (given === null) { say(quiz, null, FORMAT_MESSAGE); return null; }
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
    return correct;
  }

  register("numeric", {
    setUp: function (quiz) {
      var n = variants(quiz).length;
      if (n > 0) {
        var chosen = load(VARIANT_KEY)[quiz.dataset.quizId];
        applyVariant(quiz, typeof chosen === "number" ? chosen : Math.floor(Math.random() * n));
      }
      quiz.querySelector(".nl-quiz-input").addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); runCheck(quiz); }
      });
    },
    check: checkNumeric,
    reset: function (quiz) {
      var input = quiz.querySelector(".nl-quiz-input");
      input.value = "";
      input.removeAttribute("aria-invalid");
    },
  });

  // --- one quiz ---------------------------------------------------------------------
  function handler(quiz) { return HANDLERS[quiz.dataset.quizType] || {}; }

  function runCheck(quiz) {
    hideExplanations(quiz);
    var correct = handler(quiz).check(quiz);
    if (correct === true || correct === false) { recordResult(quiz.dataset.quizId, correct); }
  }

  function reset(quiz) {
    hideExplanations(quiz);
    say(quiz, null, "");
    $all(quiz, "input[type=radio], input[type=checkbox]").forEach(function (input) { input.checked = false; });
    if (handler(quiz).reset) { handler(quiz).reset(quiz); }
  }

  function setUp(quiz) {
    if (!HANDLERS[quiz.dataset.quizType]) { return; }  // a type this script does not know
    if (handler(quiz).setUp) { handler(quiz).setUp(quiz); }
    quiz.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button || !quiz.contains(button)) { return; }
      if (button.classList.contains("nl-quiz-check")) { runCheck(quiz); }
      else if (button.classList.contains("nl-quiz-reset")) { reset(quiz); }
      else if (button.classList.contains("nl-quiz-another")) { tryAnother(quiz); }
      else if (button.classList.contains("nl-quiz-reveal") && handler(quiz).reveal) {
        hideExplanations(quiz);
        handler(quiz).reveal(quiz);
      }
    });
    quiz.classList.add("nl-quiz-ready");
  }

  // --- the progress page ------------------------------------------------------------
  function element(tag, text, attrs) {
    var el = document.createElement(tag);
    if (text !== undefined && text !== null) { el.textContent = text; }
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    return el;
  }

  function renderProgress() {
    var data = document.getElementById("nl-quiz-index");
    var target = document.querySelector(".nl-quiz-progress");
    if (!data || !target) { return; }
    var index = JSON.parse(data.textContent);
    var progress = load(PROGRESS_KEY);
    var table = element("table", null, { "class": "nl-quiz-progress-table" });
    var head = element("tr");
    ["Chapter", "Questions", "Answered", "Right"].forEach(function (h) { head.appendChild(element("th", h, { scope: "col" })); });
    table.appendChild(element("thead")).appendChild(head);
    var body = table.appendChild(element("tbody"));
    var review = [];
    var totals = [0, 0, 0];
    index.chapters.forEach(function (chapter) {
      var answered = 0, right = 0;
      chapter.questions.forEach(function (q) {
        var result = progress[q.id];
        if (!result) { return; }
        answered += 1;
        if (result.right) { right += 1; } else { review.push({ chapter: chapter.title, q: q }); }
      });
      totals[0] += chapter.questions.length; totals[1] += answered; totals[2] += right;
      var row = element("tr");
      row.appendChild(element("th", chapter.title, { scope: "row" }));
      [chapter.questions.length, answered, right].forEach(function (n) { row.appendChild(element("td", String(n))); });
      row.dataset.chapter = chapter.title;
      body.appendChild(row);
    });
    var foot = element("tr");
    foot.appendChild(element("th", "Whole book", { scope: "row" }));
    totals.forEach(function (n) { foot.appendChild(element("td", String(n))); });
    table.appendChild(element("tfoot")).appendChild(foot);

    target.textContent = "";
    target.appendChild(element("p", "You have answered " + totals[1] + " of " + totals[0] +
      " questions; " + totals[2] + " right at your last try.", { "class": "nl-quiz-progress-summary" }));
    target.appendChild(element("div", null, { "class": "nl-quiz-progress-scroll", tabindex: "0", role: "region",
      "aria-label": "Questions by chapter" })).appendChild(table);
    target.appendChild(element("h2", "Review what you missed"));
    if (review.length === 0) {
      target.appendChild(element("p", totals[1] ? "Nothing: every question you answered was right at your last try."
        : "Nothing yet.", { "class": "nl-quiz-review-empty" }));
    } else {
      var list = target.appendChild(element("ul", null, { "class": "nl-quiz-review" }));
      review.forEach(function (item) {
        var li = list.appendChild(element("li"));
        li.appendChild(element("a", item.q.prompt || item.q.id, { href: item.q.url }));
        li.appendChild(document.createTextNode(" (" + item.chapter + (item.q.section ? ", " + item.q.section : "") + ")"));
      });
    }
    var clear = target.appendChild(element("button", "Forget my answers", { type: "button", "class": "nl-quiz-forget" }));
    clear.addEventListener("click", function () {
      save(PROGRESS_KEY, {});
      renderProgress();
    });
  }

  function setUpAll() {
    $all(document, ".nl-quiz").forEach(setUp);
    renderProgress();
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", setUpAll); }
  else { setUpAll(); }
})(typeof window !== "undefined" ? window : globalThis);
