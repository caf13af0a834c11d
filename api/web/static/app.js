// The web page: plain JS over the HTTP API. Every text from a document or a question is put in
// the page as text (textContent), never as HTML.
"use strict";

const KEY = "localrag-api-key";
const state = { history: [], busy: false };
const $ = (id) => document.getElementById(id);

function headers(extra = {}) {
  const key = sessionStorage.getItem(KEY);
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers || {}) });
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    if (response.status === 401) detail += " (enter an API key above)";
    throw new Error(detail);
  }
  return response;
}

function say(message) { $("status").textContent = message || ""; }
function collection() { return $("collection").value || "default"; }
function query(extra = "") { return `collection=${encodeURIComponent(collection())}${extra}`; }
function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}
function fileName(path) { return path.split(/[\\/]/).pop().split(" › ")[0]; }

async function loadCollections() {
  const chosen = collection();
  const { collections } = await (await api("/v1/collections")).json();
  const names = collections.map((c) => c.name);
  if (!names.includes(chosen)) names.unshift(chosen);
  const select = $("collection");
  select.replaceChildren(...names.map((name) => {
    const found = collections.find((c) => c.name === name);
    const option = element("option", found ? `${name} (${found.documents})` : name);
    option.value = name;
    return option;
  }));
  select.value = chosen;
}

async function loadDocuments() {
  const body = $("documents").querySelector("tbody");
  let documents = [];
  try {
    documents = (await (await api(`/v1/documents?${query()}`)).json()).documents;
  } catch (error) {
    if (!String(error.message).includes("no collection")) say(error.message);
  }
  body.replaceChildren(...documents.map((d) => {
    const row = document.createElement("tr");
    row.append(element("td", fileName(d.path)), element("td", d.file_type), element("td", String(d.chunks)));
    const remove = element("button", "Delete");
    remove.type = "button";
    remove.setAttribute("aria-label", `Delete ${fileName(d.path)}`);
    remove.addEventListener("click", async () => {
      if (!confirm(`Delete ${fileName(d.path)} from ${collection()}?`)) return;
      try {
        await api(`/v1/documents/${encodeURIComponent(d.id)}?${query()}`, { method: "DELETE" });
        await refresh();
      } catch (error) { say(error.message); }
    });
    const cell = document.createElement("td");
    cell.append(remove);
    row.append(cell);
    return row;
  }));
}

async function refresh() {
  try { await loadCollections(); } catch (error) { say(error.message); }
  await loadDocuments();
}

// Upload: the files go to one ingestion job, whose per-file progress is shown until it ends.
async function upload(files) {
  if (!files.length) return;
  const form = new FormData();
  for (const file of files) form.append("data", file, file.name);
  say("");
  try {
    let job = await (await api(`/v1/documents?${query()}`, { method: "POST", body: form })).json();
    showJob(job);
    while (job.state !== "done") {
      await new Promise((resolve) => setTimeout(resolve, 700));
      job = await (await api(job.status_url)).json();
      showJob(job);
    }
    await refresh();
  } catch (error) { say(error.message); }
}

function showJob(job) {
  $("job").replaceChildren(...job.files.map((file) => {
    const what = file.outcome || file.state;
    const text = `${file.name}: ${what}${file.reason ? ` (${file.reason})` : ""}`;
    return element("li", text, file.outcome === "failed" ? "failed" : "");
  }));
}

// Asking: the answer streams in as server-sent events (token ..., then done or error).
async function ask(question) {
  const item = element("li", question, "user");
  const answer = element("li", "", "assistant");
  answer.setAttribute("aria-busy", "true");
  $("conversation").append(item, answer);
  const body = JSON.stringify({ question, collection: collection(), stream: true, history: state.history });
  const response = await api("/v1/ask", {
    method: "POST", body, headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let result = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const event = parseEvent(buffer.slice(0, cut));
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
      if (event.name === "token") answer.append(document.createTextNode(event.data.text));
      else if (event.name === "done") result = event.data;
      else if (event.name === "error") throw new Error(event.data.detail || "the answer failed");
    }
  }
  answer.removeAttribute("aria-busy");
  if (!result) throw new Error("the answer stream ended early");
  showAnswer(answer, result);
  state.history.push({ role: "user", content: question }, { role: "assistant", content: result.answer });
}

function parseEvent(block) {
  let name = "message";
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return { name, data: data.length ? JSON.parse(data.join("\n")) : {} };
}

// The final answer, with each [n] a button that shows source n.
function showAnswer(node, result) {
  const sources = new Map(result.sources.map((s) => [s.n, s]));
  node.replaceChildren();
  for (const part of result.answer.split(/(\[\d+\])/)) {
    const n = /^\[(\d+)\]$/.exec(part);
    const source = n && sources.get(Number(n[1]));
    if (!source) { node.append(document.createTextNode(part)); continue; }
    const button = element("button", `[${source.n}]`, "cite");
    button.type = "button";
    button.setAttribute("aria-label", `Source ${source.n}: ${fileName(source.path)}${source.page ? `, page ${source.page}` : ""}`);
    button.addEventListener("click", () => showCitation(source));
    node.append(button);
  }
  if (result.sources.length) {
    const list = element("div", "", "sources");
    list.append(document.createTextNode("Sources: "));
    for (const source of result.sources) {
      const button = element("button", `[${source.n}] ${fileName(source.path)}`, "cite");
      button.type = "button";
      button.addEventListener("click", () => showCitation(source));
      list.append(button);
    }
    node.append(list);
  }
}

function showCitation(source) {
  $("citation-title").textContent = `[${source.n}] ${fileName(source.path)}`;
  const where = [source.page ? `page ${source.page}` : null, source.section ? `section: ${source.section}` : null];
  $("citation-where").textContent = where.filter(Boolean).join(" · ");
  $("citation-text").textContent = source.text;
  const open = $("citation-open");
  open.dataset.url = `/v1/documents/${encodeURIComponent(source.document_id)}/file?${query()}`;
  open.dataset.page = source.page || "";
  $("citation").hidden = false;
  $("citation").focus();
}

// The original opens in a new tab from a blob, so that an API key can go with the request;
// a PDF opens at the cited page.
async function openDocument() {
  const open = $("citation-open");
  try {
    const blob = await (await api(open.dataset.url)).blob();
    const url = URL.createObjectURL(blob) + (open.dataset.page ? `#page=${open.dataset.page}` : "");
    open.dataset.opened = url;
    window.open(url, "_blank", "noopener");
  } catch (error) { say(error.message); }
}

function wire() {
  $("collection").addEventListener("change", () => { state.history = []; $("conversation").replaceChildren(); loadDocuments(); });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, $("api-key").value.trim());
    $("api-key").value = "";
    $("key-box").open = false;
    say("");
    refresh();
  });
  $("ask-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (!question || state.busy) return;
    state.busy = true;
    $("ask-button").disabled = true;
    say("");
    try {
      await ask(question);
      $("question").value = "";
    } catch (error) { say(error.message); } finally {
      state.busy = false;
      $("ask-button").disabled = false;
    }
  });
  $("new-conversation").addEventListener("click", () => {
    state.history = [];
    $("conversation").replaceChildren();
    $("citation").hidden = true;
  });
  $("citation-open").addEventListener("click", openDocument);
  $("citation-close").addEventListener("click", () => { $("citation").hidden = true; });
  $("upload-form").addEventListener("submit", (event) => {
    event.preventDefault();
    upload([...$("files").files]).then(() => { $("files").value = ""; });
  });
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    upload([...event.dataTransfer.files]);
  });
  refresh();
}

wire();
