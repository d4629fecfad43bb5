// Portico's one script: live updates for the Messages page over a
// WebSocket. Pages work without it; it only makes them live.
(function () {
  "use strict";
  var dock = document.querySelector("[data-dock]");
  var root = document.querySelector("[data-live]");
  if (dock && !root) { startDock(dock); return; }
  if (!root) { return; }
  var base = root.getAttribute("data-base");
  var openChat = root.getAttribute("data-chat");
  var lastSeq = parseInt(root.getAttribute("data-seq") || "0", 10);
  var list = document.getElementById("messages");
  var retry = 500;

  function has(seq) { return list && list.querySelector('[data-seq="' + seq + '"]'); }

  function append(m) {
    if (!list || has(m.seq)) { return; }
    var empty = list.querySelector(".empty");
    if (empty) { empty.remove(); }
    var li = document.createElement("li");
    li.setAttribute("data-seq", String(m.seq));
    var meta = document.createElement("p");
    meta.className = "meta";
    var who = document.createElement("strong");
    who.textContent = m.sender_name || "";
    var when = document.createElement("span");
    when.className = "muted small";
    when.textContent = " " + (m.at || "");
    meta.appendChild(who);
    meta.appendChild(when);
    var body = document.createElement("p");
    body.className = "body";
    body.textContent = m.body || "";
    li.appendChild(meta);
    li.appendChild(body);
    list.appendChild(li);
    if (m.seq > lastSeq) { lastSeq = m.seq; }
    li.scrollIntoView({ block: "end" });
  }

  function bumpUnread(chat) {
    var link = document.querySelector('[data-chat-link="' + chat + '"]');
    if (!link) { return; }
    var badge = link.querySelector("[data-unread]");
    if (!badge) {
      badge = document.createElement("span");
      badge.className = "badge unread";
      badge.setAttribute("data-unread", "");
      badge.textContent = "0";
      link.insertBefore(badge, link.children[1] || null);
    }
    badge.textContent = String(parseInt(badge.textContent, 10) + 1);
  }

  function catchUp() {
    if (!openChat) { return; }
    fetch(base + "/" + openChat + "/after/" + lastSeq, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (messages) { messages.forEach(append); })
      .catch(function () {});
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws");
    socket.onopen = function () { retry = 500; catchUp(); };
    socket.onmessage = function (e) {
      var event;
      try { event = JSON.parse(e.data); } catch (_) { return; }
      if (event.kind === "message") {
        if (event.chat === openChat) {
          append(event);
          // Reading it here: tell the server by catching up (marks read).
        } else {
          bumpUnread(event.chat);
        }
      } else if (event.kind === "read" && event.chat === openChat) {
        var receipt = document.getElementById("receipt");
        if (receipt && event.seq >= lastSeq) { receipt.textContent = "Read by " + (event.reader || "the client"); }
      }
    };
    socket.onclose = function () {
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    };
  }

  var form = document.querySelector("[data-send]");
  if (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var data = new URLSearchParams(new FormData(form));
      fetch(form.action, {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" },
        body: data.toString()
      }).then(function (r) {
        if (r.ok) {
          return r.json().then(function (m) {
            append(m);
            form.querySelector("textarea").value = "";
            // A fresh key for the next message; a retry of this one reuses it.
            form.querySelector('[name="key"]').value = m.next_key;
          });
        }
        form.submit();
      }).catch(function () { form.submit(); });
    });
  }

  connect();

  // The docked messenger on every other staff page (M14): a count of
  // unread messages, a list of recent chats, a link to the full page.
  function startDock(dock) {
    dock.hidden = false;
    var toggle = dock.querySelector("[data-dock-toggle]");
    var list = dock.querySelector("[data-dock-list]");
    var badge = dock.querySelector("[data-dock-unread]");
    var unread = 0;
    function show(count) {
      unread = count;
      badge.hidden = count === 0;
      badge.textContent = String(count);
    }
    function load() {
      fetch("/app/messages/dock", { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          show(data.unread);
          list.textContent = "";
          data.chats.forEach(function (c) {
            var li = document.createElement("li");
            var a = document.createElement("a");
            a.href = "/app/messages/" + c.id;
            a.textContent = c.title + (c.unread > 0 ? " (" + c.unread + ")" : "");
            li.appendChild(a);
            list.appendChild(li);
          });
        })
        .catch(function () {});
    }
    toggle.addEventListener("click", function () {
      var open = list.hidden;
      list.hidden = !open;
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      if (open) { load(); }
    });
    load();
    var wait = 500;
    (function listen() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + "/ws");
      socket.onopen = function () { wait = 500; };
      socket.onmessage = function (e) {
        var event;
        try { event = JSON.parse(e.data); } catch (_) { return; }
        if (event.kind === "message") { if (!list.hidden) { load(); } else { show(unread + 1); } }
      };
      socket.onclose = function () { setTimeout(listen, wait); wait = Math.min(wait * 2, 15000); };
    }());
  }
}());
