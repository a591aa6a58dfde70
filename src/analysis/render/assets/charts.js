/* Draws the report's plotly charts (inlined once by analysis.render.export, after plotly.js).
   window.analysisChart(el, fig, config, narrow):
   - below NARROW px of plot width (a phone) the chart takes its narrow layout: labels
     rewrapped shorter and smaller text, given by the report as `narrow` overrides;
   - value labels sit past their bars, outside the axes: after each drawing the right margin
     grows until every label lies inside the chart's SVG (a bar at 100% with "[low]" too);
   - on a resize or before printing, the chart is redrawn at its new width and refitted. */
(function () {
  "use strict";
  var NARROW = 560;
  var charts = [];

  function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }

  function merge(base, over) {
    var out = Object.assign({}, base);
    Object.keys(over || {}).forEach(function (k) {
      out[k] = isObject(over[k]) && isObject(base[k]) ? merge(base[k], over[k]) : over[k];
    });
    return out;
  }

  function variant(c) {
    return c.narrow && c.el.clientWidth < NARROW ? "narrow" : "wide";
  }

  function figureFor(c, v) {
    if (v !== "narrow") return { data: c.fig.data, layout: c.fig.layout };
    var size = c.narrow.text_size;
    var data = c.fig.data.map(function (t) {
      return size && t.mode === "text" ? merge(t, { textfont: { size: size } }) : t;
    });
    return { data: data, layout: merge(c.fig.layout, c.narrow.layout || {}) };
  }

  /* How far (px) the value labels reach past the right edge of the chart's SVG. */
  function overflow(el) {
    var svg = el.querySelector("svg.main-svg");
    if (!svg) return 0;
    var right = svg.getBoundingClientRect().right;
    var over = 0;
    el.querySelectorAll("g.textpoint text, g.annotation text").forEach(function (t) {
      var r = t.getBoundingClientRect();
      if (r.width) over = Math.max(over, r.right - right);
    });
    return over;
  }

  function fit(c, tries) {
    var over = overflow(c.el);
    if (over <= 0 || !tries) return Promise.resolve();
    var r = c.el._fullLayout.margin.r + Math.ceil(over) + 6;
    return window.Plotly.relayout(c.el, { "margin.r": r }).then(function () {
      return fit(c, tries - 1);
    });
  }

  function draw(c) {
    c.shown = variant(c);
    var f = figureFor(c, c.shown);
    return window.Plotly.react(c.el, f.data, f.layout, c.config).then(function () {
      return fit(c, 3);
    });
  }

  function redrawAll() {
    charts.forEach(function (c) {
      if (variant(c) !== c.shown) {
        draw(c);
      } else {
        window.Plotly.Plots.resize(c.el).then(function () { return fit(c, 3); });
      }
    });
  }

  var timer = null;
  window.addEventListener("resize", function () {
    clearTimeout(timer);
    timer = setTimeout(redrawAll, 150);
  });
  // Printing from a browser lays the page out again at the paper's width: redraw for it.
  window.addEventListener("beforeprint", redrawAll);
  if (window.matchMedia) {
    var print = window.matchMedia("print");
    var onPrint = function (e) { if (e.matches) redrawAll(); };
    if (print.addEventListener) print.addEventListener("change", onPrint);
    else if (print.addListener) print.addListener(onPrint);
  }

  window.analysisChart = function (el, fig, config, narrow) {
    var c = { el: el, fig: fig, config: Object.assign({}, config, { responsive: false }),
              narrow: narrow || null, shown: null };
    charts.push(c);
    return draw(c);
  };
})();
