// The upload page: create an upload, PUT each file with byte progress, finish, then
// follow the registration job until the pipeline has decided. Plain JavaScript, no
// framework; every text shown is set with textContent (never as HTML).
"use strict";
(function () {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const $ = (id) => document.getElementById(id);
  const STEPS = ["ingest", "scan", "identity", "fingerprint", "lineage", "decide"];

  function say(text) {
    const box = $("upload-status");
    box.className = ""; box.setAttribute("role", "status");
    box.textContent = text;
  }
  // a failure is an error box announced at once (role=alert), not a line of status text
  function fail(text) {
    const box = $("upload-status");
    box.className = "alert upload-error"; box.setAttribute("role", "alert");
    box.textContent = text;
  }
  function encodePath(p) { return p.split("/").map(encodeURIComponent).join("/"); }
  function human(n) {
    const u = ["bytes", "KiB", "MiB", "GiB"]; let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + u[i];
  }

  async function api(method, url, body) {
    const r = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.error || (method + " " + url + ": HTTP " + r.status));
    return data;
  }

  function put(url, file, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded); };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) { onProgress(file.size); resolve(); }
        else {
          let msg = "HTTP " + xhr.status;
          try { const d = JSON.parse(xhr.responseText); msg = d.error || msg; } catch (_) {}
          reject(new Error(file.name + ": " + msg));
        }
      };
      xhr.onerror = () => reject(new Error(file.name + ": network error"));
      xhr.send(file);
    });
  }

  function chosen() {
    const folder = Array.from($("folder").files || []);
    const files = Array.from($("files").files || []);
    const out = [];
    for (const f of folder) {
      const rel = f.webkitRelativePath || f.name;
      out.push({ file: f, path: rel.includes("/") ? rel.slice(rel.indexOf("/") + 1) : rel });
    }
    for (const f of files) out.push({ file: f, path: f.name });
    return out;
  }

  function showSteps(job) {
    const at = job && job.step ? STEPS.indexOf(job.step) : -1;
    for (const li of document.querySelectorAll("#steps li")) {
      const i = STEPS.indexOf(li.dataset.step);
      let state = "waiting";
      if (job && (job.step === "done" || job.state === "done")) state = "done";
      else if (at >= 0 && i < at) state = "done";
      else if (i === at) state = job.state === "failed" ? "failed" : "running";
      li.className = state;
      li.querySelector(".step-state").textContent = state;
    }
  }

  async function follow(id) {
    for (;;) {
      const u = await api("GET", "/api/v1/uploads/" + id);
      showSteps(u.job);
      if (u.state === "done") return u;
      if (u.state === "failed" || u.state === "aborted") {
        throw new Error("registration " + u.state + ": " + (u.error || (u.job && u.job.error) || "unknown error"));
      }
      say("Registering: " + ((u.job && u.job.step) || u.state) + "…");
      await new Promise((r) => setTimeout(r, 400));
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const items = chosen();
    if (!items.length) { fail("Choose a folder or some files first."); $("progress-area").hidden = false; return; }
    $("start").disabled = true;
    $("progress-area").hidden = false;
    $("upload-result").hidden = true;
    const total = items.reduce((s, it) => s + it.file.size, 0);
    const sent = new Array(items.length).fill(0);
    const tbody = document.querySelector("#file-table tbody");
    tbody.textContent = "";
    const rows = items.map((it, i) => {
      const tr = document.createElement("tr");
      const name = document.createElement("td"); name.textContent = it.path;
      const bar = document.createElement("progress"); bar.max = Math.max(it.file.size, 1); bar.value = 0;
      bar.setAttribute("aria-label", "Progress of " + it.path);
      const cell = document.createElement("td"); cell.appendChild(bar);
      const state = document.createElement("td"); state.textContent = "waiting";
      tr.append(name, cell, state); tbody.appendChild(tr);
      return { bar, state, i };
    });
    const totalBar = $("total-progress");
    totalBar.max = Math.max(total, 1);
    function update() {
      const done = sent.reduce((a, b) => a + b, 0);
      totalBar.value = done;
      $("total-text").textContent = human(done) + " of " + human(total);
    }
    update();
    showSteps(null);
    try {
      say("Creating the upload…");
      const up = await api("POST", "/api/v1/uploads", { model: $("model").value.trim(), access: $("access").value });
      for (let i = 0; i < items.length; i++) {
        const it = items[i], row = rows[i];
        row.state.textContent = "sending";
        say("Sending " + it.path + " (" + (i + 1) + " of " + items.length + ")…");
        await put("/api/v1/uploads/" + up.id + "/files/" + encodePath(it.path), it.file, (n) => {
          sent[i] = n; row.bar.value = n; update();
        });
        row.state.textContent = "sent";
      }
      say("Starting the pipeline…");
      await api("POST", "/api/v1/uploads/" + up.id + "/finish");
      const done = await follow(up.id);
      showSteps({ step: "done", state: "done" });
      const name = (done.version || "").split("@");
      const link = document.createElement("a");
      link.href = "/models/" + encodePath(name[0]) + (name[1] ? "?v=" + encodeURIComponent(name[1]) : "");
      link.textContent = done.version;
      const res = $("upload-result");
      res.textContent = "Registered ";
      res.appendChild(link);
      res.append(" — status: " + String(done.status || "").replace("_", " "));
      res.hidden = false;
      say("Done: " + done.version + " is " + String(done.status || "").replace("_", " ") + ".");
    } catch (e) {
      fail("Upload failed: " + e.message);
    } finally {
      $("start").disabled = false;
    }
  });
})();
