// Follows background jobs shown as <progress data-job-url="…">: polls the job API and reloads the page
// when a job ends, so the roster's counts and links appear. No inline script: the CSP forbids it.
(function () {
  "use strict";
  var DONE = { succeeded: true, failed: true };
  function follow(bar) {
    var label = bar.parentNode.querySelector(".job-status");
    function poll() {
      fetch(bar.dataset.jobUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (job) {
          if (job.percent !== null && job.percent !== undefined) { bar.value = job.percent; }
          if (label) { label.textContent = job.status === "running" ? "导入中 " + (job.progress_done || 0) + " 行" : label.textContent; }
          if (DONE[job.status]) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    poll();
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("progress.job-progress").forEach(function (bar) {
      if (!DONE[bar.dataset.status]) { follow(bar); }
    });
  });
})();
