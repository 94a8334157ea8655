/* persona-pipeline web UI: no inline scripts (CSP), no dependencies. */
(function () {
  "use strict";
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf(), Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error((data.error && data.error.message) || response.statusText);
    return data;
  }

  function toast(message, isError) {
    const el = document.getElementById("toast");
    if (!el) return;
    el.textContent = message;
    el.className = "flash" + (isError ? " error" : "");
    el.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { el.hidden = true; }, 4000);
  }

  // Forms that ask before submitting (delete, rollback).
  document.addEventListener("submit", (event) => {
    const message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  function personaPage(root) {
    const personaId = root.dataset.personaId;
    const sections = { confirm: document.getElementById("confirmed"), reject: document.getElementById("rejected") };
    const history = [];
    const undoButton = document.getElementById("undo");
    const count = document.getElementById("selected-count");
    const cards = () => Array.from(root.querySelectorAll("figure.face"));
    const selected = () => cards().filter((c) => c.classList.contains("selected"));

    function refreshSelection() { count.textContent = String(selected().length); }
    function select(card, on) {
      card.classList.toggle("selected", on);
      const box = card.querySelector(".pick");
      if (box) box.checked = on;
      refreshSelection();
    }
    function bump(verdict, delta) {
      const counter = root.querySelector(`[data-count="${verdict}"]`);
      if (counter) counter.textContent = String(Math.max(0, Number(counter.textContent) + delta));
    }
    const verdictOf = (classes) => ["confirm", "reject"].find((v) => classes.split(" ").includes(v));
    function move(card, verdict) {
      const target = sections[verdict];
      const previous = verdictOf(card.className);
      if (previous) bump(previous, -1);
      bump(verdict, 1);
      card.classList.remove("confirm", "reject", "selected");
      card.classList.add(verdict);
      const empty = target.querySelector(".empty");
      if (empty) empty.remove();
      target.prepend(card);
    }

    async function label(targets, verdict) {
      if (!targets.length) return;
      const before = targets.map((card) => ({ card, parent: card.parentElement, next: card.nextSibling,
        classes: card.className }));
      const focusNext = nextCard(targets[targets.length - 1]);
      targets.forEach((c) => c.classList.add("busy"));
      try {
        const body = { persona_id: personaId, verdict };
        if (targets.length === 1) body.face_id = targets[0].dataset.faceId;
        else body.face_ids = targets.map((c) => c.dataset.faceId);
        const result = await api("POST", "/api/v1/labels", body);
        const eventIds = result.events ? result.events.map((e) => e.event_id) : [result.event_id];
        targets.forEach((c) => { c.classList.remove("busy"); move(c, verdict); });
        history.push({ eventIds, before });
        undoButton.disabled = false;
        refreshSelection();
        if (focusNext) focusNext.focus();
        toast((verdict === "confirm" ? "Confirmed " : "Rejected ") + targets.length + " face(s).");
      } catch (error) {
        targets.forEach((c) => c.classList.remove("busy"));
        toast(error.message, true);
      }
    }

    async function undo() {
      const last = history.pop();
      if (!last) return;
      undoButton.disabled = true;
      try {
        for (const id of last.eventIds.slice().reverse()) await api("POST", "/api/v1/undo", { event_id: id });
        last.before.slice().reverse().forEach(({ card, parent, next, classes }) => {
          const now = verdictOf(card.className);
          const was = verdictOf(classes);
          if (now) bump(now, -1);
          if (was) bump(was, 1);
          card.className = classes.replace(" selected", "");
          if (next && next.parentElement === parent) parent.insertBefore(card, next); else parent.append(card);
        });
        toast("Undone.");
      } catch (error) {
        toast(error.message, true);
      } finally {
        undoButton.disabled = history.length === 0;
      }
    }

    function nextCard(card, step = 1) {
      const all = cards();
      const index = all.indexOf(card);
      return all[index + step] || null;
    }

    root.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-verdict]");
      if (button) label([button.closest("figure.face")], button.dataset.verdict);
      const pick = event.target.closest(".pick");
      if (pick) select(pick.closest("figure.face"), pick.checked);
    });
    document.getElementById("confirm-selected").addEventListener("click", () => label(selected(), "confirm"));
    document.getElementById("reject-selected").addEventListener("click", () => label(selected(), "reject"));
    undoButton.addEventListener("click", undo);

    document.addEventListener("keydown", (event) => {
      if (event.target.closest("input, select, textarea") || event.ctrlKey || event.metaKey || event.altKey) return;
      const current = document.activeElement && document.activeElement.closest("figure.face");
      const key = event.key;
      if (key === "u") { undo(); event.preventDefault(); return; }
      if (key === "a") { cards().forEach((c) => select(c, true)); event.preventDefault(); return; }
      if (key === "C") { label(selected(), "confirm"); event.preventDefault(); return; }
      if (key === "X") { label(selected(), "reject"); event.preventDefault(); return; }
      if (["ArrowRight", "j", "ArrowLeft", "k"].includes(key)) {
        const step = key === "ArrowRight" || key === "j" ? 1 : -1;
        const target = current ? nextCard(current, step) : cards()[0];
        if (target) target.focus();
        event.preventDefault();
        return;
      }
      if (!current) return;
      if (key === "c" || key === "y") { label([current], "confirm"); event.preventDefault(); }
      else if (key === "x" || key === "n") { label([current], "reject"); event.preventDefault(); }
      else if (key === " ") { select(current, !current.classList.contains("selected")); event.preventDefault(); }
    });
    const first = cards()[0];
    if (first) first.focus();
  }

  function ingestPage() {
    const zone = document.getElementById("dropzone");
    const input = document.getElementById("files");
    const chosen = document.getElementById("chosen");
    const show = () => { chosen.textContent = input.files.length ? input.files.length + " file(s) chosen" : ""; };
    input.addEventListener("change", show);
    ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (e) => {
      e.preventDefault(); zone.classList.add("over");
    }));
    ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, (e) => {
      e.preventDefault(); zone.classList.remove("over");
    }));
    zone.addEventListener("drop", (e) => { input.files = e.dataTransfer.files; show(); });

    async function poll() {
      const running = Array.from(document.querySelectorAll(".job[data-done='0']"));
      for (const section of running) {
        try {
          const job = await api("GET", "/api/v1/ingest/" + encodeURIComponent(section.dataset.jobId));
          const bar = section.querySelector("progress");
          bar.max = job.discovered || 1;
          bar.value = job.stored + job.duplicates + job.rejected;
          section.querySelectorAll("[data-k]").forEach((b) => { b.textContent = String(job[b.dataset.k] || 0); });
          section.querySelector(".status").textContent = job.status;
          const list = section.querySelector(".rejected");
          list.replaceChildren(...job.rejected_files.map((r) => {
            const li = document.createElement("li");
            li.textContent = r.name + ": " + r.reason;
            return li;
          }));
          if (job.status === "done" || job.status === "failed") section.dataset.done = "1";
        } catch (error) { /* try again on the next tick */ }
      }
      if (document.querySelector(".job[data-done='0']")) setTimeout(poll, 1000);
    }
    poll();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const persona = document.getElementById("persona");
    if (persona) personaPage(persona);
    if (document.body.dataset.page === "ingest") ingestPage();
  });
})();
