// Draws the history charts with the vendored Chart.js from the JSON block on the page;
// the same numbers stand in a table under each chart.
(function () {
  "use strict";

  function draw(chart) {
    var canvas = document.getElementById("chart-" + chart.id);
    if (!canvas) { return; }
    var percent = Boolean(chart.percent);
    /* global Chart */
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: chart.labels,
        datasets: chart.series.map(function (series) {
          return {
            type: series.kind, label: series.label, data: series.values,
            backgroundColor: series.colour, borderColor: series.colour,
            spanGaps: true, pointRadius: 3
          };
        })
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: {
          x: { stacked: chart.stacked },
          y: { stacked: chart.stacked, beginAtZero: true, max: percent ? 100 : undefined,
               ticks: { precision: 0 } }
        }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var block = document.getElementById("history-data");
    if (!block || !window.Chart) { return; }
    JSON.parse(block.textContent).forEach(draw);
  });
}());
