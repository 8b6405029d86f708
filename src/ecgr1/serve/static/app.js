// ecgr1 page: upload, read the Server-Sent Events of /v1/interpret/stream, show each part as it
// arrives. No framework, no external resources.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { result: null, png: null, report: null, id: "ecg", modelEngines: [] };

const GLOBAL_ROWS = [
  ["Heart rate", "heart_rate_bpm", "bpm"], ["PR interval", "pr_interval_ms", "ms"],
  ["QRS duration", "qrs_duration_ms", "ms"], ["QT interval", "qt_interval_ms", "ms"],
  ["QTc (Bazett)", "qtc_bazett_ms", "ms"], ["QTc (Fridericia)", "qtc_fridericia_ms", "ms"],
  ["P axis", "p_axis_deg", "°"], ["QRS axis", "qrs_axis_deg", "°"], ["T axis", "t_axis_deg", "°"],
  ["RR coefficient of variation", "rr_cv", ""], ["Beats", "n_beats", ""],
];
const LEAD_COLUMNS = [["P", "p_amplitude_mv"], ["Q", "q_amplitude_mv"], ["R", "r_amplitude_mv"],
  ["S", "s_amplitude_mv"], ["QRS ms", "qrs_duration_ms"], ["ST J+60", "st_j60_mv"], ["T", "t_amplitude_mv"]];

function fmt(value, unit) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") value = Math.abs(value) >= 10 ? value.toFixed(0) : value.toFixed(2);
  return unit ? `${value} ${unit}` : String(value);
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function clear(id) { const el = $(id); while (el.firstChild) el.removeChild(el.firstChild); return el; }

function showError(message, requestId) {
  const box = $("error");
  box.textContent = message + (requestId ? ` (request ${requestId})` : "");
  box.hidden = false;
  $("status").textContent = "";
}

function evidenceText(ev) {
  if (ev.text) return ev.text;
  const leads = ev.leads && ev.leads.length ? ` in ${ev.leads.join(", ")}` : "";
  const rule = ev.threshold !== null && ev.threshold !== undefined ? ` (${ev.operator} ${ev.threshold} ${ev.unit || ""})` : "";
  return `${ev.quantity.replaceAll("_", " ")}${leads}: ${fmt(ev.value, ev.unit)}${rule}`;
}

const handlers = {
  measurements(data) {
    const tbody = $("measurements").tBodies[0];
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    const g = data.global || {};
    for (const [label, key, unit] of GLOBAL_ROWS) {
      const row = tbody.insertRow(); cell(row, label); cell(row, fmt(g[key], unit));
    }
    const q = data.quality || {};
    const row = tbody.insertRow(); cell(row, "Signal quality"); cell(row, q.overall || "–");
    const lt = $("lead-table");
    lt.tHead.innerHTML = ""; lt.tBodies[0].innerHTML = "";
    const head = lt.tHead.insertRow();
    for (const name of ["Lead", ...LEAD_COLUMNS.map((c) => c[0])]) {
      const th = document.createElement("th"); th.textContent = name; head.appendChild(th);
    }
    for (const lead of data.lead_names || []) {
      const lm = (data.leads || {})[lead]; if (!lm) continue;
      const r = lt.tBodies[0].insertRow(); cell(r, lead);
      for (const [, key] of LEAD_COLUMNS) cell(r, fmt(lm[key]));
    }
  },
  statements(data) {
    const tbody = $("statements").tBodies[0];
    tbody.innerHTML = "";
    for (const st of data.items || []) {
      const row = tbody.insertRow();
      cell(row, st.label); cell(row, st.certainty); cell(row, st.code || "–");
      const ev = (st.evidence || []).filter((e) => e.met !== false).map(evidenceText);
      const td = cell(row, "");
      ev.forEach((t, i) => { if (i) td.appendChild(document.createElement("br")); td.appendChild(document.createTextNode(t)); });
    }
  },
  image(data) {
    state.png = data.png_base64;
    const img = $("ecg-image");
    img.src = "data:image/png;base64," + data.png_base64;
    img.hidden = false;
    $("download-png").disabled = false;
  },
  step(data) {
    const li = document.createElement("li");
    li.className = "step";
    const title = document.createElement("b"); title.textContent = `Step ${data.n}: ${data.title}`;
    const text = document.createElement("span"); text.textContent = data.text;
    li.appendChild(title); li.appendChild(text);
    $("steps").appendChild(li);
  },
  summary(data) { $("summary").textContent = data.text || "–"; $("summary").classList.remove("muted"); },
  answer(data) {
    $("answer").textContent = (data.labels || []).join("; ") || "(no answer)";
    $("answer-box").hidden = false;
  },
  verification(data) {
    $("verification-section").hidden = false;
    const s = data.summary || {};
    $("verification-summary").textContent =
      `${s.claims || 0} claims: ${s.supported || 0} supported, ${s.contradicted || 0} contradicted, ` +
      `${s.not_checkable || 0} not checkable. ${(data.notes || []).join(" ")}`;
    const tbody = $("verification").tBodies[0];
    tbody.innerHTML = "";
    for (const c of data.claims || []) {
      const row = tbody.insertRow();
      cell(row, c.text); cell(row, c.verdict.replace("_", " "), c.verdict);
      cell(row, c.measured === null || c.measured === undefined ? "–" : String(c.measured));
      cell(row, c.reason || "");
    }
  },
  report(data) { state.report = data.html; $("download-report").disabled = false; },
  done(data) {
    state.result = data.result;
    state.id = (data.result && data.result.id) || "ecg";
    $("engine-label").textContent = "Text written by the " + data.engine_label + ".";
    $("download-json").disabled = false;
    $("status").textContent = "done";
  },
  error(data) { showError(data.error || "the interpretation failed", data.request_id); },
};

function reset() {
  Object.assign(state, { result: null, png: null, report: null });
  $("error").hidden = true;
  $("results").hidden = false;
  for (const id of ["steps"]) clear(id);
  for (const id of ["measurements", "statements", "verification", "lead-table"]) $(id).tBodies[0].innerHTML = "";
  $("summary").textContent = "…"; $("answer").textContent = ""; $("answer-box").hidden = true;
  $("ecg-image").hidden = true; $("verification-section").hidden = true; $("engine-label").textContent = "";
  for (const id of ["download-json", "download-png", "download-report"]) $(id).disabled = true;
}

async function readEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (!data) continue;
      const handler = handlers[name];
      if (handler) handler(JSON.parse(data));
    }
  }
}

async function submit(event) {
  event.preventDefault();
  const files = $("files").files, image = $("image").files;
  if (!files.length && !image.length) { showError("choose the record's files, an image, or both"); return; }
  if (!files.length && !state.modelEngines.length) {
    showError("interpreting an image needs a model engine; this server has none (start it with " +
      "--model DIR or --model-url URL). Upload the ECG signal for the protocol engine.");
    return;
  }
  const form = new FormData();
  for (const f of files) form.append("files", f, f.name);
  if (image.length) form.append("image", image[0], image[0].name);
  for (const id of ["age", "sex", "fs", "units", "leads", "engine"]) {
    const v = $(id).value.trim(); if (v) form.append(id, v);
  }
  reset();
  $("status").textContent = "interpreting…";
  $("submit").disabled = true;
  try {
    const response = await fetch("/v1/interpret/stream", { method: "POST", body: form });
    if (!response.ok) {
      let body = {}; try { body = await response.json(); } catch (e) { body = {}; }
      $("results").hidden = true;
      showError(body.error || `HTTP ${response.status}`, body.request_id || response.headers.get("X-Request-ID"));
      return;
    }
    await readEvents(response);
  } catch (e) {
    showError("the connection failed: " + e);
  } finally {
    $("submit").disabled = false;
  }
}

function download(name, blob) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob); a.download = name;
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function base64Blob(b64, type) {
  const bytes = atob(b64); const arr = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) arr[i] = bytes.charCodeAt(i);
  return new Blob([arr], { type });
}

async function loadEngines() {
  try {
    const info = await (await fetch("/v1/version")).json();
    const select = $("engine");
    for (const name of info.engines) {
      const option = document.createElement("option");
      option.value = name; option.textContent = `${name}: ${info.engine_labels[name]}`;
      if (name === info.default_engine) option.selected = true;
      select.appendChild(option);
    }
    state.modelEngines = info.engines.filter((e) => e !== "protocol");
    $("engines").textContent = `ecgr1 ${info.ecgr1}; engines: ${info.engines.join(", ")}`;
    if (!state.modelEngines.length) {
      $("image-hint").textContent = "Image interpretation needs a model engine (this server has none): " +
        "an image alone is refused; send the signal too.";
    }
  } catch (e) { showError("the server did not answer /v1/version: " + e); }
}

document.addEventListener("DOMContentLoaded", () => {
  $("upload").addEventListener("submit", submit);
  $("download-json").addEventListener("click", () =>
    download(`${state.id}.json`, new Blob([JSON.stringify(state.result, null, 1)], { type: "application/json" })));
  $("download-png").addEventListener("click", () => download(`${state.id}.png`, base64Blob(state.png, "image/png")));
  $("download-report").addEventListener("click", () =>
    download(`${state.id}-report.html`, new Blob([state.report], { type: "text/html" })));
  loadEngines();
});
