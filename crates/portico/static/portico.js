// Portico's one script: live updates for the Messages page over a
// WebSocket, the chat's menus, replies, files and voice notes without a
// reload, and the docked messenger on staff pages. Pages work without it;
// it only makes them live.
//
// A message that arrives is shown at once from the event, as text; then
// the messages after the last one the page has in its own markup are read
// (which also tells the server they were read, M8) and that markup takes
// the place of what the event showed. Only rarer changes (reactions, pins,
// deletions, people added) and a socket coming back read the whole chat
// page again.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // ---- Shared: one socket per page, the top bar's unread count ----------

  var listeners = [];
  var reconnected = [];
  function onEvent(fn) { listeners.push(fn); }
  function onReconnect(fn) { reconnected.push(fn); }

  function connect() {
    var retry = 500;
    var connected = false;
    (function open() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      // The chat open on this page is named, so what arrives for it counts
      // as seen and is not notified by e-mail (N2).
      var live = document.querySelector("[data-live]");
      var chat = live ? live.getAttribute("data-chat") : null;
      var socket = new WebSocket(scheme + location.host + "/ws" + (chat ? "?chat=" + encodeURIComponent(chat) : ""));
      socket.onopen = function () {
        retry = 500;
        var again = connected;
        connected = true;
        reconnected.forEach(function (fn) { fn(again); });
      };
      // Each event is a LiveEvent (src/delivery/live.rs) named by its
      // "kind": message, read, changed, deleted or alert.
      socket.onmessage = function (e) {
        var event;
        try { event = JSON.parse(e.data); } catch (_) { return; }
        listeners.forEach(function (fn) { fn(event); });
        // The notifications part of this script listens here too.
        document.dispatchEvent(new CustomEvent("portico:live", { detail: event }));
      };
      socket.onclose = function (e) {
        // 4001: the session ended (signed out, elsewhere too): the page
        // reloads to the sign-in page instead of reconnecting.
        if (e.code === 4001) { location.reload(); return; }
        // 1012: this server is restarting; come back to another one after
        // a random pause, so that all its pages do not return at once.
        setTimeout(open, e.code === 1012 ? 250 + Math.random() * 3000 : retry * (0.5 + Math.random()));
        retry = Math.min(retry * 2, 15000);
      };
    }());
  }

  var unreadLink = document.querySelector("[data-messages-link]");
  var unreadUrl = unreadLink ? unreadLink.getAttribute("href") + "/dock" : null;
  var counting = false;
  var countAgain = false;

  // `text` is the count as the server shows it ("1000+" when a chat has
  // more unread than it counts).
  function showUnread(count, text) {
    if (!unreadLink) { return; }
    var badge = unreadLink.querySelector(".badge");
    if (count > 0) {
      if (!badge) {
        badge = document.createElement("span");
        badge.className = "badge unread";
        unreadLink.appendChild(document.createTextNode(" "));
        unreadLink.appendChild(badge);
      }
      badge.textContent = text || String(count);
      unreadLink.setAttribute("aria-label", "Messages, " + (text || count) + " unread");
    } else {
      if (badge) { badge.remove(); }
      unreadLink.removeAttribute("aria-label");
    }
  }

  // The top bar's Messages count, as the server says it now.
  function countUnread() {
    if (!unreadUrl) { return; }
    if (counting) { countAgain = true; return; }
    counting = true;
    fetch(unreadUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { showUnread(data.unread, data.unread_text); } })
      .catch(function () {})
      .then(function () {
        counting = false;
        if (countAgain) { countAgain = false; setTimeout(countUnread, 200); }
      });
  }

  function csrfToken() {
    var input = document.querySelector('input[name="csrf"]');
    return input ? input.value : "";
  }

  var dock = document.querySelector("[data-dock]");
  var root = document.querySelector("[data-live]");
  if (!unreadLink && !dock && !root) { return; }

  onEvent(function (event) {
    if (event.kind === "message" || event.kind === "read") { countUnread(); }
  });
  onReconnect(function () { countUnread(); });

  if (root) { startMessenger(root); }
  if (dock && !root) { startDock(dock); }
  connect();

  // ---- The Messages page -------------------------------------------------

  function startMessenger(root) {
    var base = root.getAttribute("data-base");
    var openChat = root.getAttribute("data-chat");
    var chatUrl = openChat ? base + "/" + openChat : null;
    var lastSeq = parseInt(root.getAttribute("data-seq") || "0", 10);
    var list = document.getElementById("messages");
    // The last message shown in the page's own markup (not an event's text).
    var shown = lastSeq;
    var reading = false;
    var readAgain = false;
    // One refresh at a time; an event during one asks for another after
    // it, so the page ends as the server last said.
    var refreshing = false;
    var again = false;
    // Something changed while the page was hidden: read it when it shows.
    var stale = false;

    function seqOf(li) { return parseInt(li.getAttribute("data-seq"), 10); }

    function has(seq) { return list && list.querySelector('li[data-seq="' + seq + '"]'); }

    // The page scrolls as a whole (no box inside it does).
    function nearBottom() {
      var doc = document.documentElement;
      return doc.scrollHeight - window.scrollY - window.innerHeight < 120;
    }

    function toBottom() { window.scrollTo(0, document.documentElement.scrollHeight); }

    // X1: a link to one message (`#m<seq>`, from search) lands on it, not
    // at the newest message.
    function toStart() {
      var target = /^#m[0-9]+$/.test(location.hash) ? document.getElementById(location.hash.slice(1)) : null;
      if (target) { target.scrollIntoView({ block: "center" }); } else { toBottom(); }
    }

    function dayKey(ms) {
      var d = new Date(ms);
      return d.getFullYear() + "-" + d.getMonth() + "-" + d.getDate();
    }

    function dayLabel(ms) {
      var now = new Date();
      var yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
      if (dayKey(ms) === dayKey(now.getTime())) { return "Today"; }
      if (dayKey(ms) === dayKey(yesterday.getTime())) { return "Yesterday"; }
      return new Date(ms).toLocaleDateString(undefined, { day: "numeric", month: "long", year: "numeric" });
    }

    // Day separators and grouped messages, in the reader's own time zone.
    function regroup() {
      if (!list) { return; }
      var prev = null;
      list.querySelectorAll("li[data-seq]").forEach(function (li) {
        var at = parseInt(li.getAttribute("data-at") || "0", 10);
        var sep = li.querySelector(":scope > .day-sep");
        var newDay = !prev || !at || dayKey(at) !== dayKey(parseInt(prev.getAttribute("data-at") || "0", 10));
        if (newDay && at) {
          if (!sep) {
            sep = document.createElement("p");
            sep.className = "day-sep";
            sep.appendChild(document.createElement("span"));
            li.insertBefore(sep, li.firstChild);
          }
          sep.firstChild.textContent = dayLabel(at);
        } else if (sep) {
          sep.remove();
        }
        var same = prev && !newDay && prev.getAttribute("data-sender") === li.getAttribute("data-sender");
        li.classList.toggle("cont", !!same);
        prev = li;
      });
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
      // A pending message of mine goes below what others sent meanwhile.
      if (!before) { before = list.querySelector("li.pending"); }
      list.insertBefore(li, before);
      if (seq > lastSeq) { lastSeq = seq; receipt(); }
    }

    // M8, for staff: whether the client has read the latest message.
    function receipt(read) {
      var node = document.getElementById("receipt");
      if (!node && read === undefined) { return; }
      if (node && node.hasAttribute("data-group")) { refresh(); return; }
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
    function append(m, mine) {
      if (!list || has(m.seq)) { return; }
      var follow = mine || nearBottom();
      var li = document.createElement("li");
      li.setAttribute("data-seq", String(m.seq));
      li.setAttribute("data-at", String(Date.now()));
      li.className = "msg " + (mine ? "mine" : "theirs");
      li.id = "m" + m.seq;
      li.appendChild(bubble(m.sender_name, m.at, m.body));
      place(li);
      regroup();
      if (follow) { toBottom(); }
    }

    function bubble(name, at, text) {
      var box = document.createElement("div");
      box.className = "bubble";
      var meta = document.createElement("p");
      meta.className = "meta";
      var who = document.createElement("strong");
      who.className = "who";
      who.textContent = name || "";
      var when = document.createElement("span");
      when.className = "muted small when";
      when.textContent = at || "";
      meta.appendChild(who);
      meta.appendChild(document.createTextNode(" "));
      meta.appendChild(when);
      box.appendChild(meta);
      if (text) {
        var body = document.createElement("p");
        body.className = "body";
        body.textContent = text;
        box.appendChild(body);
      }
      return box;
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
      if (fresh.tagName === "DETAILS" && now && now.open) { fresh.open = true; }
      if (now) { now.replaceWith(fresh); } else { put(fresh); }
    }

    function putEvents(doc) {
      doc.querySelectorAll("#messages li.event").forEach(function (item) {
        var id = item.getAttribute("data-event");
        if (list.querySelector('li[data-event="' + id + '"]')) { return; }
        var copy = document.importNode(item, true);
        var after = has(item.getAttribute("data-after"));
        if (after) {
          var next = after.nextElementSibling;
          while (next && next.classList.contains("event")) { next = next.nextElementSibling; }
          list.insertBefore(copy, next);
        } else {
          list.insertBefore(copy, list.querySelector("li[data-seq]"));
        }
      });
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
        // Keep a menu open that the person opened.
        var open = now.querySelector("details.msg-menu[open]");
        var menu = copy.querySelector("details.msg-menu");
        if (open && menu) { menu.open = true; }
        now.replaceWith(copy);
      });
      putEvents(doc);
      swap("aside.pinned", doc, function (node) { list.parentNode.insertBefore(node, list); });
      swap("#receipt", doc, function (node) { list.after(node); });
      swap("#files-panel", doc, function () {});
      swap("details.people", doc, function () {});
      var title = doc.querySelector(".chat-head h2");
      var mine = document.querySelector(".chat-head h2");
      if (title && mine && title.textContent !== mine.textContent) { mine.textContent = title.textContent; }
      regroup();
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
          var doc = new DOMParser().parseFromString("<ol id=\"messages\">" + html + "</ol>", "text/html");
          var items = doc.querySelectorAll("li[data-seq]");
          var follow = nearBottom();
          items.forEach(function (item) {
            var copy = document.importNode(item, true);
            var now = has(seqOf(copy));
            if (now) { now.replaceWith(copy); } else { place(copy); }
            if (seqOf(copy) > shown) { shown = seqOf(copy); }
          });
          putEvents(doc);
          regroup();
          if (follow) { toBottom(); }
          countUnread();
          // A page at a time: more may be waiting.
          if (items.length >= 50) { readAgain = true; }
        })
        .catch(function () {})
        .then(function () {
          reading = false;
          if (readAgain) { readAgain = false; more(); }
        });
    }

    // The chat list follows the messages: the latest chat first (after the
    // starred ones), its preview, its unread count.
    // A chat the list does not show yet (someone just started it): the
    // list is read again from the server, as the page would show it.
    var listing = false;
    function reloadList() {
      var ul = document.querySelector(".chat-list ul");
      if (!ul || listing) { return; }
      listing = true;
      var unread = /[?&]filter=unread/.test(location.search);
      fetch(base + (unread ? "?filter=unread" : "?filter=all"), { headers: { Accept: "text/html" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html").querySelector(".chat-list ul");
          if (!fresh) { return; }
          var current = openChat && fresh.querySelector('[data-chat-item="' + openChat + '"]');
          fresh.querySelectorAll('[aria-current]').forEach(function (li) { li.removeAttribute("aria-current"); });
          if (current) { current.setAttribute("aria-current", "true"); }
          ul.replaceWith(document.importNode(fresh, true));
        })
        .catch(function () {})
        .then(function () { listing = false; });
    }

    function listMessage(event) {
      var item = document.querySelector('[data-chat-item="' + event.chat + '"]');
      if (!item) { reloadList(); return; }
      var preview = item.querySelector("[data-preview]");
      if (preview && event.body) {
        preview.textContent = (event.sender_name ? event.sender_name + ": " : "") + event.body;
      }
      if (event.chat !== openChat) {
        var link = item.querySelector("a");
        var badge = link.querySelector("[data-unread]");
        if (!badge) {
          badge = document.createElement("span");
          badge.className = "badge unread";
          badge.setAttribute("data-unread", "");
          badge.textContent = "0";
          link.insertBefore(badge, preview);
        }
        // The server counts each chat's newest `data-counted` messages:
        // beyond them, the badge reads "1000+", and stays so.
        if (!/\+$/.test(badge.textContent)) {
          var list = item.closest("[data-counted]");
          var counted = list ? parseInt(list.getAttribute("data-counted"), 10) : NaN;
          var n = parseInt(badge.textContent, 10) + 1;
          badge.textContent = n > counted ? counted + "+" : String(n);
        }
      }
      var parent = item.parentNode;
      var first = parent.firstElementChild;
      if (!item.hasAttribute("data-starred")) {
        while (first && first.hasAttribute("data-starred")) { first = first.nextElementSibling; }
      }
      if (first !== item) { parent.insertBefore(item, first); }
    }

    onReconnect(function (again) {
      // Reactions and pins may have changed while it was away too.
      if (again) { refresh(); }
      // What came while the socket was away, or before it opened.
      more();
    });

    onEvent(function (event) {
      if (event.kind === "message") {
        listMessage(event);
        if (event.chat === openChat) {
          // A long message may come without its text: the markup brings it.
          if (event.body) { append(event, false); }
          more();
        }
      } else if (event.kind === "read" && event.chat === openChat) {
        // "read" comes to staff only.
        receipt(event.seq);
      } else if (event.kind === "changed" && event.chat === openChat) {
        refresh();
      }
    });

    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && stale) {
        stale = false;
        refresh();
        more();
      }
    });

    // ---- Menus: one open at a time; long-press opens a message's menu ----

    document.addEventListener("toggle", function (e) {
      var opened = e.target;
      if (!opened.open || !opened.matches || !opened.matches("details.msg-menu, details.chat-menu, details.attach")) { return; }
      document.querySelectorAll("details.msg-menu[open], details.chat-menu[open], details.attach[open]").forEach(function (d) {
        if (d !== opened) { d.open = false; }
      });
    }, true);

    document.addEventListener("click", function (e) {
      if (e.target.closest("details.msg-menu, details.chat-menu, details.attach")) { return; }
      document.querySelectorAll("details.msg-menu[open], details.chat-menu[open], details.attach[open]").forEach(function (d) {
        d.open = false;
      });
    });

    var pressTimer = null;
    var pressOpened = false;
    if (list) {
      list.addEventListener("touchstart", function (e) {
        pressOpened = false;
        var li = e.target.closest("li.msg");
        if (!li || e.target.closest("a, button, audio, summary")) { return; }
        pressTimer = setTimeout(function () {
          pressTimer = null;
          var menu = li.querySelector("details.msg-menu");
          if (menu) {
            menu.open = true;
            pressOpened = true;
            if (navigator.vibrate) { navigator.vibrate(10); }
          }
        }, 450);
      }, { passive: true });
      ["touchmove", "touchcancel"].forEach(function (name) {
        list.addEventListener(name, function () {
          if (pressTimer) { clearTimeout(pressTimer); pressTimer = null; }
        }, { passive: true });
      });
      // The finger lifted after a long press: no click follows, which
      // would close the menu it just opened.
      list.addEventListener("touchend", function (e) {
        if (pressTimer) { clearTimeout(pressTimer); pressTimer = null; }
        if (pressOpened) {
          pressOpened = false;
          e.preventDefault();
        }
      });
      list.addEventListener("contextmenu", function (e) {
        var li = e.target.closest("li.msg");
        if (li && e.target.closest(".bubble") && !e.target.closest("a, img, audio") &&
            window.matchMedia("(hover: none)").matches) {
          e.preventDefault();
        }
      });
    }

    // ---- Actions (react, pin, mark unread, delete) without a reload ----

    document.addEventListener("submit", function (e) {
      var form = e.target;
      if (!form.matches || !form.matches("form[data-action]")) { return; }
      e.preventDefault();
      var data = new URLSearchParams(new FormData(form));
      if (e.submitter && e.submitter.name) { data.set(e.submitter.name, e.submitter.value); }
      var action = data.get("action") || "";
      var menu = form.closest("details.msg-menu");
      if (menu) { menu.open = false; }
      // Not form.action: its buttons are named "action".
      fetch(form.getAttribute("action"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: data.toString()
      }).then(function (r) {
        if (!r.ok) { return r.text().then(function (t) { showError(t || "That did not work. Try again."); }); }
        if (action === "unread") { location.href = base; return; }
        refresh();
      }).catch(function () { showError("You are offline: that was not done. Try again when you are back online."); });
    });

    // ---- The composer: one form for text, replies, files, voice notes ----

    var form = document.querySelector("form[data-send]");
    if (!form) { regroup(); toStart(); return; }
    var textarea = form.querySelector("textarea");
    var keyInput = form.querySelector('[name="key"]');
    var replying = form.querySelector("[data-replying]");
    var chosen = form.querySelector("[data-chosen]");
    var fileInputs = form.querySelectorAll('input[type="file"]');

    function showError(text) {
      var node = document.getElementById("message-error");
      if (!node) {
        node = document.createElement("p");
        node.className = "field-error";
        node.id = "message-error";
        node.setAttribute("role", "alert");
        form.insertBefore(node, replying);
      }
      node.textContent = text;
      textarea.setAttribute("aria-invalid", "true");
      textarea.setAttribute("aria-describedby", "message-error");
    }

    function clearError() {
      var node = document.getElementById("message-error");
      if (node) { node.remove(); }
      textarea.removeAttribute("aria-invalid");
      textarea.removeAttribute("aria-describedby");
    }

    function setReply(seq, name, text) {
      var input = form.querySelector('[name="reply_to"]');
      if (seq === null) {
        if (input) { input.remove(); }
        replying.hidden = true;
        return;
      }
      if (!input) {
        input = document.createElement("input");
        input.type = "hidden";
        input.name = "reply_to";
        replying.insertBefore(input, replying.firstChild);
      }
      input.value = String(seq);
      replying.querySelector("[data-reply-name]").textContent = name;
      replying.querySelector("[data-reply-text]").textContent = text;
      replying.hidden = false;
    }

    document.addEventListener("click", function (e) {
      var reply = e.target.closest("[data-reply]");
      if (reply) {
        e.preventDefault();
        var li = reply.closest("li.msg");
        var name = li.querySelector(".who");
        var body = li.querySelector(".bubble .body");
        setReply(reply.getAttribute("data-reply"), name ? name.textContent : "",
          body ? body.textContent : "A file");
        var menu = reply.closest("details");
        if (menu) { menu.open = false; }
        textarea.focus();
        return;
      }
      if (e.target.closest("[data-cancel-reply]")) {
        e.preventDefault();
        setReply(null);
        history.replaceState(null, "", chatUrl);
      }
    });

    function chosenFiles() {
      var files = [];
      fileInputs.forEach(function (input) {
        for (var i = 0; i < input.files.length; i += 1) { files.push(input.files[i]); }
      });
      return files;
    }

    fileInputs.forEach(function (input) {
      input.addEventListener("change", function () {
        var files = chosenFiles();
        chosen.hidden = files.length === 0;
        chosen.textContent = files.length ? "To send: " + files.map(function (f) { return f.name; }).join(", ") : "";
        var attach = form.querySelector("details.attach");
        if (attach) { attach.open = false; }
        clearError();
      });
    });

    // A message on its way: shown at once, "Not sent — Retry" if the
    // network fails, retried with the same key (so it is stored once).
    function pendingBubble(text, files) {
      var li = document.createElement("li");
      li.className = "msg mine pending";
      li.setAttribute("data-sender", "me");
      var box = bubble("", "Sending…", text || files.map(function (f) { return f.name; }).join(", "));
      li.appendChild(box);
      var empty = list.querySelector(".empty");
      if (empty) { empty.remove(); }
      list.appendChild(li);
      toBottom();
      return li;
    }

    function post(request, pending, onSent) {
      pending.classList.remove("failed");
      pending.querySelector(".when").textContent = "Sending…";
      var old = pending.querySelector(".retry");
      if (old) { old.remove(); }
      return fetch(request.url, {
        method: "POST",
        credentials: "same-origin",
        headers: request.headers,
        body: request.body
      }).then(function (r) {
        return r.json().catch(function () { return { error: "That was not sent. Try again." }; })
          .then(function (answer) {
            if (!r.ok || answer.error) {
              pending.remove();
              showError(answer.error || "That was not sent. Try again.");
              return;
            }
            pending.remove();
            append(answer, true);
            if (onSent) { onSent(); }
            keyInput.value = answer.next_key;
            more();
            countUnread();
          });
      }).catch(function () {
        pending.classList.add("failed");
        pending.querySelector(".when").textContent = "Not sent";
        var retry = document.createElement("button");
        retry.type = "button";
        retry.className = "link-button retry";
        retry.textContent = "Retry";
        retry.addEventListener("click", function () {
          pending.setAttribute("data-retried", "");
          post(request, pending, onSent);
        });
        pending.querySelector(".meta").appendChild(document.createTextNode(" "));
        pending.querySelector(".meta").appendChild(retry);
      });
    }

    function send(extraFile) {
      var files = chosenFiles();
      if (extraFile) { files.push(extraFile); }
      var text = textarea.value;
      if (!text.trim() && files.length === 0) { showError("Write a message."); textarea.focus(); return; }
      clearError();
      var request;
      if (files.length || extraFile) {
        var data = new FormData(form);
        data.delete("files");
        files.forEach(function (f) { data.append("files", f, f.name); });
        request = { url: form.getAttribute("action"), headers: { Accept: "application/json" }, body: data };
      } else {
        var fields = new URLSearchParams(new FormData(form));
        fields.delete("files");
        request = {
          url: form.getAttribute("data-text-action"),
          headers: { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" },
          body: fields.toString()
        };
      }
      var pending = pendingBubble(text, files);
      // The box is emptied for the next message; the one on its way keeps
      // its words in its bubble (and its retry).
      textarea.value = "";
      textarea.dispatchEvent(new Event("input"));
      fileInputs.forEach(function (input) { input.value = ""; });
      chosen.hidden = true;
      chosen.textContent = "";
      setReply(null);
      ["status", "urgent"].forEach(function (name) {
        var box = form.querySelector('[name="' + name + '"]');
        if (box) { box.checked = false; }
      });
      if (location.search) { history.replaceState(null, "", chatUrl); }
      // Sent after a retry: the draft kept in the box goes, unless it was
      // changed meanwhile.
      var onSent = function () {
        if (pending.hasAttribute("data-retried") && textarea.value === text) {
          textarea.value = "";
          textarea.dispatchEvent(new Event("input"));
        }
      };
      post(request, pending, onSent).then(function () {
        if (pending.classList.contains("failed") && !textarea.value) {
          // The draft stays where it was written too.
          textarea.value = text;
        }
      });
    }

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      send(null);
    });

    // ---- A voice note recorded in the browser ----------------------------

    var recordButton = form.querySelector("[data-record]");
    var recorderBar = form.querySelector("[data-recorder]");
    if (recordButton && window.MediaRecorder && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
      recordButton.hidden = false;
      var recorder = null;
      var chunks = [];
      var cancelled = false;
      var started = 0;
      var ticker = null;
      var clock = recorderBar.querySelector("[data-rec-time]");
      var stopTracks = function (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); };
      recordButton.addEventListener("click", function () {
        var attach = form.querySelector("details.attach");
        if (attach) { attach.open = false; }
        navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
          var types = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];
          var type = types.filter(function (t) { return MediaRecorder.isTypeSupported(t); })[0];
          recorder = type ? new MediaRecorder(stream, { mimeType: type }) : new MediaRecorder(stream);
          chunks = [];
          cancelled = false;
          recorder.ondataavailable = function (e) { if (e.data && e.data.size) { chunks.push(e.data); } };
          recorder.onstop = function () {
            stopTracks(stream);
            clearInterval(ticker);
            recorderBar.hidden = true;
            if (cancelled || chunks.length === 0) { return; }
            var mime = (recorder.mimeType || "audio/webm").split(";")[0];
            var ext = mime.indexOf("ogg") >= 0 ? "ogg" : mime.indexOf("mp4") >= 0 ? "m4a" : "webm";
            var stamp = new Date().toISOString().slice(0, 16).replace(/[-:T]/g, "");
            var file = new File(chunks, "voice-note-" + stamp + "." + ext, { type: mime });
            send(file);
          };
          recorder.start(250);
          started = Date.now();
          recorderBar.hidden = false;
          clock.textContent = "Recording 0:00";
          ticker = setInterval(function () {
            var s = Math.floor((Date.now() - started) / 1000);
            clock.textContent = "Recording " + Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
          }, 500);
        }).catch(function () {
          showError("Portico could not use the microphone. Allow it in the browser to record a voice note.");
        });
      });
      recorderBar.querySelector("[data-rec-stop]").addEventListener("click", function () {
        if (recorder && recorder.state !== "inactive") { recorder.stop(); }
      });
      recorderBar.querySelector("[data-rec-cancel]").addEventListener("click", function () {
        cancelled = true;
        if (recorder && recorder.state !== "inactive") { recorder.stop(); }
      });
    }

    regroup();
    toStart();
    // Images load after the first layout: the newest message (or the one
    // linked to) stays in view.
    window.addEventListener("load", function () { toStart(); });
  }

  // ---- The docked messenger on every other staff page (M14) -------------
  //
  // A bar with the unread count; opened, the recent chats; a chat opened
  // in it can be read and answered there. It minimises to its bar, and
  // on a phone it is a button to the full Messages page.

  function startDock(dock) {
    dock.hidden = false;
    document.body.classList.add("has-dock");
    var toggle = dock.querySelector("[data-dock-toggle]");
    var panel = dock.querySelector("[data-dock-panel]");
    var list = dock.querySelector("[data-dock-list]");
    var chatBox = dock.querySelector("[data-dock-chat]");
    var title = dock.querySelector("[data-dock-title]");
    var messages = dock.querySelector("[data-dock-messages]");
    var form = dock.querySelector("[data-dock-form]");
    var back = dock.querySelector("[data-dock-back]");
    var full = dock.querySelector("[data-dock-full]");
    var badge = dock.querySelector("[data-dock-unread]");
    var phone = window.matchMedia("(max-width: 48rem)");
    var open = null; // the chat open in the dock
    var shown = 0;
    var key = null;
    var reading = false;

    function newKey() {
      if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
      return String(Date.now()) + "-" + Math.random().toString(16).slice(2);
    }

    function show(count, text) {
      badge.hidden = count === 0;
      badge.textContent = text || String(count);
    }

    function remember() {
      try {
        sessionStorage.setItem("portico-dock", JSON.stringify({ expanded: !panel.hidden, chat: open }));
      } catch (_) {}
    }

    function setExpanded(on) {
      panel.hidden = !on;
      toggle.setAttribute("aria-expanded", on ? "true" : "false");
      dock.classList.toggle("expanded", on);
      document.body.classList.toggle("dock-open", on);
      remember();
    }

    function load() {
      fetch("/app/messages/dock", { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          show(data.unread, data.unread_text);
          showUnread(data.unread, data.unread_text);
          list.textContent = "";
          if (data.chats.length === 0) {
            var none = document.createElement("li");
            none.className = "muted small";
            none.textContent = "No chats yet.";
            list.appendChild(none);
          }
          data.chats.forEach(function (c) {
            var li = document.createElement("li");
            var a = document.createElement("a");
            a.href = "/app/messages/" + c.id;
            a.setAttribute("data-dock-open", c.id);
            a.setAttribute("data-last", String(c.last_seq));
            a.textContent = c.title;
            if (c.unread > 0) {
              var b = document.createElement("span");
              b.className = "badge unread";
              b.textContent = c.unread_text || String(c.unread);
              a.appendChild(document.createTextNode(" "));
              a.appendChild(b);
            }
            li.appendChild(a);
            list.appendChild(li);
          });
        })
        .catch(function () {});
    }

    function readMore() {
      if (!open || reading) { return; }
      reading = true;
      var chat = open;
      fetch("/app/messages/" + chat + "/after/" + shown, { headers: { Accept: "text/html" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null || chat !== open) { return; }
          var doc = new DOMParser().parseFromString("<ol>" + html + "</ol>", "text/html");
          doc.querySelectorAll("li[data-seq]").forEach(function (item) {
            var seq = parseInt(item.getAttribute("data-seq"), 10);
            var now = messages.querySelector('li[data-seq="' + seq + '"]');
            var copy = document.importNode(item, true);
            if (now) { now.replaceWith(copy); } else { messages.appendChild(copy); }
            if (seq > shown) { shown = seq; }
          });
          messages.scrollTop = messages.scrollHeight;
          countUnread();
        })
        .catch(function () {})
        .then(function () { reading = false; });
    }

    function openChat(id, name, last) {
      open = id;
      shown = Math.max(0, last - 20);
      key = newKey();
      title.textContent = name;
      full.href = "/app/messages/" + id;
      messages.textContent = "";
      list.hidden = true;
      chatBox.hidden = false;
      remember();
      readMore();
      form.querySelector("textarea").focus();
    }

    function closeChat() {
      open = null;
      chatBox.hidden = true;
      list.hidden = false;
      remember();
      load();
    }

    toggle.addEventListener("click", function () {
      if (phone.matches) { location.href = "/app/messages"; return; }
      var on = panel.hidden;
      setExpanded(on);
      if (on && !open) { load(); }
      if (on && open) { readMore(); }
    });

    list.addEventListener("click", function (e) {
      var a = e.target.closest("[data-dock-open]");
      if (!a || e.ctrlKey || e.metaKey || e.shiftKey) { return; }
      e.preventDefault();
      var name = a.firstChild ? a.firstChild.textContent : "";
      openChat(a.getAttribute("data-dock-open"), name, parseInt(a.getAttribute("data-last") || "0", 10));
    });

    back.addEventListener("click", closeChat);

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var box = form.querySelector("textarea");
      var text = box.value;
      if (!open || !text.trim()) { return; }
      var error = form.querySelector("[data-dock-error]");
      error.hidden = true;
      var data = new URLSearchParams();
      data.set("csrf", csrfToken());
      data.set("key", key);
      data.set("body", text);
      fetch("/app/messages/" + open, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" },
        body: data.toString()
      }).then(function (r) {
        return r.json().then(function (answer) {
          if (!r.ok || answer.error) {
            error.textContent = answer.error || "Not sent. Try again.";
            error.hidden = false;
            return;
          }
          box.value = "";
          key = answer.next_key;
          readMore();
        });
      }).catch(function () {
        // The words stay in the box, and the same key makes a retry one message.
        error.textContent = "Not sent: you seem to be offline. Press Send to retry.";
        error.hidden = false;
      });
    });

    form.querySelector("textarea").addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        form.requestSubmit();
      }
    });

    onEvent(function (event) {
      if (event.kind !== "message") { return; }
      if (open && event.chat === open && !panel.hidden) { readMore(); return; }
      load();
    });

    load();
    var saved = null;
    try { saved = JSON.parse(sessionStorage.getItem("portico-dock") || "null"); } catch (_) {}
    if (saved && saved.expanded && !phone.matches) {
      setExpanded(true);
      load();
      if (saved.chat) {
        fetch("/app/messages/dock", { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) {
            var c = data && data.chats.filter(function (x) { return x.id === saved.chat; })[0];
            if (c) { openChat(c.id, c.title, c.last_seq); }
          })
          .catch(function () {});
      }
    }
  }
}());

// ---------------------------------------------------------------------
// Notifications (N1, N2, S4): the staff "Portal chat" alert bar and the
// count in the top bar; on the portal's home, what waits for the contact
// (its counts and lists), redrawn live. Events come from the page's own
// socket (passed on as "portico:live" above) or, on a page without one,
// from a socket this part opens.
(function () {
  "use strict";
  var bar = document.querySelector("[data-alert-bar]");
  var count = document.querySelector("[data-alert-count]");
  var home = document.querySelector("[data-portal-home]");
  if (!bar && !home) { return; }
  var pageSocket = document.querySelector("[data-live]") || document.querySelector("[data-dock]") || document.querySelector("[data-messages-link]");

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

  if (home) {
    // The page as the server renders it now: its live parts (the list of
    // what waits, the switcher's counts) take the place of the old ones.
    var redrawing = false;
    var redrawAgain = false;
    var redraw = function () {
      if (redrawing) { redrawAgain = true; return; }
      redrawing = true;
      fetch(location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          var page = new DOMParser().parseFromString(html, "text/html");
          document.querySelectorAll("[data-live-part]").forEach(function (part) {
            var fresh = part.id ? page.getElementById(part.id) : null;
            // An open switcher stays open while its counts change.
            var open = part.querySelector("details[open]");
            if (fresh) {
              if (open && fresh.querySelector("details")) { fresh.querySelector("details").open = true; }
              part.replaceWith(fresh);
            }
          });
        })
        .catch(function () {})
        .then(function () {
          redrawing = false;
          if (redrawAgain) { redrawAgain = false; setTimeout(redraw, 200); }
        });
    };
    listen(function (event) {
      if (event.kind === "message" || event.kind === "deleted") { redraw(); }
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
}());

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

// X12: "Notify me on this device". Only on a click: the browser is asked
// for permission, the service worker registered, and the device subscribed
// with the server's VAPID key; the subscription goes to the server with
// the page's anti-forgery token. Nothing is asked when the page loads.
(function () {
  "use strict";
  var button = document.querySelector("button[data-push-key]");
  if (!button) { return; }
  var status = document.getElementById("push-status");
  var say = function (text) { if (status) { status.textContent = text; } };
  var supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  if (!supported) {
    say("This browser cannot show notifications from the portal. On an iPhone or iPad, add the portal to your Home Screen first (Share, then Add to Home Screen) and open it from there.");
    return;
  }
  button.hidden = false;
  var keyBytes = function (text) {
    var base = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base.length % 4) { base += "="; }
    var raw = atob(base);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  };
  var token = document.querySelector('input[name="csrf"]');
  button.addEventListener("click", function () {
    button.disabled = true;
    say("Asking your browser…");
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") {
        throw new Error("Notifications are blocked for this site. Allow them in your browser's settings, then try again.");
      }
      return navigator.serviceWorker.register("/sw.js").then(function () {
        return navigator.serviceWorker.ready;
      });
    }).then(function (registration) {
      return registration.pushManager.getSubscription().then(function (existing) {
        return existing || registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: keyBytes(button.getAttribute("data-push-key"))
        });
      });
    }).then(function (subscription) {
      var json = subscription.toJSON();
      var data = new URLSearchParams();
      data.set("csrf", token ? token.value : "");
      data.set("endpoint", json.endpoint || "");
      data.set("p256dh", (json.keys && json.keys.p256dh) || "");
      data.set("auth", (json.keys && json.keys.auth) || "");
      return fetch(button.getAttribute("data-push-action"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: data.toString()
      });
    }).then(function (response) {
      if (response.ok) {
        location.assign(button.getAttribute("data-push-done"));
        return null;
      }
      return response.text().then(function (text) {
        throw new Error(response.status === 422 ? text : "That did not work. Please try again.");
      });
    }).catch(function (error) {
      button.disabled = false;
      say(error && error.message ? error.message : "That did not work. Please try again.");
    });
  });
}());
