// slicelab: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }
  ready(function () {
    // A select that submits its form when changed (team switcher).
    document.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
      sel.addEventListener("change", function () { sel.form.submit(); });
    });
    // Buttons that ask before they do something that cannot be undone.
    document.querySelectorAll("[data-confirm]").forEach(function (el) {
      el.addEventListener("click", function (ev) {
        if (!window.confirm(el.getAttribute("data-confirm"))) ev.preventDefault();
      });
    });
    // The allocation survey: a running total that turns green at 100 %.
    document.querySelectorAll("form[data-total]").forEach(function (form) {
      var out = document.getElementById(form.getAttribute("data-total"));
      var inputs = form.querySelectorAll("input[type=number]");
      function update() {
        var sum = 0;
        inputs.forEach(function (i) { var v = parseInt(i.value, 10); if (!isNaN(v)) sum += v; });
        out.textContent = sum + " %";
        out.parentNode.classList.toggle("total-ok", sum === 100);
        out.parentNode.classList.toggle("total-off", sum !== 100);
        var hint = document.getElementById(form.getAttribute("data-total") + "-hint");
        if (hint) hint.textContent = sum === 100 ? "Adds up to 100 %: ready to save." : (sum < 100 ? (100 - sum) + " % left to place." : (sum - 100) + " % too much.");
      }
      inputs.forEach(function (i) { i.addEventListener("input", update); });
      update();
    });
  });
})();
