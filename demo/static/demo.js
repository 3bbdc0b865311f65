/* ukeygate demo portal: page logic. Loaded as a file (CSP script-src 'self');
 * everything it shows is set with textContent. */
(function () {
  'use strict';

  var root = document.getElementById('demo');
  if (!root) { return; }
  var cfg = root.dataset;
  var prefix = cfg.prefix || '/demo';
  var lang = cfg.lang === 'en' ? 'en' : 'zh';
  var ttl = parseInt(cfg.ttl || '0', 10) || 0;

  function $(name) { return root.querySelector('[data-demo="' + name + '"]'); }

  function api(path, body) {
    return fetch(prefix + '/api/' + path + '?lang=' + lang, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (v) {
        if (!r.ok) {
          var e = (v && v.error) || {};
          var err = new Error(e.message || ('HTTP ' + r.status));
          err.code = e.code || 'http_' + r.status;
          throw err;
        }
        return v;
      });
    });
  }

  function showError(err) {
    var box = $('error');
    if (!box) { return; }
    if (!err) { box.hidden = true; box.textContent = ''; return; }
    box.textContent = (err.code ? '[' + err.code + '] ' : '') + (err.message || String(err));
    box.hidden = false;
  }

  function logEvent(state, ev) {
    var list = $('events');
    if (!list) { return; }
    var li = document.createElement('li');
    var seq = ev && typeof ev.seq === 'number' ? '#' + ev.seq + ' ' : '';
    li.textContent = seq + state + (ev && ev.at ? ' ' + ev.at : '') + (ev && ev.reason ? ' (' + ev.reason + ')' : '');
    li.setAttribute('data-state', state);
    var root = document.querySelector('[data-ukg=root]');
    if (root && root.getAttribute('data-session')) { li.setAttribute('data-session', root.getAttribute('data-session')); }
    list.appendChild(li);
  }

  // mountWidget mounts the ukeygate widget in #ukg with the page's
  // switches (?transport=longpoll, ?ttl=N, ?autorefresh=0).
  function mountWidget(createSession, finish) {
    if (!window.UKeyGate) {
      showError(new Error('ukeygate.js did not load'));
      return null;
    }
    var handle = null;
    var finishing = false;
    handle = window.UKeyGate.mount(document.getElementById('ukg'), {
      lang: lang,
      autoRefresh: cfg.autorefresh !== '0',
      transport: cfg.transport === 'longpoll' ? 'longpoll' : 'auto',
      createSession: createSession,
      onState: function (state, ev) {
        logEvent(state, ev);
        if (state === 'waiting') { showError(null); }
      },
      onResult: function (result, session) {
        if (finishing) { return; }
        finishing = true;
        // The browser's copy of the result is not trusted: the backend
        // reads it from the gateway and verifies it.
        finish(session).then(function () {
          root.setAttribute('data-finished', session.id);
        }, function (err) {
          showError(err);
          root.setAttribute('data-finished', 'error');
        }).then(function () { finishing = false; });
      }
    });
    return handle;
  }

  function withTTL(body) {
    if (ttl) { body.ttl_seconds = ttl; }
    return body;
  }

  // ---- login page ----------------------------------------------------------
  function fillIdentity(id) {
    $('name').textContent = id.name;
    $('subject').textContent = id.subject;
    $('issuer').textContent = id.issuer;
    $('serial').textContent = id.serial;
    $('not-after').textContent = id.not_after_text;
    $('welcome').hidden = false;
    $('login-box').hidden = true;
  }

  function loginPage() {
    var logout = $('logout');
    logout.addEventListener('click', function () {
      api('logout').then(function () { window.location.reload(); }, showError);
    });
    if (cfg.loggedIn === '1') { return; }
    var handle = mountWidget(function () {
      return api('login', withTTL({}));
    }, function (session) {
      return api('login/finish', { session: session.id }).then(function (id) {
        fillIdentity(id);
        root.setAttribute('data-logged-in', '1');
        if (handle) { handle.destroy(); }
      });
    });
  }

  // ---- sign page -----------------------------------------------------------
  function toBase64(buf) {
    var bytes = new Uint8Array(buf);
    var parts = [];
    for (var i = 0; i < bytes.length; i += 0x8000) {
      parts.push(String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000)));
    }
    return btoa(parts.join(''));
  }

  function readFile(file) {
    return new Promise(function (resolve, reject) {
      var r = new FileReader();
      r.onload = function () { resolve(r.result); };
      r.onerror = function () { reject(r.error); };
      r.readAsArrayBuffer(file);
    });
  }

  function signPage() {
    sealButton();
    var handle = null;
    $('sign-form').addEventListener('submit', function (e) {
      e.preventDefault();
      showError(null);
      $('sign-result').hidden = true;
      var file = $('file').files && $('file').files[0];
      var body = file ? readFile(file).then(function (buf) {
        return { name: file.name, data: toBase64(buf) };
      }) : Promise.resolve({ sample: $('sample').value });
      body.then(function (b) {
        if (handle) { handle.destroy(); }
        handle = mountWidget(function () {
          return api('sign', withTTL(Object.assign({}, b)));
        }, function (session) {
          return api('sign/finish', { session: session.id }).then(function (res) {
            var s = res.signer || {};
            $('signer-subject').textContent = s.subject || '';
            $('signer-issuer').textContent = s.issuer || '';
            $('signer-serial').textContent = s.serial || '';
            $('signer-not-after').textContent = s.not_after || '';
            var a = $('download');
            a.href = res.download;
            a.setAttribute('download', res.file);
            $('sign-result').hidden = false;
            if (handle) { handle.destroy(); handle = null; }
          });
        });
      }, showError);
    });
  }

  // The seal button: a seal session over the demo's sample bid PDF.
  function sealButton() {
    var handle = null;
    $('seal-start').addEventListener('click', function () {
      showError(null);
      $('seal-result').hidden = true;
      $('sign-result').hidden = true;
      if (handle) { handle.destroy(); }
      handle = mountWidget(function () {
        return api('seal', withTTL({}));
      }, function (session) {
        return api('seal/finish', { session: session.id }).then(function (res) {
          var s = res.signer || {};
          var sl = res.seal || {};
          $('seal-signer').textContent = s.subject || '';
          $('seal-name').textContent = (sl.name || '') + ' (' + (sl.kind || '') + ', ' + (sl.id || '') + ')';
          var a = $('seal-download');
          a.href = res.download;
          a.setAttribute('download', res.file);
          $('seal-result').hidden = false;
          if (handle) { handle.destroy(); handle = null; }
        });
      });
    });
  }

  // ---- open page -----------------------------------------------------------
  function openPage() {
    var submit = $('submit');
    if (!submit) { return; } // not logged in
    var start = $('start');
    var bid = null;
    var handle = null;
    // ① The bidder scans to hand over their encryption certificate (a
    // certificate session, no PIN); the backend seals the bid to it.
    submit.addEventListener('click', function () {
      showError(null);
      submit.disabled = true;
      if (handle) { handle.destroy(); }
      handle = mountWidget(function () {
        return api('open/submit', withTTL({}));
      }, function (session) {
        return api('open/submit/finish', { session: session.id }).then(function (res) {
          bid = res.bid;
          $('bid-name').textContent = res.name;
          $('bid-size').textContent = String(res.size);
          $('bid-cms-size').textContent = String(res.cms_size);
          $('bid-cert').textContent = res.certificate;
          $('bid').hidden = false;
          start.disabled = false;
          if (handle) { handle.destroy(); handle = null; }
        }, function (err) {
          submit.disabled = false;
          throw err;
        });
      });
      if (!handle) { submit.disabled = false; }
    });
    start.addEventListener('click', function () {
      if (!bid) { return; }
      showError(null);
      start.disabled = true;
      $('open-result').hidden = true;
      if (handle) { handle.destroy(); }
      handle = mountWidget(function () {
        return api('open', withTTL({ bid: bid }));
      }, function (session) {
        return api('open/finish', { session: session.id }).then(function (res) {
          var texts = $('match-texts').content;
          $('plaintext').textContent = res.plaintext !== undefined ? res.plaintext : '(binary, base64) ' + res.plaintext_base64;
          var m = $('match');
          m.setAttribute('data-match', res.match ? 'yes' : 'no');
          m.textContent = texts.querySelector(res.match ? '[data-yes]' : '[data-no]').textContent;
          $('open-result').hidden = false;
          start.disabled = false;
          if (handle) { handle.destroy(); handle = null; }
        });
      });
    });
  }

  var pages = { login: loginPage, sign: signPage, open: openPage };
  if (pages[cfg.page]) { pages[cfg.page](); }
})();
