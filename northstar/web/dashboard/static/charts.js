// The dashboard's charts: each element with data-chart="ID" is drawn with Apache ECharts from the
// JSON in <script type="application/json" id="ID"> that the server rendered into the page. No
// request is made: the numbers are the page's. Canvas rendering and rich-text tooltips, so
// nothing needs an inline style under the page's Content-Security-Policy.
(function () {
  "use strict";
  var PALETTE = ["#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777"];
  var VERDICT = { win: "#16a34a", loss: "#dc2626", inconclusive: "#64748b", suppressed: "#94a3b8" };
  var TEXT = { color: "#334155", fontFamily: "system-ui, sans-serif" };

  function percent(value) {
    return (value > 0 ? "+" : "") + (value * 100).toFixed(Math.abs(value) < 0.1 ? 1 : 0) + "%";
  }

  function base(spec) {
    return {
      animation: false,
      color: PALETTE,
      textStyle: TEXT,
      grid: { left: 24, right: 48, top: 36, bottom: 24, containLabel: true },
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { top: 0, type: "scroll" }
    };
  }

  var BUILDERS = {
    // {dates, series: [{name, values}]}: one line per series.
    trend: function (spec) {
      var option = base(spec);
      option.xAxis = { type: "category", data: spec.dates, boundaryGap: false };
      option.yAxis = { type: "value" };
      option.series = spec.series.map(function (one) {
        return { name: one.name, type: "line", data: one.values, showSymbol: spec.dates.length <= 60 };
      });
      return option;
    },
    // {days, series: [{name, values}]}: grouped bars per day.
    bars: function (spec) {
      var option = base(spec);
      option.xAxis = { type: "category", data: spec.days };
      option.yAxis = { type: "value", minInterval: 1 };
      option.series = spec.series.map(function (one) { return { name: one.name, type: "bar", data: one.values }; });
      return option;
    },
    // {days, y_span, series: [{name, effect, low, high}]}: cumulative relative lift with its interval as a band.
    lift: function (spec) {
      var option = base(spec);
      option.xAxis = { type: "category", data: spec.days, boundaryGap: false };
      // The server fits the axis to what is readable: the first days' huge intervals are clipped.
      option.yAxis = { type: "value", axisLabel: { formatter: percent }, min: -spec.y_span, max: spec.y_span };
      option.tooltip.valueFormatter = function (value) { return value == null ? "–" : percent(value); };
      option.series = [];
      spec.series.forEach(function (one, index) {
        var colour = PALETTE[(index + 1) % PALETTE.length];
        var stack = "band" + index;
        option.series.push({ name: one.name + " low", type: "line", data: one.low, stack: stack, stackStrategy: "all", symbol: "none",
                             lineStyle: { opacity: 0 }, tooltip: { show: false }, silent: true });
        option.series.push({ name: one.name + " interval", type: "line", stack: stack, stackStrategy: "all", symbol: "none", silent: true,
                             data: one.high.map(function (high, day) {
                               return high == null || one.low[day] == null ? null : high - one.low[day];
                             }),
                             lineStyle: { opacity: 0 }, areaStyle: { color: colour, opacity: 0.15 },
                             tooltip: { show: false } });
        option.series.push({ name: one.name, type: "line", data: one.effect, color: colour, showSymbol: spec.days.length === 1,
                             endLabel: { show: true, formatter: function () { return one.name; } },
                             markLine: { silent: true, symbol: "none", data: [{ yAxis: 0 }],
                                         lineStyle: { color: "#94a3b8", type: "dashed" }, label: { show: false } } });
      });
      option.legend.data = spec.series.map(function (one) { return one.name; });
      return option;
    },
    // {rows: [{label, estimate, low, high, verdict}]}: relative lift and interval per row around zero.
    forest: function (spec) {
      var option = base(spec);
      var labels = spec.rows.map(function (row) { return row.label; });
      option.legend = { show: false };
      option.tooltip = { trigger: "item", renderMode: "richText" };
      option.grid.left = 16;
      option.xAxis = { type: "value", axisLabel: { formatter: percent }, scale: true };
      option.yAxis = { type: "category", data: labels, inverse: true,
                       axisLabel: { width: 260, overflow: "truncate" } };
      option.series = [
        { name: "interval", type: "custom", silent: true,
          data: spec.rows.map(function (row, index) { return [index, row.low, row.high, row.verdict]; }),
          encode: { x: [1, 2], y: 0 },
          renderItem: function (params, api) {
            if (api.value(1) == null || api.value(2) == null || isNaN(api.value(1))) { return null; }
            var start = api.coord([api.value(1), api.value(0)]);
            var end = api.coord([api.value(2), api.value(0)]);
            return { type: "line", shape: { x1: start[0], y1: start[1], x2: end[0], y2: end[1] },
                     style: { stroke: VERDICT[spec.rows[params.dataIndex].verdict] || "#64748b", lineWidth: 3 } };
          } },
        { name: "relative lift", type: "scatter", symbolSize: 10,
          data: spec.rows.map(function (row, index) {
            return { value: [row.estimate, index], itemStyle: { color: VERDICT[row.verdict] || "#64748b" } };
          }),
          tooltip: { formatter: function (item) { return labels[item.value[1]] + ": " + percent(item.value[0]); } },
          markLine: { silent: true, symbol: "none", data: [{ xAxis: 0 }],
                      lineStyle: { color: "#94a3b8", type: "dashed" }, label: { show: false } } }
      ];
      return option;
    }
  };

  function draw() {
    var elements = document.querySelectorAll("[data-chart]");
    for (var i = 0; i < elements.length; i++) {
      var element = elements[i];
      var data = document.getElementById(element.getAttribute("data-chart"));
      if (!data) { continue; }
      var spec = JSON.parse(data.textContent);
      var chart = echarts.init(element, null, { renderer: "canvas" });
      var builder = BUILDERS[spec.kind] || (window.NorthstarChartBuilders || {})[spec.kind];  // others register
      chart.setOption(builder(spec));
    }
    window.addEventListener("resize", function () {
      for (var j = 0; j < elements.length; j++) {
        var instance = echarts.getInstanceByDom(elements[j]);
        if (instance) { instance.resize(); }
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
