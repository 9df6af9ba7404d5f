// motionbench report: media loading, sortable tables, metric switches, synchronized galleries.
"use strict";

// Media: every element with data-media gets its URL (data: URI or relative path) from the #media map.
(function loadMedia() {
  const urls = JSON.parse(document.getElementById("media").textContent);
  for (const el of document.querySelectorAll("[data-media]")) {
    const url = urls[el.dataset.media];
    if (url === undefined) throw new Error("media " + el.dataset.media + " is missing from the page");
    el.src = url;
  }
})();

// Sortable tables: click a header; numbers sort best first on the first click (data-higher), NaN last.
function cellValue(row, col, numeric) {
  const td = row.children[col];
  const raw = td.dataset.v !== undefined ? td.dataset.v : td.textContent;
  return numeric ? parseFloat(raw) : raw;
}

function sortTable(table, col) {
  const th = table.tHead.rows[0].children[col];
  const numeric = th.dataset.type === "num";
  const bestFirst = numeric ? (th.dataset.higher === "1" ? "descending" : "ascending") : "ascending";
  const current = th.getAttribute("aria-sort");
  const order = current ? (current === "ascending" ? "descending" : "ascending") : bestFirst;
  for (const other of table.tHead.rows[0].children) other.removeAttribute("aria-sort");
  th.setAttribute("aria-sort", order);
  const sign = order === "ascending" ? 1 : -1;
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = cellValue(a, col, numeric), y = cellValue(b, col, numeric);
    if (numeric) {
      if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) - Number.isNaN(y);  // NaN last
      return sign * (x - y);
    }
    return sign * String(x).localeCompare(String(y));
  });
  for (const r of rows) body.appendChild(r);
}

for (const table of document.querySelectorAll("table.sortable")) {
  Array.from(table.tHead.rows[0].children).forEach((th, col) => {
    th.addEventListener("click", () => sortTable(table, col));
  });
}

// Metric switches: a <select data-target=ID> shows the child of #ID whose data-metric is selected.
for (const select of document.querySelectorAll("select.switch")) {
  select.addEventListener("change", () => {
    for (const t of document.getElementById(select.dataset.target).children) {
      t.hidden = t.dataset.metric !== select.value;
    }
  });
}

// Galleries: one control plays, pauses, steps and scrubs every video of the grid. Videos of one row
// (same driving clip) follow the row's first video; rows of different lengths share the relative position.
function initGallery(g) {
  const videos = Array.from(g.querySelectorAll("video"));
  const rows = Array.from(g.querySelectorAll("tbody tr"))
    .map((tr) => Array.from(tr.querySelectorAll("video"))).filter((r) => r.length);
  const fps = parseFloat(g.dataset.fps) || 10;
  const play = g.querySelector("button.play"), scrub = g.querySelector("input.scrub");
  const time = g.querySelector(".time");
  let playing = false;

  function show() {
    const lead = rows[0] && rows[0][0];
    if (!lead) return;
    const d = lead.duration || 0;
    if (d > 0) scrub.value = Math.round((lead.currentTime / d) * 1000);
    time.textContent = "frame " + Math.floor(lead.currentTime * fps + 1e-6) + " / " + Math.round(d * fps);
  }
  function seekFraction(f) {
    for (const v of videos) if (v.duration) v.currentTime = Math.min(f * v.duration, v.duration - 1e-3);
    show();
  }
  function sync() {
    for (const r of rows) {
      const t = r[0].currentTime;
      for (const v of r.slice(1)) if (Math.abs(v.currentTime - t) > 0.5 / fps) v.currentTime = t;
    }
    show();
    if (playing) requestAnimationFrame(sync);
  }
  play.addEventListener("click", () => {
    playing = !playing;
    play.textContent = playing ? "❚❚ pause" : "▶ play";
    if (playing) {
      for (const v of videos) v.play().catch((e) => console.warn("video did not play:", e.message));
      requestAnimationFrame(sync);
    } else {
      for (const v of videos) v.pause();
      sync();
    }
  });
  for (const b of g.querySelectorAll("button.step")) {
    b.addEventListener("click", () => {
      if (playing) play.click();
      const step = parseFloat(b.dataset.step) / fps;
      for (const v of videos) v.currentTime = Math.max(0, Math.min(v.currentTime + step, (v.duration || 0) - 1e-3));
      show();
    });
  }
  scrub.addEventListener("input", () => seekFraction(scrub.value / 1000));
  if (videos.length) videos[0].addEventListener("loadedmetadata", show);
}

document.querySelectorAll(".gallery").forEach(initGallery);
