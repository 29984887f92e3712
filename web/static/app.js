// jingshao dashboard: charts from server-built ECharts options and htmx's CSRF header.
// Chart data arrives as JSON in <script type="application/json"> (rendered with Jinja's tojson), never
// as JavaScript built from strings, so crawled text can only ever be data.
(function () {
  "use strict";
  window.jingshaoCharts = window.jingshaoCharts || {};

  function yuan(v) {
    if (v === null || v === undefined || v === "-") return "-";
    var n = Array.isArray(v) ? v[1] : v;
    return typeof n === "number" ? "¥" + n.toFixed(2) : String(n);
  }

  function initChart(el) {
    if (!window.echarts || el.dataset.ready) return;
    var src = document.getElementById(el.dataset.option);
    if (!src) return;
    var option = JSON.parse(src.textContent);
    if (option.tooltip && el.dataset.unit === "yuan") option.tooltip.valueFormatter = yuan;
    if (el.dataset.unit === "yuan" && option.yAxis && !Array.isArray(option.yAxis)) {
      option.yAxis.axisLabel = Object.assign({}, option.yAxis.axisLabel || {}, { formatter: "¥{value}" });
    }
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(option);
    el.dataset.ready = "1";
    window.jingshaoCharts[el.id] = chart;
  }

  function initAll(root) {
    (root || document).querySelectorAll("[data-chart]").forEach(initChart);
  }

  document.addEventListener("DOMContentLoaded", function () { initAll(document); });
  document.addEventListener("htmx:afterSwap", function (ev) { initAll(ev.target); });
  window.addEventListener("resize", function () {
    Object.keys(window.jingshaoCharts).forEach(function (k) { window.jingshaoCharts[k].resize(); });
  });

  // Every htmx request carries the page's CSRF token as a header (forms also carry the hidden field).
  document.addEventListener("htmx:configRequest", function (ev) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) ev.detail.headers["X-CSRF-Token"] = meta.getAttribute("content");
  });

})();
