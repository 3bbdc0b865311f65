/*
 * ukeygate phone web app: service worker. It caches the app shell (the
 * page and its files under /m/) so the app opens fast and installs; it
 * never caches an API answer or a QR page (/q/…), and never answers a
 * request outside its scope. The cache name carries a digest of the
 * shell, filled in by the gateway, so a new version replaces the old one.
 */
'use strict';

var CACHE = 'ukeygate-shell-__VERSION__';
var SHELL = ['./', 'app.js', 'cosign.js', 'app.css', 'vendor/jsQR.js', 'manifest.webmanifest', 'icon.svg', 'icon-192.png', 'icon-512.png'];

self.addEventListener('install', function (e) {
  e.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(SHELL); }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener('activate', function (e) {
  e.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k.indexOf('ukeygate-shell-') === 0 && k !== CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

// shellPath returns the shell entry a request is for, or '' for anything
// else (API calls, QR pages, other files): those go to the network alone.
function shellPath(req) {
  if (req.method !== 'GET') { return ''; }
  var scope = new URL(self.registration.scope);
  var u = new URL(req.url);
  if (u.origin !== scope.origin || u.pathname.indexOf(scope.pathname) !== 0 || u.search) { return ''; }
  var rest = u.pathname.slice(scope.pathname.length);
  if (rest === '' || rest === 'index.html') { return './'; }
  return SHELL.indexOf(rest) >= 0 ? rest : '';
}

self.addEventListener('fetch', function (e) {
  var p = shellPath(e.request);
  if (!p) { return; }
  // Network first (the gateway revalidates cheaply with ETags), the cached
  // shell when offline.
  e.respondWith(fetch(e.request).then(function (resp) {
    if (resp.ok) {
      var copy = resp.clone();
      caches.open(CACHE).then(function (c) { return c.put(p, copy); });
    }
    return resp;
  }).catch(function () {
    return caches.open(CACHE).then(function (c) { return c.match(p); }).then(function (r) {
      return r || new Response('offline', { status: 503, headers: { 'Content-Type': 'text/plain' } });
    });
  }));
});
