//! The page's inline style and script (nothing is loaded from elsewhere).

pub(super) const STYLE: &str = r#":root { --pass: #2da44e; --warn: #c9d22a; --fail: #cf222e; --xfail: #8250df; --error: #e8830c; --none: #b8bcc2;
  --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --panel: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #fff; }
header { padding: 14px 24px; border-bottom: 1px solid var(--line); background: var(--panel); }
h1 { font-size: 20px; margin: 0 0 6px; }
h2 { font-size: 16px; margin: 18px 0 8px; }
h3 { font-size: 14px; margin: 12px 0 4px; }
.meta { margin: 0 0 8px; color: var(--muted); }
.meta span { margin-right: 16px; white-space: nowrap; }
.meta b { color: var(--fg); font-weight: 600; white-space: normal; word-break: break-all; }
.counts { margin: 0; }
.k { display: inline-block; margin-right: 6px; padding: 1px 10px; border-radius: 12px; color: #fff; font-weight: 600; }
.k.total { background: var(--fg); }
.k.pass { background: var(--pass); } .k.fail { background: var(--fail); }
.k.warn { background: var(--warn); color: var(--fg); } .k.xfail { background: var(--xfail); }
.k.error { background: var(--error); } .k.not-run { background: var(--none); color: var(--fg); }
.verdict { margin: 0 0 8px; padding: 4px 10px; border-radius: 4px; font-weight: 600; color: #fff; }
.verdict.caught { background: var(--pass); } .verdict.missed { background: var(--fail); }
.verdict.incomplete { background: var(--error); }
main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(320px, 42%); gap: 24px; padding: 0 24px 24px; }
@media (max-width: 900px) { main { grid-template-columns: minmax(0, 1fr); } }
.legend { color: var(--muted); margin: 0 0 8px; }
.legend .c { display: inline-block; vertical-align: middle; cursor: default; }
.phase { display: flex; gap: 10px; padding: 8px 0; border-top: 1px solid var(--line); }
.side { flex: 0 0 120px; word-break: break-word; }
.side small { display: block; color: var(--muted); font-size: 11px; }
.grid { min-width: 0; overflow-x: auto; }
.top, .line { display: flex; gap: 2px; align-items: flex-end; }
.line { margin-top: 2px; align-items: center; }
.at { flex: 0 0 110px; padding-right: 6px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  text-align: right; color: var(--muted); font: 11px ui-monospace, SFMono-Regular, Menlo, monospace; }
.top span:not(.at) { flex: 0 0 14px; max-height: 96px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  writing-mode: vertical-rl; transform: rotate(180deg); color: var(--muted); font: 10px/14px ui-monospace, SFMono-Regular, Menlo, monospace; }
.c { display: block; flex: 0 0 14px; width: 14px; height: 14px; border-radius: 2px; cursor: pointer; background: var(--none); }
.c.pass { background: var(--pass); } .c.fail { background: var(--fail); }
.c.warn { background: var(--warn); } .c.xfail { background: var(--xfail); }
.c.error { background: var(--error); } .c.not-run { background: var(--none); }
.line .c:hover { outline: 2px solid var(--muted); }
.c.sel { outline: 2px solid var(--fg); outline-offset: 1px; }
.c.b2 { box-shadow: inset 0 -4px 0 var(--fg); }
.list { padding-left: 18px; }
.list li { margin: 2px 0; word-break: break-word; }
.list .c { display: inline-block; width: 10px; height: 10px; margin-right: 6px; }
.list a { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
.muted { color: var(--muted); }
#detail { position: sticky; top: 12px; align-self: start; max-height: calc(100vh - 24px); overflow: auto;
  margin-top: 18px; padding: 8px 16px 16px; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); }
#detail h2 { word-break: break-all; }
.badge { margin-left: 8px; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; vertical-align: middle; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); }
.badge.warn { background: var(--warn); color: var(--fg); } .badge.xfail { background: var(--xfail); }
.badge.error { background: var(--error); } .badge.not-run { background: var(--none); color: var(--fg); }
dl.fields { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 12px; margin: 0; }
dl.fields dt { color: var(--muted); }
dl.fields dd { margin: 0; word-break: break-word; }
.replay { display: flex; gap: 6px; }
.replay input { flex: 1; min-width: 0; padding: 4px 6px; font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
table { border-collapse: collapse; }
th, td { border: 1px solid var(--line); padding: 2px 6px; text-align: left; font-size: 12px; vertical-align: top; }
td { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
pre { margin: 0; padding: 8px; max-height: 50vh; overflow: auto; background: #0d1117; color: #e6edf3; border-radius: 4px;
  font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; white-space: pre-wrap; word-break: break-all; }
"#;

/// The details panel. It must never contain the two characters that close a script element.
pub(super) const SCRIPT: &str = r##"(function () {
  "use strict";
  var cuts = null;
  var selected = null;
  function data() {
    if (cuts === null) {
      cuts = JSON.parse(document.getElementById("cut-data").textContent);
    }
    return cuts;
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function field(dl, name, value) {
    if (value === undefined || value === null || value === "") { return; }
    dl.appendChild(el("dt", null, name));
    dl.appendChild(el("dd", null, value));
  }
  function list(parent, title, items) {
    if (!items || items.length === 0) { return; }
    parent.appendChild(el("h3", null, title));
    var ul = el("ul");
    items.forEach(function (t) { ul.appendChild(el("li", null, t)); });
    parent.appendChild(ul);
  }
  function slots(parent, rows) {
    if (!rows || rows.length === 0) { return; }
    parent.appendChild(el("h3", null, "Flash state after recovery"));
    var table = el("table");
    var head = el("tr");
    ["slot", "version", "hash", "validity", "trailer"].forEach(function (k) { head.appendChild(el("th", null, k)); });
    table.appendChild(head);
    rows.forEach(function (s) {
      var tr = el("tr");
      [s.slot, s.version || "-", s.hash || "-", s.validity, s.trailer].forEach(function (v) {
        tr.appendChild(el("td", null, v));
      });
      table.appendChild(tr);
    });
    parent.appendChild(table);
  }
  function replay(parent, command) {
    if (!command) { return; }
    parent.appendChild(el("h3", null, "Replay"));
    var box = el("div", "replay");
    var input = el("input");
    input.readOnly = true;
    input.value = command;
    input.setAttribute("aria-label", "replay command");
    var button = el("button", "copy", "Copy");
    button.type = "button";
    button.addEventListener("click", function () {
      function done() { button.textContent = "Copied"; }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(command).then(done, function () {
          input.select(); document.execCommand("copy"); done();
        });
      } else {
        input.select(); document.execCommand("copy"); done();
      }
    });
    box.appendChild(input);
    box.appendChild(button);
    parent.appendChild(box);
  }
  function consoleLog(parent, lines) {
    parent.appendChild(el("h3", null, "Console after the cut"));
    if (!lines || lines.length === 0) {
      parent.appendChild(el("p", "muted", "(no console output)"));
      return;
    }
    var text = lines.map(function (l) { return "[" + l[0] + "] " + l[1]; }).join("\n");
    parent.appendChild(el("pre", null, text));
  }
  function show(i) {
    var c = data()[i];
    if (!c) { return; }
    if (selected) { selected.classList.remove("sel"); }
    selected = document.querySelector("#matrix .c[data-i='" + i + "']");
    if (selected) { selected.classList.add("sel"); }
    var body = document.getElementById("detail-body");
    body.textContent = "";
    var title = el("h2", null, c.id);
    title.appendChild(el("span", "badge " + c.status, c.label));
    body.appendChild(title);
    var dl = el("dl", "fields");
    field(dl, "phase", c.phase);
    field(dl, "offset", c.offset);
    field(dl, "repetition", c.repetition);
    field(dl, "seed", c.seed);
    field(dl, "landing", c.landing);
    (c.later_landings || []).forEach(function (l, n) { field(dl, "landing of cut " + (n + 2), l); });
    field(dl, "first boot", c.first_boot);
    field(dl, "final image", c.final_image);
    if (c.committed !== undefined) { field(dl, "committed at the cut", c.committed ? "yes" : "no"); }
    field(dl, "booted slot", c.booted_slot);
    field(dl, "boot record", c.boot_record);
    (c.boot_disagreement || []).forEach(function (d) { field(dl, "record copies disagree", d); });
    field(dl, "same flash state as", c.same_state_as);
    field(dl, "post-cut flash fingerprint", c.post_cut_state);
    if (c.wall_ms !== undefined) { field(dl, "wall time", c.wall_ms + " ms"); }
    body.appendChild(dl);
    if (c.note) {
      body.appendChild(el("p", "muted", c.note));
      return;
    }
    list(body, "Reasons", c.reasons);
    list(body, "Warnings", c.warnings);
    replay(body, c.replay);
    slots(body, c.slots);
    consoleLog(body, c.console);
    if (history.replaceState) { history.replaceState(null, "", "#cut=" + encodeURIComponent(c.id)); }
  }
  document.addEventListener("click", function (ev) {
    var t = ev.target && ev.target.closest ? ev.target.closest("[data-i]") : null;
    if (!t) { return; }
    ev.preventDefault();
    show(Number(t.getAttribute("data-i")));
  });
  var m = /^#cut=(.*)$/.exec(location.hash);
  if (m) {
    var id = null;
    try { id = decodeURIComponent(m[1]); } catch (e) { id = null; }
    var all = data();
    for (var i = 0; id !== null && i < all.length; i++) {
      if (all[i].id === id) { show(i); break; }
    }
  }
})();
"##;
