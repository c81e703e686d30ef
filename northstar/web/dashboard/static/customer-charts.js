// Customer-health charts (lifecycle bars with churn, NPS with its interval, journeys as a Sankey,
// active persons), registered for static/charts.js, which draws every data-chart element from
// the JSON the server rendered into the page. Targets are drawn as dashed reference lines.
(function () {
  "use strict";
  var TEXT = { color: "#334155", fontFamily: "system-ui, sans-serif" };
  var COLOURS = { "new": "#16a34a", returning: "#2563eb", resurrecting: "#9333ea", dormant: "#dc2626" };

  function base() {
    return { animation: false, textStyle: TEXT, tooltip: { trigger: "axis", renderMode: "richText" },
             legend: { top: 0, type: "scroll" }, grid: { left: 24, right: 56, top: 36, bottom: 24, containLabel: true } };
  }

  // [{label, value}] -> markLine of dashed horizontal lines, labelled.
  function targets(lines) {
    return { silent: true, symbol: "none", lineStyle: { color: "#ca8a04", type: "dashed" },
             label: { formatter: "{b}", position: "insideEndTop" },
             data: (lines || []).map(function (line) { return { name: line.label, yAxis: line.value }; }) };
  }

  var builders = {
    // {dates, new, returning, resurrecting, dormant, churn, targets}: stacked bars (dormant below zero), churn line.
    lifecycle: function (spec) {
      var option = base();
      option.xAxis = { type: "category", data: spec.dates };
      option.yAxis = [{ type: "value" },
                      { type: "value", axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } },
                        min: 0, splitLine: { show: false } }];
      option.series = ["new", "returning", "resurrecting", "dormant"].map(function (status) {
        return { name: status, type: "bar", stack: "lifecycle", color: COLOURS[status],
                 data: spec[status].map(function (v) { return status === "dormant" ? -v : v; }) };
      });
      option.series.push({ name: "churn rate", type: "line", yAxisIndex: 1, data: spec.churn, color: "#0f172a",
                           connectNulls: false, markLine: targets(spec.targets) });
      return option;
    },
    // {dates, series: [{name, values}], targets}: lines (active persons).
    actives: function (spec) {
      var option = base();
      option.xAxis = { type: "category", data: spec.dates, boundaryGap: false };
      option.yAxis = { type: "value", minInterval: 1 };
      option.series = spec.series.map(function (one, index) {
        return { name: one.name, type: "line", data: one.values, showSymbol: false,
                 markLine: index === 0 ? targets(spec.targets) : undefined };
      });
      return option;
    },
    // {dates, nps, low, high, targets}: NPS per interval with its 95% interval as a band.
    nps: function (spec) {
      var option = base();
      option.xAxis = { type: "category", data: spec.dates, boundaryGap: false };
      option.yAxis = { type: "value", min: -100, max: 100 };
      option.series = [
        { name: "low", type: "line", data: spec.low, stack: "band", symbol: "none", lineStyle: { opacity: 0 },
          tooltip: { show: false }, silent: true },
        { name: "95% interval", type: "line", stack: "band", symbol: "none", silent: true, lineStyle: { opacity: 0 },
          areaStyle: { color: "#2563eb", opacity: 0.15 }, tooltip: { show: false },
          data: spec.high.map(function (high, i) { return high == null || spec.low[i] == null ? null : high - spec.low[i]; }) },
        { name: "NPS", type: "line", data: spec.nps, color: "#2563eb", markLine: targets(spec.targets) }
      ];
      option.legend.data = ["NPS"];
      return option;
    },
    // {rows: [{label, nps, low, high}], targets}: NPS by segment with interval whiskers.
    segments: function (spec) {
      var option = base();
      option.tooltip = { trigger: "item", renderMode: "richText" };
      option.xAxis = { type: "category", data: spec.rows.map(function (r) { return r.label; }) };
      option.yAxis = { type: "value", min: -100, max: 100 };
      option.series = [
        { name: "NPS", type: "bar", data: spec.rows.map(function (r) { return r.nps; }), color: "#2563eb",
          markLine: targets(spec.targets) },
        { name: "95% interval", type: "custom", silent: true,
          data: spec.rows.map(function (r, i) { return [i, r.low, r.high]; }),
          renderItem: function (params, api) {
            if (api.value(1) == null || api.value(2) == null || isNaN(api.value(1))) { return null; }
            var low = api.coord([api.value(0), api.value(1)]), high = api.coord([api.value(0), api.value(2)]);
            return { type: "line", shape: { x1: low[0], y1: low[1], x2: high[0], y2: high[1] },
                     style: { stroke: "#0f172a", lineWidth: 2 } };
          } }
      ];
      option.legend = { show: false };
      return option;
    },
    // {nodes: [name], links: [{source, target, value}]}: journeys.
    sankey: function (spec) {
      return { animation: false, textStyle: TEXT, tooltip: { trigger: "item", renderMode: "richText" },
               series: [{ type: "sankey", data: spec.nodes.map(function (n) { return { name: n }; }), links: spec.links,
                          emphasis: { focus: "adjacency" }, nodeAlign: "left", left: 8, right: 140,
                          lineStyle: { color: "gradient", opacity: 0.35 }, label: { fontSize: 11 } }] };
    }
  };
  window.NorthstarChartBuilders = window.NorthstarChartBuilders || {};
  Object.keys(builders).forEach(function (kind) { window.NorthstarChartBuilders[kind] = builders[kind]; });
})();
