// Paquetería's own script: what htmx does not do. No inline script is
// allowed by the pages' Content-Security-Policy, so this file is all of it.
(function () {
  "use strict";

  // A form with data-confirm asks before it is sent (actions that cannot
  // be undone: deliver, cancel, return).
  // A button with data-confirm-button asks the same for itself only (the
  // bulk form's "discard", beside its "retry").
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var button = e.submitter;
    var question = (button && button.dataset && button.dataset.confirmButton) ||
      (form instanceof HTMLFormElement && form.dataset.confirm);
    if (question && !window.confirm(question)) {
      e.preventDefault();
    }
  }, true);

  // The parcel's upload form: a file dropped on it or chosen is sent with
  // a progress bar and the CSRF token in a header; the attachments list
  // then refreshes itself (htmx, "attachments-changed").
  function setUp(form) {
    if (form.dataset.ready) return;
    form.dataset.ready = "1";
    var input = form.querySelector("input[type=file]");
    var bar = form.querySelector("progress");
    var status = form.querySelector("[role=status]");
    var zone = form.querySelector(".dropzone");

    function send(file) {
      var data = new FormData();
      data.append("file", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
      xhr.setRequestHeader("Accept", "application/json");
      bar.hidden = false;
      bar.value = 0;
      status.textContent = file.name;
      xhr.upload.addEventListener("progress", function (ev) {
        if (ev.lengthComputable) bar.value = Math.round((ev.loaded / ev.total) * 100);
      });
      xhr.addEventListener("load", function () {
        bar.hidden = true;
        if (xhr.status === 202) {
          status.textContent = form.dataset.sent + " " + file.name;
          input.value = "";
          document.body.dispatchEvent(new CustomEvent("attachments-changed"));
        } else {
          var why = "";
          try {
            why = String(JSON.parse(xhr.responseText).detail || "");
          } catch (_) { why = xhr.statusText; }
          status.textContent = form.dataset.refused + " " + why;
        }
      });
      xhr.addEventListener("error", function () {
        bar.hidden = true;
        status.textContent = form.dataset.refused;
      });
      xhr.send(data);
    }

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (input.files.length > 0) send(input.files[0]);
    });
    input.addEventListener("change", function () {
      if (input.files.length > 0) send(input.files[0]);
    });
    ["dragenter", "dragover"].forEach(function (t) {
      zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      zone.addEventListener(t, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length > 0) send(e.dataTransfer.files[0]);
    });
  }

  function init() {
    document.querySelectorAll("form#upload").forEach(setUp);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
