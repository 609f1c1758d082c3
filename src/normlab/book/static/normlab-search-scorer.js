/* Search ranking (html_search_scorer; Sphinx's default weights, plus one rule).
 * A glossary or index entry matching the query scores 100 and used to come first; a
 * reader who searches "pre-norm" wants the chapter titled "Pre-norm: ...". So a page
 * whose own title contains the query as a whole term comes first, then the rest in
 * Sphinx's order. */
var Scorer = {
  score: function (result) {
    var title = String(result[1] || "").split(" > ")[0].toLowerCase();
    var query = (new URLSearchParams(window.location.search).get("q") || "").trim().toLowerCase();
    if (!query) { return result[4]; }
    var escaped = query.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    var whole = new RegExp("(^|[^\\p{Letter}\\p{Number}_-])" + escaped + "($|[^\\p{Letter}\\p{Number}_-])", "u");
    return whole.test(title) && !result[2] ? result[4] + 1000 : result[4];
  },
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: { 0: 15, 1: 5, 2: -5 },
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2
};

/* Sphinx 7.4's search page appends makeSearchSummary(...) unchecked, and that returns null
 * for a hit whose anchor holds no text (the empty targets of index entries): the page then
 * throws "appendChild: parameter 1 is not of type 'Node'" once per such hit. This script is
 * inlined before searchtools.js, so this listener runs before the search starts. */
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Search === "undefined" || !Search.makeSearchSummary) { return; }
  var makeSummary = Search.makeSearchSummary;
  Search.makeSearchSummary = function () {
    return makeSummary.apply(this, arguments) || document.createTextNode("");
  };
});
