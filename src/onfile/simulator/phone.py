"""The client's phone: one self-contained HTML page (no external assets, works offline).

Design: the page is static; everything it shows comes from the automation API, polled
every second while the tab is visible: ``GET /_sim/api/conversation?as=…&number=…&seen=1``
(``seen=1`` is what makes firm messages "read", so a hidden tab reads nothing), and
``POST /_sim/api/inbound`` for whatever the client does (text, a file with a caption, a
reply, a reaction, a tap on a button or list row). Personas come from
``/_sim/api/personas``; ``?as=+447700900123`` picks one, the "New client" form adds one.

Rendering uses ``textContent`` only (no HTML from data), so message text cannot inject
markup. Accessibility: every control has a label, the conversation is an ``aria-live``
list, ticks have text equivalents, everything works from the keyboard (Enter sends,
Shift+Enter is a new line), colours meet WCAG AA contrast, focus is always visible.
"""

from __future__ import annotations

PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Client phone — onfile WhatsApp simulator</title>
<style>
:root { --bg:#efeae2; --in:#ffffff; --out:#d9fdd3; --ink:#111b21; --muted:#4a5a63; --accent:#006a4e; --read:#0b57d0; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--ink);
       background:#d7dbdc; display:flex; justify-content:center; }
.phone { width:100%; max-width:440px; min-height:100vh; display:flex; flex-direction:column; background:var(--bg);
         box-shadow:0 0 0 1px #b0b8bb; }
header { background:var(--accent); color:#fff; padding:.5rem .75rem; }
header h1 { font-size:1.05rem; margin:0 0 .25rem; }
header .row { display:flex; gap:.5rem; flex-wrap:wrap; align-items:end; }
header label { font-size:.8rem; display:flex; flex-direction:column; gap:.1rem; }
select, input, textarea, button { font:inherit; }
select, input[type=text], input[type=tel] { padding:.25rem; border:1px solid #6b7b83; border-radius:4px; }
details { margin-top:.35rem; font-size:.85rem; }
details form { display:flex; gap:.4rem; flex-wrap:wrap; align-items:end; margin-top:.3rem; }
.status { font-size:.8rem; color:#e8fff6; min-height:1.1em; }
main { flex:1; overflow-y:auto; padding:.75rem; }
ol#messages { list-style:none; margin:0; padding:0; display:flex; flex-direction:column; gap:.4rem; }
li.msg { max-width:85%; padding:.4rem .55rem .3rem; border-radius:8px; background:var(--in);
         box-shadow:0 1px 0 rgba(0,0,0,.15); word-wrap:break-word; white-space:pre-wrap; position:relative; }
li.msg.client { align-self:flex-end; background:var(--out); }
li.msg.firm { align-self:flex-start; }
.who { font-size:.75rem; font-weight:600; color:var(--accent); }
.quote { border-left:3px solid var(--accent); background:rgba(0,0,0,.05); padding:.2rem .4rem; font-size:.85rem;
         margin-bottom:.25rem; color:var(--muted); }
.meta { font-size:.72rem; color:var(--muted); text-align:right; margin-top:.15rem; }
.tick-read { color:var(--read); font-weight:700; }
.reactions { font-size:.9rem; }
.actions { display:flex; gap:.25rem; flex-wrap:wrap; margin-top:.2rem; }
.actions button, .choices button { border:1px solid #8a9aa3; background:#fff; border-radius:12px; padding:.05rem .5rem;
         font-size:.8rem; cursor:pointer; color:var(--ink); }
.choices { display:flex; flex-direction:column; gap:.25rem; margin-top:.3rem; }
.choices button { color:var(--read); border-color:#c0ccd2; padding:.25rem; }
img.media { max-width:100%; border-radius:6px; display:block; }
.tmpl-head { font-weight:700; }
.tmpl-foot { font-size:.8rem; color:var(--muted); }
.revoked { font-style:italic; color:var(--muted); }
footer { background:#f0f2f5; padding:.5rem; border-top:1px solid #c5cdd1; }
#reply-banner { font-size:.85rem; background:#fff; border-left:3px solid var(--accent); padding:.25rem .4rem;
                margin-bottom:.35rem; display:flex; justify-content:space-between; gap:.4rem; }
#composer { display:flex; gap:.4rem; align-items:end; flex-wrap:wrap; }
#composer .grow { flex:1; display:flex; flex-direction:column; min-width:12rem; }
textarea { resize:vertical; min-height:2.4rem; padding:.35rem; border:1px solid #6b7b83; border-radius:6px; }
button.primary { background:var(--accent); color:#fff; border:0; border-radius:6px; padding:.45rem .9rem;
                 cursor:pointer; }
.sr { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); white-space:nowrap; }
:focus-visible { outline:3px solid #ffbf47; outline-offset:2px; }
#error { color:#a4000f; font-size:.85rem; }
</style>
</head>
<body>
<div class="phone">
<header>
  <h1>WhatsApp — client phone (simulated)</h1>
  <div class="row">
    <label>Client <select id="persona"></select></label>
    <label>Chat with <select id="number"></select></label>
  </div>
  <details>
    <summary>New client</summary>
    <form id="new-persona">
      <label>Phone number <input id="np-phone" type="tel" required placeholder="+447700900456"></label>
      <label>Name <input id="np-name" type="text" required placeholder="Bob Example"></label>
      <button type="submit">Add client</button>
    </form>
  </details>
  <div class="status" id="status" aria-live="polite"></div>
</header>
<main id="main">
  <h2 class="sr">Conversation</h2>
  <ol id="messages" aria-live="polite" aria-label="Conversation with the firm"></ol>
</main>
<footer>
  <div id="reply-banner" hidden><span id="reply-text"></span>
    <button type="button" id="reply-cancel">Cancel reply</button></div>
  <form id="composer">
    <div class="grow">
      <label for="text">Message (or caption for the file)</label>
      <textarea id="text" rows="2" placeholder="Type a message"></textarea>
    </div>
    <div>
      <label for="file">Attach a file</label><br>
      <input id="file" type="file">
    </div>
    <button class="primary" type="submit">Send</button>
  </form>
  <div id="error" role="alert"></div>
</footer>
</div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let me = (params.get("as") || "").trim();
if (/^\d+$/.test(me)) me = "+" + me;  // "?as=+44…" arrives as " 44…": "+" means space in a query
let number = params.get("number") || "";
let replyTo = null;
let lastJson = "";
const EMOJI = ["👍", "❤️", "😂", "😮", "😢", "🙏"];
const TICKS = { sent: ["✓", "Sent"], delivered: ["✓✓", "Delivered"], read: ["✓✓", "Read"] };

async function api(method, path, body) {
  const r = await fetch(path, { method, headers: { "Content-Type": "application/json" },
                                body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
  return data;
}
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}
function showError(e) { $("error").textContent = e ? String(e.message || e) : ""; }

async function loadPeople() {
  const data = await api("GET", "/_sim/api/personas");
  const sel = $("persona"); sel.textContent = "";
  for (const p of data.personas) {
    const o = el("option", null, (p.name || "(no name)") + " — " + (p.phone || p.user_id));
    o.value = p.phone || p.user_id; sel.appendChild(o);
  }
  if (!me && data.personas.length) me = data.personas[0].phone || data.personas[0].user_id;
  sel.value = me;
  const nsel = $("number"); nsel.textContent = "";
  for (const n of data.numbers) {
    const o = el("option", null, (n.name || "Firm") + " +" + n.display_phone_number);
    o.value = n.phone_number_id; nsel.appendChild(o);
  }
  if (!number && data.numbers.length) number = data.numbers[0].phone_number_id;
  nsel.value = number;
}
function remember() {
  const q = new URLSearchParams({ as: me, number });
  history.replaceState(null, "", "?" + q.toString());
  lastJson = ""; replyTo = null; $("reply-banner").hidden = true; poll();
}
function who() { return me.startsWith("+") ? { from: me } : { user_id: me }; }
async function send(spec) {
  showError(null);
  try {
    const body = Object.assign(who(), { to_number: number }, spec);
    if (replyTo && !body.context && spec.type !== "reaction") body.context = { id: replyTo.id };
    await api("POST", "/_sim/api/inbound", body);
    replyTo = null; $("reply-banner").hidden = true; poll();
  } catch (e) { showError(e); }
}
function summary(m) {
  const c = m.content || {};
  if (m.type === "text") return c.body || "";
  if (m.rendered && m.rendered.body) return m.rendered.body;
  if (c.caption) return c.caption;
  if (c.filename) return c.filename;
  if (m.type === "interactive" && c.body) return c.body.text || "";
  if (m.type === "button") return c.text || "";
  const picked = c.button_reply || c.list_reply;
  if (picked) return picked.title || "";
  return "[" + m.type + "]";
}
function renderContent(li, m, byId) {
  const c = m.content || {};
  if (m.context && m.context.id && byId[m.context.id]) li.appendChild(el("div", "quote", summary(byId[m.context.id])));
  if (m.revoked) { li.appendChild(el("div", "revoked", "This message was deleted")); return; }
  if (m.rendered && m.type === "template") return renderTemplate(li, m);
  if (m.type === "text") li.appendChild(el("div", null, c.body));
  else if (m.type === "image" || m.type === "sticker") {
    const img = el("img", "media"); img.src = m.media_url || "";
    img.alt = c.caption || ("Picture " + (c.filename || ""));
    li.appendChild(img); if (c.caption) li.appendChild(el("div", null, c.caption));
  } else if (m.type === "video" || m.type === "audio") {
    const v = el(m.type); v.controls = true; v.src = m.media_url || ""; v.setAttribute("aria-label", m.type);
    li.appendChild(v); if (c.caption) li.appendChild(el("div", null, c.caption));
  } else if (m.type === "document") {
    const a = el("a", null, "📄 " + (c.filename || "document"));
    a.href = m.media_url || "#"; a.download = c.filename || "";
    li.appendChild(a); if (c.caption) li.appendChild(el("div", null, c.caption));
  } else if (m.type === "location") {
    li.appendChild(el("div", null, "📍 " + (c.name || "") + " " + c.latitude + ", " + c.longitude));
  } else if (m.type === "contacts") {
    for (const card of c.contacts || []) {
      li.appendChild(el("div", null, "👤 " + ((card.name || {}).formatted_name || "")));
    }
  } else if (m.type === "interactive" && m.direction === "out") renderInteractive(li, m);
  else li.appendChild(el("div", null, summary(m)));
}
function renderTemplate(li, m) {
  const r = m.rendered;
  if (m.header_media_url) {
    const a = el("a", null, "📄 " + (r.header_media.filename || r.header_media.type)); a.href = m.header_media_url;
    li.appendChild(a);
  }
  if (r.header) li.appendChild(el("div", "tmpl-head", r.header));
  li.appendChild(el("div", null, r.body));
  if (r.footer) li.appendChild(el("div", "tmpl-foot", r.footer));
  if (r.buttons.length) {
    const box = el("div", "choices");
    r.buttons.forEach((t) => {
      const b = el("button", null, t.text); b.type = "button";
      b.onclick = () => send({ type: "button", button: { payload: t.payload, text: t.text }, context: { id: m.id } });
      box.appendChild(b);
    });
    li.appendChild(box);
  }
}
function renderInteractive(li, m) {
  const c = m.content;
  if (c.header && c.header.text) li.appendChild(el("div", "tmpl-head", c.header.text));
  if (c.body) li.appendChild(el("div", null, c.body.text));
  if (c.footer) li.appendChild(el("div", "tmpl-foot", c.footer.text));
  const box = el("div", "choices"), a = c.action || {};
  for (const btn of a.buttons || []) {
    const r = btn.reply || {}; const b = el("button", null, r.title); b.type = "button";
    const reply = { type: "button_reply", button_reply: { id: r.id, title: r.title } };
    b.onclick = () => send({ type: "interactive", interactive: reply, context: { id: m.id } });
    box.appendChild(b);
  }
  for (const s of a.sections || []) for (const row of s.rows || []) {
    const b = el("button", null, row.title + (row.description ? " — " + row.description : "")); b.type = "button";
    const reply = { type: "list_reply", list_reply: { id: row.id, title: row.title, description: row.description } };
    b.onclick = () => send({ type: "interactive", interactive: reply, context: { id: m.id } });
    box.appendChild(b);
  }
  if (a.parameters && a.parameters.url) {
    const link = el("a", null, a.parameters.display_text || a.parameters.url);
    link.href = a.parameters.url; box.appendChild(link);
  }
  if (box.childNodes.length) li.appendChild(box);
}
function renderActions(li, m) {
  const box = el("div", "actions");
  const reply = el("button", null, "Reply"); reply.type = "button";
  reply.setAttribute("aria-label", "Reply to: " + summary(m).slice(0, 40));
  reply.onclick = () => { replyTo = m; $("reply-text").textContent = "Replying to: " + summary(m).slice(0, 60);
                          $("reply-banner").hidden = false; $("text").focus(); };
  box.appendChild(reply);
  for (const e of EMOJI) {
    const b = el("button", null, e); b.type = "button"; b.setAttribute("aria-label", "React " + e);
    b.onclick = () => send({ type: "reaction", reaction: { message_id: m.id, emoji: e } });
    box.appendChild(b);
  }
  if ((m.reactions || {}).client) {
    const b = el("button", null, "Remove reaction"); b.type = "button";
    b.onclick = () => send({ type: "reaction", reaction: { message_id: m.id, emoji: "" } });
    box.appendChild(b);
  }
  li.appendChild(box);
}
function render(data) {
  const list = $("messages"); list.textContent = "";
  const byId = {}; for (const m of data.messages) byId[m.id] = m;
  const firm = data.number.name || "Firm";
  for (const m of data.messages) {
    if (m.direction === "out" && !["delivered", "read"].includes(m.status)) continue;
    const mine = m.direction === "in";
    const li = el("li", "msg " + (mine ? "client" : "firm"));
    li.appendChild(el("div", "who", mine ? "You" : firm + (m.origin === "app" ? " (phone app)" : "")));
    renderContent(li, m, byId);
    const rs = Object.entries(m.reactions || {}).map(([k, v]) => v + (k === "client" ? " (you)" : ""));
    if (rs.length) li.appendChild(el("div", "reactions", rs.join(" ")));
    const time = new Date(m.timestamp * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const meta = el("div", "meta", time + " ");
    if (m.previous) meta.appendChild(el("span", null, "edited "));
    if (mine && TICKS[m.status]) {
      const t = el("span", m.status === "read" ? "tick-read" : null, TICKS[m.status][0]);
      t.setAttribute("aria-label", TICKS[m.status][1]); t.title = TICKS[m.status][1]; meta.appendChild(t);
    }
    li.appendChild(meta);
    renderActions(li, m);
    list.appendChild(li);
  }
  const closed = "The firm can only send templates until you write.";
  $("status").textContent = data.typing ? firm + " is typing…" : (data.window_open ? "" : closed);
}
async function poll() {
  if (!me || !number) return;
  const visible = document.visibilityState === "visible";
  try {
    const q = new URLSearchParams({ as: me, number, seen: visible ? "1" : "0" });
    const data = await api("GET", "/_sim/api/conversation?" + q.toString());
    const json = JSON.stringify(data.messages) + data.typing + data.window_open;
    if (json !== lastJson) {
      const main = $("main"), atEnd = main.scrollTop + main.clientHeight >= main.scrollHeight - 40;
      lastJson = json; render(data); if (atEnd) main.scrollTop = main.scrollHeight;
    }
  } catch (e) { showError(e); }
}
function kindOf(mime) {
  if (mime === "image/webp") return "sticker";
  if (mime.startsWith("image/")) return "image";
  if (mime.startsWith("video/")) return "video";
  if (mime.startsWith("audio/")) return "audio";
  return "document";
}
function readFile(file) {
  return new Promise((ok, fail) => {
    const r = new FileReader();
    r.onload = () => ok(String(r.result).split(",")[1] || "");
    r.onerror = fail; r.readAsDataURL(file);
  });
}
$("composer").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("text").value, file = $("file").files[0];
  if (file) {
    const mime = file.type || "application/octet-stream", kind = kindOf(mime);
    const spec = { type: kind, data_b64: await readFile(file), mime_type: mime, filename: file.name };
    if (text.trim() && ["image", "video", "document"].includes(kind)) spec.caption = text;
    await send(spec);
  } else if (text.trim()) await send({ type: "text", text });
  else return;
  $("text").value = ""; $("file").value = ""; $("text").focus();
});
$("text").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("composer").requestSubmit(); }
});
$("reply-cancel").onclick = () => { replyTo = null; $("reply-banner").hidden = true; $("text").focus(); };
$("persona").onchange = () => { me = $("persona").value; remember(); };
$("number").onchange = () => { number = $("number").value; remember(); };
$("new-persona").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const data = await api("POST", "/_sim/api/personas", { phone: $("np-phone").value, name: $("np-name").value });
    me = data.persona.phone || data.persona.user_id; await loadPeople(); remember();
    $("np-phone").value = ""; $("np-name").value = "";
  } catch (e) { showError(e); }
});
document.addEventListener("visibilitychange", poll);
loadPeople().then(remember).catch(showError);
setInterval(poll, 1000);
</script>
</body>
</html>
"""


def page() -> str:
    return PAGE
