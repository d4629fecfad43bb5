// Portico's one script: live updates for the Messages page over a
// WebSocket. Pages work without it; it only makes them live.
//
// A message that arrives is shown at once from the event, as text; then
// the messages after the last one the page has in its own markup are read
// (which also tells the server they were read, M8) and that markup takes
// the place of what the event showed: the reply's quote, Reply, Pin and
// Delete, links. Only rarer changes (reactions, pins, deletions) and a
// socket coming back read the whole chat page again. The staff's read
// receipt follows the "read" events.
(function () {
  "use strict";
  var dock = document.querySelector("[data-dock]");
  var root = document.querySelector("[data-live]");
  if (dock && !root) { startDock(dock); return; }
  if (!root) { return; }
  var base = root.getAttribute("data-base");
  var openChat = root.getAttribute("data-chat");
  var chatUrl = openChat ? base + "/" + openChat : null;
  var lastSeq = parseInt(root.getAttribute("data-seq") || "0", 10);
  var list = document.getElementById("messages");
  // The last message shown in the page's own markup (not an event's text).
  var shown = lastSeq;
  var reading = false;
  var readAgain = false;
  var retry = 500;
  var connected = false;
  // One refresh at a time; an event during one asks for another after it,
  // so the page ends as the server last said.
  var refreshing = false;
  var again = false;
  // Something changed while the page was hidden: read it when it shows.
  var stale = false;

  function seqOf(li) { return parseInt(li.getAttribute("data-seq"), 10); }

  function has(seq) { return list && list.querySelector('li[data-seq="' + seq + '"]'); }

  function nearBottom() {
    return !list || list.scrollHeight - list.scrollTop - list.clientHeight < 48;
  }

  function toBottom() {
    if (list) { list.scrollTop = list.scrollHeight; }
  }

  // Puts a message in its place by number, whatever order events came in.
  function place(li) {
    var seq = seqOf(li);
    var empty = list.querySelector(".empty");
    if (empty) { empty.remove(); }
    var items = list.querySelectorAll("li[data-seq]");
    var before = null;
    for (var i = 0; i < items.length; i += 1) {
      if (seqOf(items[i]) > seq) { before = items[i]; break; }
    }
    list.insertBefore(li, before);
    if (seq > lastSeq) { lastSeq = seq; receipt(); }
  }

  // M8, for staff: whether the client has read the latest message, from
  // the highest message she has read (`read`, when an event tells it).
  function receipt(read) {
    var node = document.getElementById("receipt");
    if (!node && read === undefined) { return; }
    if (!node) {
      node = document.createElement("p");
      node.className = "muted small receipt";
      node.id = "receipt";
      list.after(node);
    }
    if (read !== undefined) { node.setAttribute("data-read", String(read)); }
    var seq = parseInt(node.getAttribute("data-read") || "0", 10);
    node.textContent = seq >= lastSeq ? "Read by the client"
      : seq > 0 ? "Read up to an earlier message" : "Not read yet";
  }

  // A message as an event or a send's answer tells it, until the page's
  // own markup replaces it.
  function append(m) {
    if (!list || has(m.seq)) { return; }
    var follow = nearBottom();
    var li = document.createElement("li");
    li.setAttribute("data-seq", String(m.seq));
    li.id = "m" + m.seq;
    var meta = document.createElement("p");
    meta.className = "meta";
    var who = document.createElement("strong");
    who.textContent = m.sender_name || "";
    var when = document.createElement("span");
    when.className = "muted small";
    when.textContent = m.at || "";
    meta.appendChild(who);
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(when);
    var body = document.createElement("p");
    body.className = "body";
    body.textContent = m.body || "";
    li.appendChild(meta);
    li.appendChild(body);
    place(li);
    if (follow) { toBottom(); }
  }

  // Replaces (or adds, or removes) the element `selector` with the one in
  // the page read again; `put` adds it where it belongs.
  function swap(selector, doc, put) {
    var now = document.querySelector(selector);
    var fresh = doc.querySelector(selector);
    if (!fresh) {
      if (now) { now.remove(); }
      return;
    }
    if (now && now.outerHTML === fresh.outerHTML) { return; }
    fresh = document.importNode(fresh, true);
    if (now) { now.replaceWith(fresh); } else { put(fresh); }
  }

  function merge(doc) {
    var fresh = doc.getElementById("messages");
    if (!list || !fresh) { return; }
    var follow = nearBottom();
    fresh.querySelectorAll("li[data-seq]").forEach(function (item) {
      if (seqOf(item) > shown) { shown = seqOf(item); }
      var now = has(seqOf(item));
      if (now && now.outerHTML === item.outerHTML) { return; }
      var copy = document.importNode(item, true);
      if (!now) { place(copy); return; }
      // Keep a React menu open that the person opened.
      var open = now.querySelector("details[open]");
      var menu = copy.querySelector("details");
      if (open && menu) { menu.open = true; }
      now.replaceWith(copy);
    });
    swap("aside.pinned", doc, function (node) { list.parentNode.insertBefore(node, list); });
    swap("#receipt", doc, function (node) { list.after(node); });
    if (follow) { toBottom(); }
  }

  // Reads the open chat's page again and shows what changed. Reading it
  // marks the chat read for the person looking, so a hidden page waits
  // until it is shown.
  function refresh() {
    if (!chatUrl) { return; }
    if (document.visibilityState === "hidden") { stale = true; return; }
    if (refreshing) { again = true; return; }
    refreshing = true;
    fetch(chatUrl, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html) { merge(new DOMParser().parseFromString(html, "text/html")); }
      })
      .catch(function () {})
      .then(function () {
        refreshing = false;
        if (again) { again = false; refresh(); }
      });
  }

  // Reads the messages after the last one shown in the page's markup, as
  // the page shows them, and puts them in place. It tells the server they
  // were read, so a hidden page waits until it is shown.
  function more() {
    if (!chatUrl) { return; }
    if (document.visibilityState === "hidden") { stale = true; return; }
    if (reading) { readAgain = true; return; }
    reading = true;
    fetch(chatUrl + "/after/" + shown, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null || !list) { return; }
        var doc = new DOMParser().parseFromString("<ol>" + html + "</ol>", "text/html");
        var items = doc.querySelectorAll("li[data-seq]");
        var follow = nearBottom();
        items.forEach(function (item) {
          var copy = document.importNode(item, true);
          var now = has(seqOf(copy));
          if (now) { now.replaceWith(copy); } else { place(copy); }
          if (seqOf(copy) > shown) { shown = seqOf(copy); }
        });
        if (follow) { toBottom(); }
        // A page at a time: more may be waiting.
        if (items.length >= 50) { readAgain = true; }
      })
      .catch(function () {})
      .then(function () {
        reading = false;
        if (readAgain) { readAgain = false; more(); }
      });
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
      link.insertBefore(badge, link.querySelector(".preview"));
    }
    badge.textContent = String(parseInt(badge.textContent, 10) + 1);
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    // The open chat is named, so what arrives here counts as seen (N2).
    var socket = new WebSocket(scheme + location.host + "/ws" + (openChat ? "?chat=" + encodeURIComponent(openChat) : ""));
    socket.onopen = function () {
      retry = 500;
      // Reactions and pins may have changed while it was away too.
      if (connected) { refresh(); }
      connected = true;
      // What came while the socket was away: after a drop, or between
      // the page's load and the socket's opening.
      more();
    };
    socket.onmessage = function (e) {
      var event;
      try { event = JSON.parse(e.data); } catch (_) { return; }
      document.dispatchEvent(new CustomEvent("portico:live", { detail: event }));
      if (event.kind === "message") {
        if (event.chat === openChat) {
          // A long message may come without its text: the markup brings it.
          if (event.body) { append(event); }
          more();
        } else {
          bumpUnread(event.chat);
        }
      } else if (event.kind === "read" && event.chat === openChat) {
        // "read" comes to staff only.
        receipt(event.seq);
      } else if (event.kind === "changed" && event.chat === openChat) {
        refresh();
      }
    };
    socket.onclose = function (e) {
      // 4001: the session ended (signed out, elsewhere too): the page
      // reloads to the sign-in page instead of reconnecting.
      if (e.code === 4001) { location.reload(); return; }
      // 1012: this server is restarting; come back to another one after a
      // random pause, so that all its pages do not return at once.
      setTimeout(connect, e.code === 1012 ? 250 + Math.random() * 3000 : retry * (0.5 + Math.random()));
      retry = Math.min(retry * 2, 15000);
    };
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && stale) {
      stale = false;
      refresh();
    }
  });

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
        if (!r.ok) { form.submit(); return; }
        return r.json().then(function (m) {
          append(m);
          toBottom();
          form.querySelector("textarea").value = "";
          form.querySelector("textarea").dispatchEvent(new Event("input"));
          // The next message is not the client's status unless ticked again.
          var status = form.querySelector('[name="status"]');
          if (status) { status.checked = false; }
          // A fresh key for the next message; a retry of this one reuses it.
          form.querySelector('[name="key"]').value = m.next_key;
          // The next message is no longer a reply.
          var reply = form.querySelector('[name="reply_to"]');
          if (reply) {
            var note = reply.nextElementSibling;
            if (note && note.tagName === "P") { note.remove(); }
            reply.remove();
            history.replaceState(null, "", chatUrl);
          }
          more();
        });
      }).catch(function () { form.submit(); });
    });
  }

  toBottom();
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
        document.dispatchEvent(new CustomEvent("portico:live", { detail: event }));
        if (event.kind === "message") { if (!list.hidden) { load(); } else { show(unread + 1); } }
      };
      socket.onclose = function (e) {
        if (e.code === 4001) { location.reload(); return; }
        setTimeout(listen, e.code === 1012 ? 250 + Math.random() * 3000 : wait * (0.5 + Math.random()));
        wait = Math.min(wait * 2, 15000);
      };
    }());
  }
}());

// ---------------------------------------------------------------------
// Notifications (N1, S4): the staff "Portal chat" alert bar and the count
// in the top bar; the portal's unread count on its Messages link. Events
// come from the page's own socket (passed on as "portico:live" above) or,
// on a page without one, from a socket this part opens.
(function () {
  "use strict";
  var bar = document.querySelector("[data-alert-bar]");
  var count = document.querySelector("[data-alert-count]");
  var portal = document.querySelector("[data-portal-unread]");
  if (!bar && !portal) { return; }
  var pageSocket = document.querySelector("[data-live]") || document.querySelector("[data-dock]");

  function listen(handler) {
    document.addEventListener("portico:live", function (e) { handler(e.detail); });
    if (pageSocket) { return; }
    var wait = 500;
    (function open() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + "/ws");
      socket.onopen = function () { wait = 500; };
      socket.onmessage = function (e) {
        var event;
        try { event = JSON.parse(e.data); } catch (_) { return; }
        handler(event);
      };
      socket.onclose = function (e) {
        if (e.code === 4001) { location.reload(); return; }
        setTimeout(open, e.code === 1012 ? 250 + Math.random() * 3000 : wait * (0.5 + Math.random()));
        wait = Math.min(wait * 2, 15000);
      };
    }());
  }

  function showCount(badge, n) {
    badge.hidden = !(n > 0);
    badge.textContent = String(n);
  }

  if (portal) {
    var loadPortal = function () {
      fetch("/portal/messages/unread", { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data) { showCount(portal, data.count); } })
        .catch(function () {});
    };
    loadPortal();
    listen(function (event) {
      // The chat page marks what it shows read first; read the count after.
      if (event.kind === "message") { setTimeout(loadPortal, 300); }
    });
    return;
  }

  var settings = { alerts: true, sound: false };
  var unread = 0;
  var text = bar.querySelector("[data-alert-text]");
  var open = bar.querySelector("[data-alert-open]");
  var ask = bar.querySelector("[data-alert-browser]");

  function beep() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return; }
    try {
      var ctx = new Ctx();
      var tone = ctx.createOscillator();
      var gain = ctx.createGain();
      tone.frequency.value = 880;
      gain.gain.value = 0.05;
      tone.connect(gain);
      gain.connect(ctx.destination);
      tone.start();
      tone.stop(ctx.currentTime + 0.15);
    } catch (_) { /* no sound is fine */ }
  }

  fetch("/app/alerts/count", { headers: { Accept: "application/json" } })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (data) {
      if (!data) { return; }
      settings = data;
      unread = data.count;
      if (count) { showCount(count, unread); }
    })
    .catch(function () {});

  if (ask && "Notification" in window && Notification.permission === "default") {
    // Asked only when the person clicks, never on page load.
    ask.addEventListener("click", function () {
      Notification.requestPermission().then(function () { ask.hidden = true; });
    });
  }

  bar.querySelector("[data-alert-dismiss]").addEventListener("click", function () {
    bar.hidden = true;
  });

  listen(function (event) {
    if (event.kind !== "alert") { return; }
    unread += 1;
    if (count) { showCount(count, unread); }
    if (!settings.alerts) { return; }
    text.textContent = event.body || "A client wrote.";
    open.href = "/app/alerts/chat/" + encodeURIComponent(event.chat);
    if (ask) { ask.hidden = !("Notification" in window && Notification.permission === "default"); }
    bar.hidden = false;
    if (settings.sound) { beep(); }
    if ("Notification" in window && Notification.permission === "granted" && document.visibilityState !== "visible") {
      var shown = new Notification("Portal chat", { body: text.textContent });
      shown.onclick = function () { window.focus(); location.href = open.href; };
    }
  });
// ---- Messaging preferences (S1, S6) -------------------------------------
// S1: what Enter does in a chat's text box, as the person chose
// (`data-enter` on the form): "send" (Shift+Enter for a new line) or
// "newline" (Ctrl/Cmd+Enter sends). S6: a live count of characters against
// the text box's `maxlength`. Without the script the button sends and the
// server refuses what is too long, the draft kept.
(function () {
  "use strict";
  var form = document.querySelector("form[data-send][data-enter]");
  if (!form) { return; }
  var box = form.querySelector("textarea");
  if (!box) { return; }
  var enterSends = form.getAttribute("data-enter") === "send";
  box.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || e.isComposing) { return; }
    var modified = e.ctrlKey || e.metaKey;
    if (modified || (enterSends && !e.shiftKey && !e.altKey)) {
      e.preventDefault();
      if (box.value.trim() !== "") { form.requestSubmit(); }
    }
  });
  var counter = form.querySelector("[data-counter]");
  var max = parseInt(box.getAttribute("data-max") || "0", 10);
  if (counter && max > 0) {
    var count = function () {
      var used = Array.from(box.value).length;
      counter.textContent = used + " / " + max;
      counter.classList.toggle("over", used >= max);
    };
    box.addEventListener("input", count);
    count();
  }
}());
