// The registry console: one view per hash route (#/executions, #/executions/ID, #/models,
// #/models/GROUP, #/endpoint, #/upload), each refreshed from mmp's JSON API while it is shown.
// No libraries and no network beyond mmp itself, so it works offline.

// What /api/info says of the deployment: `local` is false for `mmp --target aws up`, whose
// pages have no job logs, stop and retry, or serving-process memory (those are SageMaker's).
const target = { local: true, kind: "local", refreshMs: 1500 };
const CHANGE_HEADER = "x-mmp-console";
const $view = document.getElementById("view");
const $banner = document.getElementById("banner");

// ---- DOM and formatting helpers ---------------------------------------------------------

/** Builds an element: attributes (on* are listeners) and children (strings, nodes, arrays). */
function h(tag, attrs = {}, ...children) {
  const svg = ["svg", "g", "rect", "path", "line", "text", "polyline", "title", "circle"].includes(tag);
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** `el.replaceChildren(...)` with h's rules for children: a `null` there would become the
 * text "null" (the DOM stringifies it), so absent parts are skipped as h skips them. */
function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

const pill = (status, testid) => h("span", { class: `pill s-${status}`, "data-testid": testid }, words(status));
const words = (s) => ({ PendingManualApproval: "Pending approval", NotStarted: "Not started", InProgress: "In progress" })[s] || s;
const terminal = (s) => ["Succeeded", "Failed", "Stopped", "Completed"].includes(s);

function fmtTime(ms) {
  if (!ms) return "";
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function fmtDuration(start, end) {
  if (!start) return "";
  const s = Math.max(0, ((end || Date.now()) - start) / 1000);
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, "0")} s`;
}

function fmtBytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** A metric's value: evaluation.json keeps `{"value": v}`; NaN arrives as a string or null. */
function metricValue(m) {
  const v = m && typeof m === "object" ? m.value : m;
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}
const fmtNum = (v) => (v === null ? "—" : Math.abs(v) >= 1000 ? v.toFixed(1) : v.toFixed(4));

function empty(title, ...hint) {
  return h("div", { class: "empty", "data-testid": "empty" }, h("strong", {}, title), ...hint);
}

/** A message over the page. Failed refreshes are `transient`: the next good one clears them;
 *  the outcome of something the user did stays until they go to another page. */
function showBanner(message, kind = "error", transient = false) {
  $banner.dataset.transient = transient ? "1" : "";
  $banner.textContent = message;
  $banner.className = `banner ${kind === "error" ? "" : "info"}`;
  $banner.hidden = false;
  $banner.dataset.testid = kind === "error" ? "error-banner" : "info-banner";
}
const clearBanner = () => { $banner.hidden = true; };

// ---- API --------------------------------------------------------------------------------

/** Calls mmp's API; failures become Errors carrying the server's own words. */
async function api(path, init = {}) {
  const headers = { ...(init.headers || {}) };
  if (init.method && init.method !== "GET") headers[CHANGE_HEADER] = "1";
  let response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch {
    throw new Error("mmp is not answering: is `mmp up` still running?");
  }
  const text = await response.text();
  let body = text;
  try { body = JSON.parse(text); } catch { /* plain text */ }
  if (!response.ok) {
    throw new Error(body && body.error ? body.error : `${response.status} ${response.statusText}: ${text}`);
  }
  return body;
}

/** Whether `data` differs from what was last drawn from `memo`. Unchanged pages are left as
 *  they are, so a text selection or a click in progress survives the refresh; `running` pages
 *  are redrawn anyway, so their durations tick. */
function changed(memo, data, running = false) {
  const key = JSON.stringify(data);
  if (key === memo.drawn && !running) return false;
  memo.drawn = key;
  return true;
}

// ---- router -----------------------------------------------------------------------------

const routes = [
  [/^#\/executions\/([^/]+)$/, (m) => executionView(decodeURIComponent(m[1]))],
  [/^#\/executions$/, () => executionsView()],
  [/^#\/models\/([^/]+)$/, (m) => groupView(decodeURIComponent(m[1]))],
  [/^#\/models$/, () => modelsView()],
  [/^#\/endpoint$/, () => endpointView()],
  [/^#\/upload$/, () => uploadView()],
];

let current = null;
let timer = null;

async function refresh() {
  if (!current || !current.refresh || document.hidden) return;
  const view = current;
  try {
    await view.refresh();
    if (view === current && $banner.dataset.transient) clearBanner();
  } catch (e) {
    if (view === current) showBanner(e.message, "error", true);
  }
}

function route() {
  const hash = location.hash || "#/executions";
  clearInterval(timer);
  // A message meant for the next page (after an upload) stays there; others go.
  if ($banner.dataset.keepOnce) delete $banner.dataset.keepOnce;
  else clearBanner();
  const match = routes.map(([re, make]) => [hash.match(re), make]).find(([m]) => m);
  current = match ? match[1](match[0]) : { el: empty("No such page", "Pick one above.") };
  $view.replaceChildren(current.el);
  const section = hash.split("/")[1];
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === section);
  refresh();
  timer = setInterval(refresh, target.refreshMs);
}


// ---- executions -------------------------------------------------------------------------

function executionsView() {
  const memo = {};
  const body = h("div");
  const filter = h("select", { "data-testid": "dataset-filter", "aria-label": "dataset", onchange: () => refresh() },
    h("option", { value: "" }, "all datasets"));
  const el = h("section", {}, h("h1", {}, "Pipeline executions"),
    h("p", { class: "muted" }, "Every upload starts one. Newest first; this page updates itself. Show ", filter), body);
  return {
    el,
    async refresh() {
      const q = filter.value ? `?dataset=${encodeURIComponent(filter.value)}` : "";
      const answer = await api(`/api/executions${q}`);
      if (!changed(memo, answer, answer.executions.some((e) => e.status === "Executing"))) return;
      const { executions: list, total, datasets, rejected_uploads: rejected = [] } = answer;
      const options = ["", ...datasets];
      if ([...filter.options].map((o) => o.value).join() !== options.join()) {
        const keep = filter.value;
        filter.replaceChildren(...options.map((d) => h("option", { value: d, selected: d === keep }, d || "all datasets")));
      }
      const refused = rejectedUploads(rejected);
      if (!list.length) {
        fill(body, empty("No executions yet",
          "Upload a dataset from the ", h("a", { href: "#/upload" }, "Upload"), " page or with ",
          h("code", {}, "mmp upload FILE.csv --dataset NAME"), "."), refused);
        return;
      }
      fill(body, h("table", { "data-testid": "executions-table" },
        h("thead", {}, h("tr", {}, ["Execution", "Dataset", "Status", "Started", "Duration", "Failure reason"].map((t) => h("th", {}, t)))),
        h("tbody", {}, list.map((e) => h("tr", {
          class: "selectable", "data-execution": e.id,
          onclick: () => { location.hash = `#/executions/${encodeURIComponent(e.id)}`; },
        },
        h("td", {}, h("a", { href: `#/executions/${encodeURIComponent(e.id)}`, class: "mono" }, e.id)),
        h("td", {}, e.dataset || ""),
        h("td", {}, pill(e.status, "execution-status")),
        h("td", {}, fmtTime(e.created_ms)),
        h("td", { class: "num" }, e.ended_ms || !terminal(e.status) ? fmtDuration(e.created_ms, e.ended_ms) : ""),
        h("td", {}, e.failure_reason || ""))))),
        total > list.length ? h("p", { class: "muted" }, `The newest ${list.length} of ${total}; `, h("code", {}, "mmp executions"), " lists them all.") : null,
        refused);
    },
  };
}

/** Uploads the trigger refused: they started no execution, and this says why. */
function rejectedUploads(rejected) {
  if (!rejected.length) return null;
  return h("div", { "data-testid": "rejected-uploads" },
    h("h2", {}, "Rejected uploads"),
    h("p", { class: "muted" }, "These uploads started no execution. Fix the cause and upload again."),
    h("table", {},
      h("thead", {}, h("tr", {}, ["Rejected", "Dataset", "Object", "Reason"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rejected.map((r) => h("tr", { "data-rejected": r.key },
        h("td", {}, r.rejected_at), h("td", {}, r.dataset), h("td", { class: "mono" }, r.key),
        h("td", { "data-testid": "rejected-reason" }, r.reason))))));
}

function executionView(id) {
  const state = { step: null, picked: false, job: null, log: null };
  const memo = {};
  const head = h("div");
  const graph = h("div", { class: "graph", "data-testid": "step-graph" });
  const steps = h("div");
  const tuning = h("div");
  const jobs = h("div");
  const logBox = h("div");
  const el = h("section", {}, h("p", {}, h("a", { href: "#/executions" }, "← All executions")),
    head, h("h2", {}, "Steps"), graph, steps, tuning, jobs, logBox);
  let data = null;

  async function stop(event) {
    event.target.disabled = true;
    try {
      await api(`/api/executions/${encodeURIComponent(id)}/stop`, { method: "POST" });
      showBanner(`Stopping execution ${id}: its running jobs are stopped.`, "info");
    } catch (e) {
      showBanner(e.message);
      event.target.disabled = false;
    }
  }

  async function retry(event) {
    event.target.disabled = true;
    try {
      await api(`/api/executions/${encodeURIComponent(id)}/retry`, { method: "POST" });
      showBanner(`Retrying execution ${id}: the steps that succeeded are kept, the others run again.`, "info");
      await refresh();
    } catch (e) {
      showBanner(e.message);
      event.target.disabled = false;
    }
  }

  function pickStep(name) {
    state.picked = true;
    state.step = name;
    state.job = null;
    draw();
  }

  function draw() {
    const { execution: e, steps: list } = data;
    head.replaceChildren(h("div", {},
      h("h1", {}, "Execution ", h("span", { class: "mono" }, e.id), " ", pill(e.status, "execution-status"), " ",
        target.local && e.status === "Executing" ? h("button", { class: "reject", "data-testid": "stop-execution", onclick: stop }, "Stop") : null,
        target.local && (e.status === "Failed" || e.status === "Stopped")
          ? h("button", { class: "approve", "data-testid": "retry-execution", onclick: retry, title: "Run it again under the same ARN: the steps that succeeded are kept" }, "Retry")
          : null),
      h("p", { class: "muted" }, `dataset ${e.dataset || "?"} · started ${fmtTime(e.created_ms)} · `,
        e.ended_ms ? `took ${fmtDuration(e.created_ms, e.ended_ms)}` : terminal(e.status) ? words(e.status).toLowerCase() : `running for ${fmtDuration(e.created_ms)}`),
      e.failure_reason ? h("div", { class: "banner inline", "data-testid": "failure-reason" }, e.failure_reason) : null,
      h("details", {}, h("summary", {}, "Parameters"),
        h("dl", { class: "kv" }, Object.entries(data.parameters).map(([k, v]) => [h("dt", {}, k), h("dd", { class: "mono" }, v)])))));
    if (!state.picked) {
      // Until a step is clicked, follow what is running or failed, else show the step with
      // the most jobs (the tuning trials).
      const active = list.find((s) => s.status === "Executing" || s.status === "Failed")
        || [...list].sort((a, b) => b.jobs.length - a.jobs.length).find((s) => s.jobs.length);
      state.step = active ? active.name : null;
    }
    graph.replaceChildren(stepGraph(list, state.step, pickStep));
    steps.replaceChildren(h("table", { "data-testid": "steps-table" },
      h("thead", {}, h("tr", {}, ["Step", "Type", "Status", "Started", "Duration", "Jobs", "Failure reason"].map((t) => h("th", {}, t)))),
      h("tbody", {}, list.map((s) => h("tr", {
        class: `selectable ${s.name === state.step ? "selected" : ""}`, "data-step": s.name, onclick: () => pickStep(s.name),
      },
      h("td", {}, s.name), h("td", {}, s.step_type), h("td", {}, pill(s.status, "step-status")),
      h("td", {}, fmtTime(s.started_ms)), h("td", { class: "num" }, fmtDuration(s.started_ms, s.ended_ms)),
      h("td", { class: "num" }, s.jobs.length || ""), h("td", {}, s.failure_reason || ""))))));
    fill(tuning, tuningProgress(list.find((s) => s.step_type === "Tuning"), data.parameters));
    drawJobs(list.find((s) => s.name === state.step));
  }

  function drawJobs(step) {
    if (!step || !step.jobs.length) {
      jobs.replaceChildren(step ? h("p", { class: "muted" }, `${step.name} runs no container job.`) : "");
      logBox.replaceChildren();
      return;
    }
    if (!state.job || !step.jobs.some((j) => j.name === state.job)) {
      state.job = step.jobs.length === 1 ? step.jobs[0].name : null;
    }
    const trials = step.jobs.some((j) => j.definition_name);
    const scores = step.jobs.map((j) => j.objective).filter((v) => typeof v === "number");
    const lowest = step.objective && step.objective.type === "Minimize";
    const best = scores.length ? (lowest ? Math.min(...scores) : Math.max(...scores)) : null;
    jobs.replaceChildren(h("h3", {}, trials ? `Tuning trials of ${step.name} (${step.jobs.length})` : `Jobs of ${step.name}`),
      h("table", { "data-testid": "jobs-table" },
        h("thead", {}, h("tr", {}, [trials ? "Algorithm" : "Job", "Status", "Duration", trials ? "CV score" : "", "Failure reason"].map((t) => h("th", {}, t)))),
        h("tbody", {}, step.jobs.map((j) => h("tr", {
          class: `selectable ${j.name === state.job ? "selected" : ""}`, "data-job": j.name,
          onclick: () => { state.job = j.name; drawJobs(step); },
          title: j.hyperparameters ? Object.entries(j.hyperparameters).map(([k, v]) => `${k}=${v}`).join("\n") : "",
        },
        h("td", {}, trials ? (j.definition_name || "") : h("span", { class: "mono" }, j.name)),
        h("td", {}, pill(j.status)),
        h("td", { class: "num" }, fmtDuration(j.started_ms, j.ended_ms)),
        h("td", { class: `num ${j.objective === best && best !== null ? "best" : ""}` }, typeof j.objective === "number" ? fmtNum(j.objective) : ""),
        h("td", {}, j.failure_reason || ""))))));
    const job = step.jobs.find((j) => j.name === state.job);
    if (!job) {
      logBox.replaceChildren(h("p", { class: "muted" }, "Pick a job to see its log."));
      state.log = null;
      return;
    }
    if (!target.local) {
      // SageMaker's jobs log to CloudWatch, not to this machine.
      logBox.replaceChildren(h("p", { class: "muted", "data-testid": "job-log-where" }, "The log of ", h("span", { class: "mono" }, job.name),
        " is in CloudWatch Logs: group ", h("code", {}, trials ? "/aws/sagemaker/TrainingJobs" : "/aws/sagemaker/ProcessingJobs"), ", streams ", h("code", {}, `${job.name}/…`), "."));
      state.log = null;
      return;
    }
    if (!state.log || state.log.job !== job.name) {
      state.log = { job: job.name, offset: null, pre: h("pre", { class: "log", "data-testid": "job-log" }), done: false };
      logBox.replaceChildren(h("h3", {}, "Log of ", h("span", { class: "mono" }, job.name)), state.log.pre);
    }
    state.log.ended = terminal(job.status);
  }

  /** Appends what the job wrote since the last read; stops once it has read an ended job's end. */
  async function pollLog() {
    const log = state.log;
    if (!log || log.done) return;
    const ended = log.ended;
    const q = log.offset === null ? "" : `?offset=${log.offset}`;
    const chunk = await api(`/api/executions/${encodeURIComponent(id)}/jobs/${encodeURIComponent(log.job)}/log${q}`);
    if (log !== state.log) return;
    if (log.offset === null && chunk.offset > 0) log.pre.append(`… ${fmtBytes(chunk.offset)} earlier omitted …\n`);
    const atBottom = log.pre.scrollTop + log.pre.clientHeight >= log.pre.scrollHeight - 8;
    if (chunk.text) log.pre.append(chunk.text);
    if (atBottom) log.pre.scrollTop = log.pre.scrollHeight;
    log.offset = chunk.next_offset;
    log.done = ended && chunk.next_offset >= chunk.size;
  }

  return {
    el,
    async refresh() {
      const answer = await api(`/api/executions/${encodeURIComponent(id)}`);
      if (changed(memo, answer, answer.execution.status === "Executing")) {
        data = answer;
        draw();
      }
      await pollLog();
    },
  };
}

// ---- tuning progress ---------------------------------------------------------------------

const FINISHED_TRIAL = ["Completed", "Failed", "Stopped"];

/** The best-so-far series of a tuning step's trials (`jobs` in trial order): one point per
 *  finished trial, `{trial, status, value, best}`. `trial` is its number (1-based, its place in
 *  `jobs`); `value` its objective (null unless Completed with a finite one); `best` the best
 *  value among the finished trials up to it (null until one has a value): the highest, or the
 *  lowest if `minimize`. Trials still running get no point and do not move `best`. */
function bestSoFar(jobs, minimize = false) {
  const points = [];
  let best = null;
  jobs.forEach((j, i) => {
    if (!FINISHED_TRIAL.includes(j.status)) return;
    const value = j.status === "Completed" && typeof j.objective === "number" && Number.isFinite(j.objective) ? j.objective : null;
    if (value !== null && (best === null || (minimize ? value < best : value > best))) best = value;
    points.push({ trial: i + 1, status: j.status, value, best });
  });
  return points;
}

/** The tuning step's progress: trials finished of the budget, the best value, and the
 *  best-so-far curve. Nothing before the step starts. */
function tuningProgress(step, parameters) {
  if (!step || (step.status === "NotStarted" && !step.jobs.length)) return null;
  const objective = step.objective || {};
  const minimize = objective.type === "Minimize";
  const points = bestSoFar(step.jobs, minimize);
  const budget = Number.parseInt((parameters || {}).MaxTuningJobs, 10);
  const total = Number.isFinite(budget) && budget > 0 ? Math.max(budget, step.jobs.length) : null;
  const best = points.length ? points[points.length - 1].best : null;
  const metric = objective.metric_name ? ` (${objective.metric_name}, ${minimize ? "lower" : "higher"} is better)` : "";
  const summary = h("p", { class: "muted", "data-testid": "tuning-summary" },
    h("span", { "data-testid": "tuning-finished" }, total ? `${points.length} of ${total}` : `${points.length}`),
    ` trials finished${step.jobs.length > points.length ? `, ${step.jobs.length - points.length} running` : ""} · best CV score `,
    h("strong", { "data-testid": "tuning-best" }, best === null ? "—" : fmtNum(best)), metric);
  return h("div", { class: "card", "data-testid": "tuning-progress" },
    h("h3", {}, `Tuning progress of ${step.name}`), summary,
    points.length ? bestSoFarChart(points, total || step.jobs.length, minimize) : null);
}

/** Draws `bestSoFar`'s points: the best so far as a step line, each trial as a dot at its own
 *  value; failed or stopped trials (no value) as hollow grey rings on the axis. */
function bestSoFarChart(points, trials, minimize) {
  const W = 520, HT = 200, L = 74, B = 34, T = 10, R = 14;
  const n = Math.max(trials, ...points.map((p) => p.trial), 1);
  const values = points.map((p) => p.value).filter((v) => v !== null);
  let lo = values.length ? Math.min(...values) : 0, hi = values.length ? Math.max(...values) : 1;
  // A margin above and below, so the dots clear the frame; one value gets a band around it.
  const pad = hi - lo < 1e-9 ? Math.abs(hi) * 0.01 || 0.01 : (hi - lo) * 0.06;
  lo -= pad; hi += pad;
  const X = (t) => L + (n === 1 ? 0.5 : (t - 1) / (n - 1)) * W;
  const Y = (v) => T + (1 - (v - lo) / (hi - lo)) * HT;
  const parts = [];
  for (const f of [0, 0.5, 1]) {
    const v = lo + f * (hi - lo);
    parts.push(h("line", { x1: L, x2: L + W, y1: Y(v), y2: Y(v), class: "grid" }),
      h("text", { x: L - 6, y: Y(v) + 4, "text-anchor": "end" }, fmtNum(v)));
  }
  const every = Math.max(1, Math.ceil(n / 10));
  for (let t = 1; t <= n; t += every) parts.push(h("text", { x: X(t), y: T + HT + 16, "text-anchor": "middle" }, t));
  parts.push(h("line", { x1: L, x2: L + W, y1: T + HT, y2: T + HT, class: "axis" }), h("line", { x1: L, x2: L, y1: T, y2: T + HT, class: "axis" }));
  // The step line: flat until a trial improves on the best, then up (or down) to it.
  const line = [];
  for (const p of points) {
    if (p.best === null) continue;
    const x = X(p.trial).toFixed(1), y = Y(p.best).toFixed(1);
    line.push(line.length ? `H${x} V${y}` : `M${x},${y}`);
  }
  if (line.length) {
    parts.push(h("path", { d: line.join(" "), class: "best-so-far", fill: "none", "data-testid": "best-so-far" },
      h("title", {}, `best so far (${minimize ? "lowest" : "highest"})`)));
  }
  for (const p of points) {
    const scored = p.value !== null;
    parts.push(h("circle", {
      cx: X(p.trial).toFixed(1), cy: (scored ? Y(p.value) : T + HT).toFixed(1), r: 4,
      class: `trial ${scored ? "scored" : "unscored"}`, "data-trial": p.trial, "data-status": p.status,
      "data-value": scored ? p.value : null, "data-best": p.best === null ? null : p.best,
    }, h("title", {}, `trial ${p.trial}: ${scored ? fmtNum(p.value) : words(p.status).toLowerCase()}` +
      (p.best === null ? "" : ` · best so far ${fmtNum(p.best)}`))));
  }
  parts.push(h("text", { x: L + W / 2, y: T + HT + B - 4, "text-anchor": "middle" }, "trial"),
    h("text", { x: 12, y: T + HT / 2, transform: `rotate(-90 12 ${T + HT / 2})`, "text-anchor": "middle" }, "CV score"));
  return h("svg", { class: "chart", "data-testid": "tuning-chart", width: L + W + R, height: T + HT + B,
    viewBox: `0 0 ${L + W + R} ${T + HT + B}`, role: "img", "aria-label": "best CV score so far against trial number" }, parts);
}

const STATUS_FILL = {
  Succeeded: ["#e3f4ea", "#1e7f45"], Executing: ["#e4edfb", "#1f5fbf"], Starting: ["#e4edfb", "#1f5fbf"],
  Failed: ["#fdeceb", "#b42318"], Stopping: ["#fff4d6", "#9a6700"], Stopped: ["#fff4d6", "#9a6700"],
  NotStarted: ["#f4f5f7", "#b5bdc8"],
};

/** The step graph: steps in columns by dependency depth, arrows from what each waits for. */
function stepGraph(steps, picked, onPick) {
  const W = 196, H = 50, GX = 46, GY = 18, PAD = 10;
  const depth = {};
  const byName = Object.fromEntries(steps.map((s) => [s.name, s]));
  const depthOf = (name, seen = new Set()) => {
    if (depth[name] !== undefined) return depth[name];
    if (seen.has(name) || !byName[name]) return 0;
    seen.add(name);
    const d = Math.max(-1, ...byName[name].depends_on.map((p) => depthOf(p, seen))) + 1;
    return (depth[name] = d);
  };
  steps.forEach((s) => depthOf(s.name));
  const columns = [];
  for (const s of steps) (columns[depth[s.name]] ||= []).push(s);
  const pos = {};
  columns.forEach((col, c) => col.forEach((s, r) => { pos[s.name] = { x: PAD + c * (W + GX), y: PAD + r * (H + GY) }; }));
  const width = PAD * 2 + columns.length * (W + GX) - GX;
  const height = PAD * 2 + Math.max(...columns.map((c) => c.length)) * (H + GY) - GY;
  // Draw only direct waits: skip p -> s when s also waits for a step that itself waits for p.
  const ancestors = (name, acc = new Set()) => {
    for (const p of (byName[name] || { depends_on: [] }).depends_on) if (!acc.has(p)) { acc.add(p); ancestors(p, acc); }
    return acc;
  };
  const direct = (s) => s.depends_on.filter((p) => !s.depends_on.some((q) => q !== p && ancestors(q).has(p)));
  const edges = [];
  for (const s of steps) {
    for (const p of direct(s)) {
      if (!pos[p]) continue;
      const a = pos[p], b = pos[s.name];
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x - 6, y2 = b.y + H / 2;
      const label = s.branch_of && s.branch_of[0] === p ? (s.branch_of[1] ? "if true" : "else") : null;
      edges.push(h("path", { d: `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}`, fill: "none", stroke: "#9aa5b4", "stroke-width": 1.5, "marker-end": "url(#arrow)" }));
      if (label) edges.push(h("text", { x: x1 + 4, y: (y1 + y2) / 2 - 4, class: "sub" }, label));
    }
  }
  const nodes = steps.map((s) => {
    const { x, y } = pos[s.name];
    const [fill, stroke] = STATUS_FILL[s.status] || STATUS_FILL.NotStarted;
    return h("g", { class: `node ${s.name === picked ? "picked" : ""}`, "data-step": s.name, "data-status": s.status, onclick: () => onPick(s.name) },
      h("title", {}, `${s.name}: ${words(s.status)}`),
      h("rect", { x, y, width: W, height: H, rx: 8, fill, stroke }),
      h("text", { x: x + 10, y: y + 20 }, s.name.length > 26 ? `${s.name.slice(0, 25)}…` : s.name),
      h("text", { x: x + 10, y: y + 38, class: "sub" }, `${s.step_type} · ${s.started_ms ? fmtDuration(s.started_ms, s.ended_ms) : words(s.status)}`));
  });
  return h("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "step graph" },
    arrowDefs(), edges, nodes);
}

function arrowDefs() {
  const defs = document.createElementNS("http://www.w3.org/2000/svg", "defs");
  defs.innerHTML = '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#9aa5b4"/></marker>';
  return defs;
}

// ---- models -----------------------------------------------------------------------------

async function setApproval(group, version, status) {
  const p = await api(`/api/models/${encodeURIComponent(group)}/${version}/approval`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ status }),
  });
  showBanner(status === "Approved"
    ? `${p.group} version ${p.version} approved: the deployer puts it on the endpoint.`
    : `${p.group} version ${p.version} rejected: the endpoint serves the newest still-approved version, if any.`, "info");
}

function approvalButtons(v, after) {
  const act = (status) => async (event) => {
    event.stopPropagation();
    event.target.disabled = true;
    try { await setApproval(v.group, v.version, status); await after(); } catch (e) { showBanner(e.message); event.target.disabled = false; }
  };
  return h("div", { class: "actions" },
    h("button", { class: "approve", "data-testid": `approve-${v.version}`, disabled: v.status === "Approved", onclick: act("Approved") }, "Approve"),
    h("button", { class: "reject", "data-testid": `reject-${v.version}`, disabled: v.status === "Rejected", onclick: act("Rejected") }, "Reject"));
}

function versionRow(v, after, extra = []) {
  return h("tr", { "data-version": v.version },
    ...extra,
    h("td", { class: "num" }, v.version),
    h("td", {}, pill(v.status, "approval-status"), v.deployed ? h("span", { class: "badge", "data-testid": "deployed" }, "DEPLOYED") : null),
    h("td", {}, v.metadata.algorithm || "", estimatorNote(v), executionLink(v)),
    gateMetricCell(v),
    h("td", {}, fmtTime(v.created_at_ms)),
    h("td", {}, approvalButtons(v, after)));
}
/** What was fitted, from the version's evaluation.json: the family name covers a classifier
 * and its regression counterpart (the LogisticRegression family fits Ridge on a numeric target). */
function estimatorNote(v) {
  const note = h("span", { class: "muted", "data-testid": "estimator", title: "the estimator fitted (evaluation.json)" });
  evaluationOf(v.group, v.version).then((r) => {
    if (r.estimator && r.estimator !== v.metadata.algorithm) note.textContent = ` (${r.estimator})`;
  });
  return note;
}
/** The execution that registered the version (its ARN is in the version's metadata). */
function executionLink(v) {
  const id = String(v.metadata.pipeline_execution || "").split("/execution/")[1];
  return id ? [" · ", h("a", { href: `#/executions/${encodeURIComponent(id)}`, title: "the execution that registered this version" }, "run")] : null;
}
const VERSION_COLUMNS = ["Version", "Status", "Algorithm", "Test score", "Registered", ""];

/** The metric the registration gate checked, on the held-out test set. */
function gateMetricCell(v) {
  const cell = h("td", { class: "num", "data-testid": "test-score", title: "the registration metric on the held-out test set" });
  evaluationOf(v.group, v.version).then((r) => { cell.textContent = r.error ? "—" : fmtNum(metricValue(r.register_metric)); });
  return cell;
}

function modelsView() {
  const memo = {};
  const body = h("div");
  const el = h("section", {}, h("h1", {}, "Model registry"),
    h("p", { class: "muted" }, "One model package group per dataset. Approving a version deploys it to the shared endpoint; rejecting the deployed one rolls back."),
    body);
  const view = {
    el,
    async refresh() {
      const groups = await api("/api/models");
      if (!changed(memo, groups)) return;
      if (!groups.length) {
        body.replaceChildren(empty("No model versions yet",
          "A version is registered when an execution's model passes its metric gate. ",
          h("a", { href: "#/upload" }, "Upload a dataset"), " to start one."));
        return;
      }
      body.replaceChildren(...groups.map((g) => h("div", { class: "card", "data-group": g.group },
        h("h2", { style: "margin-top:0" }, g.dataset || g.group, " ", h("span", { class: "muted mono" }, g.group), " ",
          h("a", { href: `#/models/${encodeURIComponent(g.group)}`, "data-testid": "compare-link" }, "metrics & comparison →")),
        h("table", {},
          h("thead", {}, h("tr", {}, VERSION_COLUMNS.map((t) => h("th", {}, t)))),
          h("tbody", {}, g.versions.map((v) => versionRow(v, view.refresh)))))));
    },
  };
  return view;
}

const evaluations = new Map();
async function evaluationOf(group, version) {
  const key = `${group}/${version}`;
  if (!evaluations.has(key)) {
    // Reports never change once written; failures are not kept, so the next refresh retries.
    evaluations.set(key, api(`/api/models/${encodeURIComponent(group)}/${version}/evaluation`).catch((e) => {
      evaluations.delete(key);
      return { error: e.message };
    }));
  }
  return evaluations.get(key);
}

const SERIES_COLOURS = ["#1f5fbf", "#d9480f", "#2b8a3e", "#7048e8", "#c2255c", "#0b7285"];

function groupView(group) {
  let picked = new Set();
  let touched = false;
  const memo = {};
  const head = h("div");
  const table = h("div");
  const compare = h("div", { "data-testid": "comparison" });
  const el = h("section", {}, h("p", {}, h("a", { href: "#/models" }, "← All models")), head, table, compare);
  let lastKey = "";

  async function drawCompare(versions) {
    const chosen = versions.filter((v) => picked.has(v.version)).sort((a, b) => a.version - b.version);
    const key = chosen.map((v) => v.version).join(",");
    if (key === lastKey) return;
    lastKey = key;
    if (!chosen.length) { compare.replaceChildren(h("p", { class: "muted" }, "Tick versions to compare them.")); return; }
    const reports = await Promise.all(chosen.map((v) => evaluationOf(group, v.version)));
    compare.replaceChildren(...comparison(chosen, reports));
  }

  const view = {
    el,
    async refresh() {
      const groups = await api("/api/models");
      const g = groups.find((x) => x.group === group);
      if (!changed(memo, g || null)) return;
      if (!g) {
        head.replaceChildren(h("h1", {}, group));
        table.replaceChildren(empty("No such model package group", "It appears once an execution registers a model for it."));
        return;
      }
      // Until the user ticks boxes themselves, the newest two versions are compared.
      if (!touched) picked = new Set(g.versions.slice(0, 2).map((v) => v.version));
      head.replaceChildren(h("h1", {}, g.dataset || g.group, " ", h("span", { class: "muted mono" }, g.group)));
      table.replaceChildren(h("table", { "data-testid": "versions-table" },
        h("thead", {}, h("tr", {}, ["Compare", ...VERSION_COLUMNS].map((t) => h("th", {}, t)))),
        h("tbody", {}, g.versions.map((v) => versionRow(v, view.refresh, [h("td", {}, h("input", {
          type: "checkbox", checked: picked.has(v.version), "aria-label": `compare version ${v.version}`,
          onchange: (e) => {
            touched = true;
            e.target.checked ? picked.add(v.version) : picked.delete(v.version);
            drawCompare(g.versions);
          },
        }))])))));
      await drawCompare(g.versions);
    },
  };
  return view;
}

/** Side by side: the scalar metrics (best of each row in bold), curves overlaid, confusion matrices. */
function comparison(versions, reports) {
  const sections = reports.map((r) => {
    if (!r || r.error) return { error: r ? r.error : "no report" };
    const name = Object.keys(r).find((k) => k.endsWith("_metrics"));
    return { name, metrics: r[name] || {}, register: metricValue(r.register_metric) };
  });
  // What was fitted (evaluation.json's estimator), else the family the definition tuned.
  const label = (v, i) => `v${v.version} ${(reports[i] && reports[i].estimator) || v.metadata.algorithm || ""}`;
  const out = [h("h2", {}, "Evaluation on the held-out test set")];
  sections.forEach((s, i) => s.error && out.push(h("p", { class: "banner inline" }, `version ${versions[i].version}: ${s.error}`)));
  const names = [...new Set(sections.flatMap((s) => Object.keys(s.metrics || {})))]
    .filter((n) => sections.some((s) => s.metrics && metricValue(s.metrics[n]) !== null));
  const lowerIsBetter = (n) => ["mae", "mse", "rmse"].includes(n);
  const rows = [["registration metric", sections.map((s) => s.register)], ...names.map((n) => [n, sections.map((s) => metricValue((s.metrics || {})[n]))])];
  const table = h("table", { class: "metrics", "data-testid": "metrics-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Metric"), versions.map((v, i) => h("th", { class: "num" }, label(v, i))))),
    h("tbody", {}, rows.map(([n, values]) => {
      const known = values.filter((v) => v !== null);
      // Mark the best only where the versions differ as shown.
      const differ = new Set(known.map(fmtNum)).size > 1;
      const best = differ ? (lowerIsBetter(n) ? Math.min(...known) : Math.max(...known)) : null;
      return h("tr", { "data-metric": n }, h("td", {}, n),
        values.map((v) => h("td", { class: `num ${v !== null && v === best ? "best" : ""}` }, fmtNum(v))));
    })));
  const curve = (key, xs, ys) => sections.map((s, i) => {
    const c = s.metrics && s.metrics[key];
    return c && c[xs] ? { name: label(versions[i], i), colour: SERIES_COLOURS[i % SERIES_COLOURS.length], xs: c[xs], ys: c[ys] } : null;
  }).filter(Boolean);
  const roc = curve("receiver_operating_characteristic_curve", "false_positive_rates", "true_positive_rates");
  const pr = curve("precision_recall_curve", "recalls", "precisions");
  // The table and the curves side by side; confusion matrices below.
  out.push(h("div", { class: "row" }, h("div", { class: "card" }, table),
      roc.length ? h("div", { class: "card", "data-testid": "roc-chart" }, h("h3", {}, "ROC curve"), lineChart(roc, "false positive rate", "true positive rate", true)) : null,
      pr.length ? h("div", { class: "card", "data-testid": "pr-chart" }, h("h3", {}, "Precision–recall curve"), lineChart(pr, "recall", "precision", false)) : null));
  const matrices = sections.map((s, i) => s.metrics && s.metrics.confusion_matrix
    ? h("div", { class: "card", "data-testid": "confusion-matrix" }, h("h3", {}, `Confusion matrix, ${label(versions[i], i)}`), confusionTable(s.metrics.confusion_matrix))
    : null).filter(Boolean);
  if (matrices.length) out.push(h("div", { class: "row" }, matrices));
  return out;
}

/** Classes beyond which a confusion matrix is not drawn: 3,000 classes would be 9 million cells. */
const MAX_DRAWN_CLASSES = 30;

/** Rows are the actual class, columns the predicted; shade by the share of the row. A matrix of
 * many classes holds only the cells that are not zero, so the classes are those of any cell. */
function confusionTable(m) {
  const keys = (row) => (row && typeof row === "object" ? Object.keys(row) : []);
  const classes = [...new Set(Object.entries(m).flatMap(([a, row]) => [a, ...keys(row)]))];
  if (classes.length > MAX_DRAWN_CLASSES) {
    return h("p", { class: "muted", "data-testid": "confusion-not-drawn" },
      `${classes.length} classes: too many to draw here (evaluation.json holds the matrix).`);
  }
  return h("table", { class: "confusion" },
    h("thead", {}, h("tr", {}, h("th", {}, "actual ↓ predicted →"), classes.map((c) => h("th", {}, c)))),
    h("tbody", {}, classes.map((a) => {
      const row = m[a] || {};
      const total = classes.reduce((t, p) => t + (row[p] || 0), 0) || 1;
      return h("tr", {}, h("th", {}, a), classes.map((p) => {
        const n = row[p] || 0;
        const share = n / total;
        const colour = a === p ? `rgba(30,127,69,${0.12 + 0.6 * share})` : n ? `rgba(180,35,24,${0.1 + 0.6 * share})` : "transparent";
        return h("td", { style: `background:${colour}` }, n);
      }));
    })));
}

/** A unit-square line chart (both axes 0..1), one polyline per series, at most 400 points each. */
function lineChart(series, xLabel, yLabel, diagonal) {
  const S = 260, L = 44, B = 34, T = 8, R = 10;
  const X = (v) => L + v * S, Y = (v) => T + (1 - v) * S;
  const parts = [];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(h("line", { x1: X(t), x2: X(t), y1: Y(0), y2: Y(1), class: "grid" }), h("line", { x1: X(0), x2: X(1), y1: Y(t), y2: Y(t), class: "grid" }));
    parts.push(h("text", { x: X(t), y: Y(0) + 14, "text-anchor": "middle" }, t), h("text", { x: X(0) - 6, y: Y(t) + 4, "text-anchor": "end" }, t));
  }
  parts.push(h("line", { x1: X(0), x2: X(1), y1: Y(0), y2: Y(0), class: "axis" }), h("line", { x1: X(0), x2: X(0), y1: Y(0), y2: Y(1), class: "axis" }));
  if (diagonal) parts.push(h("line", { x1: X(0), y1: Y(0), x2: X(1), y2: Y(1), stroke: "#c5ccd6", "stroke-dasharray": "4 4" }));
  for (const s of series) {
    const n = Math.min(s.xs.length, s.ys.length);
    const step = Math.max(1, Math.ceil(n / 400));
    const pts = [];
    for (let i = 0; i < n; i += step) pts.push(`${X(s.xs[i]).toFixed(1)},${Y(s.ys[i]).toFixed(1)}`);
    if ((n - 1) % step) pts.push(`${X(s.xs[n - 1]).toFixed(1)},${Y(s.ys[n - 1]).toFixed(1)}`);
    parts.push(h("polyline", { points: pts.join(" "), fill: "none", stroke: s.colour, "stroke-width": 2 }, h("title", {}, s.name)));
  }
  parts.push(h("text", { x: X(0.5), y: T + S + B - 4, "text-anchor": "middle" }, xLabel),
    h("text", { x: 12, y: Y(0.5), transform: `rotate(-90 12 ${Y(0.5)})`, "text-anchor": "middle" }, yLabel));
  return h("div", {}, h("svg", { class: "chart", width: L + S + R, height: T + S + B, role: "img", "aria-label": `${yLabel} against ${xLabel}` }, parts),
    h("div", { class: "legend" }, series.map((s) => h("span", {}, h("i", { style: `background:${s.colour}` }), s.name))));
}

// ---- endpoint ---------------------------------------------------------------------------

function endpointView() {
  const deployed = h("div");
  const loaded = h("div");
  const select = h("select", { id: "try-model", "data-testid": "try-model" });
  const rows = h("textarea", { id: "try-rows", "data-testid": "try-rows", placeholder: "One row per line, features in training order, no header and no target column" });
  const result = h("div", { "data-testid": "try-result" }, h("p", { class: "muted" }, "The Function URL's answer appears here."));
  const curl = h("pre", { class: "log", hidden: true, title: "the same request from a shell" });
  let functionUrl = "";
  const memo = {};

  async function predict(event) {
    event.preventDefault();
    const body = JSON.stringify({ model: select.value, data: rows.value.trim() });
    curl.hidden = false;
    const quoted = (text) => `'${text.replaceAll("'", "'\\''")}'`;
    curl.textContent = target.local
      ? `curl -X POST ${functionUrl} -H 'content-type: application/json' -d ${quoted(body)}`
      // AWS_IAM auth: the request must be SigV4-signed, which mmp does with your credentials.
      : `mmp --target aws invoke ${quoted(select.value)} --csv ${quoted(rows.value.trim())}`;
    result.replaceChildren(h("p", { class: "muted" }, "Asking the Function URL…"));
    let response;
    try {
      response = await fetch("/api/invoke", { method: "POST", headers: { [CHANGE_HEADER]: "1", "content-type": "application/json" }, body });
    } catch {
      result.replaceChildren(h("p", { class: "banner inline" }, "mmp is not answering: is `mmp up` still running?"));
      return;
    }
    const text = await response.text();
    let shown = text;
    try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch { /* as it came */ }
    result.replaceChildren(
      h("p", {}, "Function URL answered ", h("span", { class: `pill ${response.ok ? "s-Succeeded" : "s-Failed"}`, "data-testid": "try-status" }, response.status)),
      h("pre", { class: "log", "data-testid": "try-output" }, shown));
  }

  const el = h("section", {}, h("h1", {}, "Multi-model endpoint"),
    h("p", { class: "muted" }, "One shared endpoint serves every dataset's approved model; the Function URL routes by dataset."),
    h("h2", {}, "Deployed"), deployed,
    h("h2", {}, "Loaded in the serving process"), loaded,
    h("h2", {}, "Try it"),
    h("div", { class: "row" },
      h("form", { class: "stack card grow", "data-testid": "try-form", onsubmit: predict },
        h("label", {}, "Model", select),
        h("label", {}, "CSV rows", rows),
        h("div", {}, h("button", { class: "primary", type: "submit", "data-testid": "try-submit" }, "Predict"))),
      h("div", { class: "card grow" }, result, curl)));

  return {
    el,
    async refresh() {
      const e = await api("/api/endpoint");
      if (!changed(memo, e)) return;
      functionUrl = e.function_url;
      const routes = Object.entries(e.routes);
      if (!routes.length) {
        deployed.replaceChildren(empty("Nothing is deployed yet", "Approve a version on the ", h("a", { href: "#/models" }, "Models"), " page."));
      } else {
        deployed.replaceChildren(h("table", { "data-testid": "routes-table" },
          h("thead", {}, h("tr", {}, ["Dataset", "Model package group", "Version", "Target model"].map((t) => h("th", {}, t)))),
          h("tbody", {}, routes.map(([dataset, r]) => h("tr", { "data-dataset": dataset }, h("td", {}, dataset), h("td", { class: "mono" }, r.group),
            h("td", { class: "num" }, r.version), h("td", { class: "mono" }, r.target_model))))));
      }
      const names = routes.map(([d]) => d);
      if ([...select.options].map((o) => o.value).join() !== names.join()) {
        const keep = select.value;
        select.replaceChildren(...names.map((d) => h("option", { value: d, selected: d === keep }, d)));
      }
      if (!target.local) {
        loaded.replaceChildren(empty("The serving instances are SageMaker's",
          "It loads each model on its first prediction and unloads the least used under memory pressure; the endpoint's CloudWatch metrics (LoadedModelCount, MemoryUtilization) show what it holds."));
      } else if (!e.serving) {
        loaded.replaceChildren(empty("The serving process is not running", "It starts on the first prediction and loads each model on first use."));
      } else if (!e.loaded.length) {
        loaded.replaceChildren(empty("No model is loaded", "Models load on their first prediction."));
      } else {
        const budget = e.memory_budget_bytes;
        const used = e.loaded.reduce((t, m) => t + m.memoryBytes, 0);
        loaded.replaceChildren(h("table", { "data-testid": "loaded-table" },
          h("thead", {}, h("tr", {}, ["Target model", "Memory", budget ? "Share of the budget" : null].map((t) => t && h("th", {}, t)))),
          h("tbody", {}, e.loaded.map((m) => h("tr", {}, h("td", { class: "mono" }, m.modelName), h("td", { class: "num" }, fmtBytes(m.memoryBytes)),
            budget ? h("td", {}, h("div", { class: "meter" }, h("div", { style: `width:${Math.min(100, (100 * m.memoryBytes) / budget)}%` }))) : null)))),
          h("p", { class: "muted" }, `${fmtBytes(used)} in ${e.loaded.length} ${e.loaded.length === 1 ? "model" : "models"}`,
            budget ? ` of a ${fmtBytes(budget)} budget` : " (no memory budget set: `mmp up --model-memory-budget BYTES`)"));
      }
    },
  };
}

// ---- upload -----------------------------------------------------------------------------

function uploadView() {
  const name = h("input", { type: "text", name: "dataset", id: "upload-dataset", "data-testid": "upload-dataset", required: true, pattern: "[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?", placeholder: "e.g. breast-cancer" });
  const file = h("input", { type: "file", name: "file", id: "upload-file", "data-testid": "upload-file", accept: ".csv,text/csv", required: true });
  const settings = h("input", { type: "file", name: "settings", id: "upload-settings", "data-testid": "upload-settings", accept: ".json,application/json" });
  const button = h("button", { class: "primary", type: "submit", "data-testid": "upload-submit" }, "Upload and start the pipeline");
  file.addEventListener("change", () => {
    const f = file.files[0];
    if (f && !name.value) name.value = f.name.replace(/\.csv$/i, "").toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");
  });

  async function submit(event) {
    event.preventDefault();
    const f = file.files[0];
    if (!f) { showBanner("Choose a CSV file first."); return; }
    if (!f.name.toLowerCase().endsWith(".csv")) { showBanner(`${f.name} is not a .csv file: datasets are CSV files with a header row.`); return; }
    const form = new FormData();
    form.append("dataset", name.value.trim());
    if (settings.files[0]) form.append("settings", settings.files[0]);
    form.append("file", f);
    button.disabled = true;
    try {
      const r = await api("/api/datasets", { method: "POST", body: form });
      if (r.earlier_execution) {
        // The same bytes under the same name are the same upload: the trigger starts nothing.
        showBanner(`Uploaded ${r.uploaded.join(" and ")}, but it starts nothing: the same bytes were uploaded as ${r.key} before and started execution ${r.earlier_execution}. Retry that one from its page, or upload under another file name.`, "info");
      } else {
        showBanner(`Uploaded ${r.uploaded.join(" and ")}: its execution is starting.`, "info");
      }
      $banner.dataset.keepOnce = "1";
      location.hash = "#/executions";
    } catch (e) {
      showBanner(e.message);
    } finally {
      button.disabled = false;
    }
  }

  return {
    el: h("section", {}, h("h1", {}, "Upload a dataset"),
      h("p", { class: "muted" }, "The same as ", h("code", {}, "mmp upload"), " or an S3 upload to ", h("code", {}, "datasets/<dataset>/<file>.csv"), ": it starts a pipeline execution."),
      h("form", { class: "stack card", "data-testid": "upload-form", onsubmit: submit },
        h("label", {}, "Dataset name", h("small", {}, "Letters, digits and dashes; the model package group is <pipeline>-<dataset>."), name),
        h("label", {}, "CSV file", h("small", {}, "A header row; the target column defaults to CLASS."), file),
        h("label", {}, "Settings (optional)", h("small", {}, "pipeline.json: target column, scorer, registration metric and threshold, tuning budget."), settings),
        h("div", {}, button),
        h("p", { class: "muted" }, "The same bytes uploaded again under the same file name are the same upload and start nothing; give a retraining run another file name."))),
  };
}

// ---- start ------------------------------------------------------------------------------

window.addEventListener("hashchange", route);
document.addEventListener("visibilitychange", refresh);
api("/api/info").then((info) => {
  Object.assign(target, { local: info.local, kind: info.target, refreshMs: info.refresh_ms || target.refreshMs });
  fill(document.getElementById("where"),
    h("div", { "data-testid": "target" }, `${info.local ? "this machine" : "AWS"} · pipeline ${info.pipeline_name} · ${info.bucket}`),
    info.local ? h("div", { id: "data-folder" }, `data folder ${info.data_folder}` +
      (info.data_folder_bytes == null ? "" : ` · ${fmtBytes(info.data_folder_bytes)}`) +
      " (mmp gc drops what ended jobs no longer need)") : null,
    h("div", {}, "Function URL ", h("code", {}, info.function_url)));
  // The page that is open polls at the target's pace from now on.
  clearInterval(timer);
  timer = setInterval(refresh, target.refreshMs);
}).catch((e) => showBanner(e.message));
route();

// For the browser tests, which import this module again (the same instance) to check the
// pure computation on trials of their own.
export { bestSoFar };
