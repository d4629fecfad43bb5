// Portico's service worker (X12). It shows Web Push notifications and opens
// the place a notification names, and nothing else: it has no fetch handler
// and keeps no cache, so no private page is ever stored on the device.
"use strict";

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = {};
  }
  var title = data.title || "New message";
  event.waitUntil(
    self.registration.showNotification(title, {
      body: data.body || "",
      tag: data.tag || "portico",
      icon: "/static/icon-192.png",
      data: { url: data.url || "/portal" }
    })
  );
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = new URL((event.notification.data && event.notification.data.url) || "/portal", self.location.origin);
  // Only ever a page of this portal. The link marks the push opened on the
  // server, so the same items are not also e-mailed.
  if (url.origin !== self.location.origin) {
    return;
  }
  event.waitUntil(self.clients.openWindow(url.href));
});
