/*!
 * ukeygate widget, protocol v1. Plain ES2017, no dependencies, no build step.
 *
 *   <div id="ukg-login"></div>
 *   <script src="https://GATEWAY/sdk/ukeygate.js"></script>
 *   <script src="/your/login.js"></script>          // no inline script needed
 *
 *   var handle = UKeyGate.mount(document.getElementById('ukg-login'), {
 *     createSession: function () {                   // asks YOUR backend, which
 *       return fetch('/login/session', {method: 'POST'}) // calls POST /v1/sessions
 *         .then(function (r) { return r.json(); });  // with the app key
 *     },
 *     lang: 'zh',                                    // or 'en'
 *     autoRefresh: true,                             // new QR when one expires
 *     onResult: function (result, session) { ... }, // then verify on the backend
 *     onState: function (state, event) { ... },
 *     sameDevice: 'auto'                             // true, false: see below
 *   });
 *   handle.refresh(); handle.destroy();
 *
 * The app key never reaches the browser: the widget only sees the session's
 * id, matching code, QR URLs and short-lived watch token.
 *
 * DOM (stable hooks for styling and tests), inside the element given to mount:
 *   [data-ukg=root]      data-state, data-session, data-transport, data-seq, data-lang
 *   [data-ukg=qr]        <img> of the QR code (alt text in the chosen language)
 *   [data-ukg=code]      the two-digit matching code (aria-label reads the digits)
 *   [data-ukg=countdown] data-remaining = whole seconds left
 *   [data-ukg=status]    role=status, aria-live=polite: the state in plain words
 *   [data-ukg=refresh]   <button>, shown on expired/rejected/failed/cancelled/error
 *   [data-ukg=open]      <a href=QR payload>, "open on this phone", shown instead of
 *                        the QR code when the page itself runs on a phone
 *                        (root data-mode="link"; "qr" otherwise)
 *
 * Same device: a QR code on a phone's own screen cannot be scanned by that
 * phone. With sameDevice 'auto' (the default) the widget tells a phone by
 * its user agent (mobile browsers, WeChat, Alipay) and shows a link to the
 * QR payload URL instead, which opens the gateway's phone web app on the
 * session in a new tab; the page keeps waiting for the result as usual.
 * sameDevice: true always shows the link, false always the QR code.
 * The widget styles itself through the CSSOM (element.style), which a strict
 * Content-Security-Policy allows without 'unsafe-inline'; pass styles: false
 * and style the ukg-* classes yourself to opt out.
 */
(function (global) {
  'use strict';

  var VERSION = '1';
  var FINAL = { completed: true, rejected: true, failed: true, expired: true, cancelled: true };
  var RETRY = { rejected: true, failed: true, expired: true, cancelled: true, error: true };

  var TEXT = {
    zh: {
      qrAlt: '二维码：请用手机上的 ukeygate 应用扫描',
      codeLabel: '匹配码',
      codeHint: '请在手机上选择相同的匹配码',
      left: '剩余',
      refresh: '刷新二维码',
      open: '在本机打开',
      openHint: '在手机盾中确认，然后回到此页',
      states: {
        loading: '正在生成二维码…',
        waiting: '请用手机扫描二维码',
        waitingLink: '请在本机打开手机盾确认',
        scanned: '已扫码，请在手机上确认',
        completed: '已完成',
        rejected: '已在手机上拒绝',
        failed: '操作失败',
        expired: '二维码已过期',
        cancelled: '已取消',
        error: '暂时无法连接，请刷新重试'
      }
    },
    en: {
      qrAlt: 'QR code: scan it with the ukeygate app on your phone',
      codeLabel: 'Matching code',
      codeHint: 'Pick the same code on your phone',
      left: 'Time left',
      refresh: 'Refresh QR code',
      open: 'Open on this phone',
      openHint: 'Confirm in the Mobile Key, then come back here',
      states: {
        loading: 'Preparing the QR code…',
        waiting: 'Waiting for you to scan the QR code',
        waitingLink: 'Open the Mobile Key on this phone to confirm',
        scanned: 'Scanned: confirm on your phone',
        completed: 'Done',
        rejected: 'Rejected on the phone',
        failed: 'The operation failed',
        expired: 'The QR code has expired',
        cancelled: 'Cancelled',
        error: 'Cannot reach the server; refresh to try again'
      }
    }
  };

  // Timing (milliseconds).
  var WS_OPEN_TIMEOUT = 8000;     // a socket not open by then counts as blocked
  var LOCAL_EXPIRY_GRACE = 8000;  // wait this long past expires_at for the server's word
  var MAX_BACKOFF = 15000;
  var LONG_POLL_WAIT = 25;        // seconds, the events endpoint's wait= when the session does not say (watch.poll_wait)
  var MIN_POLL_GAP = 1000;        // never re-poll an empty answer faster than this
  var SKEW_TOLERANCE = 3000;      // ignore clock differences below this
  var QUICK_FAILURE = 5000;       // a long-poll failing sooner than this was refused, not cut
  var MAX_QUICK_FAILURES = 4;     // that many unreadable refusals in a row end in "error"

  function backoff(attempt) {
    var ms = 500 * Math.pow(2, Math.min(attempt, 5));
    return Math.min(ms, MAX_BACKOFF) * (0.75 + Math.random() * 0.5);
  }

  // toMillis reads an RFC 3339 string (any number of fraction digits) or
  // Unix seconds / milliseconds.
  function toMillis(v) {
    if (typeof v === 'number' && isFinite(v)) { return v < 1e12 ? v * 1000 : v; }
    if (typeof v !== 'string') { return NaN; }
    return Date.parse(v.replace(/(\.\d{3})\d+/, '$1'));
  }

  function pad2(n) { return (n < 10 ? '0' : '') + n; }

  function el(tag, cls, attrs) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (attrs) {
      Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    }
    return e;
  }

  function css(on, e, props) {
    if (!on) { return; }
    Object.keys(props).forEach(function (k) { e.style[k] = props[k]; });
  }

  // addParams resolves raw against base and sets params; a token already in
  // the URL is kept.
  // QR_CSS_PX is the QR code's displayed size in CSS pixels. The PNG is
  // asked for at exactly that size times the screen's pixel ratio, so the
  // browser never rescales it: a rescaled QR code (256 px shown at 200 px)
  // gets modules of uneven width, which some readers cannot decode.
  var QR_CSS_PX = 200;
  function qrPixels() {
    var dpr = Number(global.devicePixelRatio) || 1;
    return Math.max(128, Math.min(1024, Math.round(QR_CSS_PX * dpr)));
  }

  // onPhone tells whether the page runs on a phone (or in a phone app's
  // browser), where the QR code on the screen cannot be scanned.
  function onPhone() {
    var nav = global.navigator;
    if (!nav) { return false; }
    if (nav.userAgentData && nav.userAgentData.mobile) { return true; }
    return /Android.+Mobile|iPhone|iPod|Windows Phone|HarmonyOS|OpenHarmony|MicroMessenger|AlipayClient|DingTalk|Mobile Safari/i.test(nav.userAgent || '');
  }

  // pollWait is the long-poll wait= the session's server advises
  // (watch.poll_wait, whole seconds 1-60), else LONG_POLL_WAIT.
  function pollWait(w) {
    var s = w && w.poll_wait;
    return (typeof s === 'number' && s >= 1 && s <= 60 && Math.floor(s) === s) ? s : LONG_POLL_WAIT;
  }

  function addParams(raw, base, params) {
    var u = new URL(raw, base);
    Object.keys(params).forEach(function (k) {
      if (params[k] === undefined || params[k] === null) { return; }
      if (k === 'token' && u.searchParams.has('token')) { return; }
      u.searchParams.set(k, String(params[k]));
    });
    return u;
  }

  // eventsOf accepts one event, an array of events, or {events: [...]}.
  function eventsOf(v) {
    if (Array.isArray(v)) { return v; }
    if (v && Array.isArray(v.events)) { return v.events; }
    if (v && typeof v === 'object') { return [v]; }
    return [];
  }

  function checkSession(s) {
    var miss = [];
    if (!s || typeof s !== 'object') { throw new Error('UKeyGate: createSession returned no session'); }
    if (!s.id) { miss.push('id'); }
    if (!s.code) { miss.push('code'); }
    if (!s.expires_at) { miss.push('expires_at'); }
    if (!s.qr || !(s.qr.png_url || s.qr.svg_url)) { miss.push('qr.png_url'); }
    if (!s.watch || !s.watch.token) { miss.push('watch.token'); }
    if (!s.watch || !(s.watch.ws_url || s.watch.events_url)) { miss.push('watch.events_url'); }
    if (miss.length) { throw new Error('UKeyGate: session lacks ' + miss.join(', ')); }
  }

  function mount(element, options) {
    if (!element || typeof element.appendChild !== 'function') {
      throw new TypeError('UKeyGate.mount: element must be a DOM element');
    }
    var opts = options || {};
    if (typeof opts.createSession !== 'function') {
      throw new TypeError('UKeyGate.mount: options.createSession must be a function');
    }
    var lang = opts.lang === 'en' || opts.lang === 'zh' ? opts.lang :
      (/^en/i.test(document.documentElement.lang || '') ? 'en' : 'zh');
    var T = TEXT[lang];
    var styled = opts.styles !== false;
    var maxAuto = typeof opts.maxAutoRefresh === 'number' ? opts.maxAutoRefresh : 10;
    var autoDelay = typeof opts.autoRefreshDelay === 'number' ? opts.autoRefreshDelay : 1500;
    var base = opts.baseURL || document.baseURI || global.location.href;
    var linkMode = opts.sameDevice === true || (opts.sameDevice !== false && onPhone());

    var st = {
      gen: 0,            // bumps on every load and on destroy; stale callbacks compare it
      session: null,
      state: '',
      lastSeq: -1,       // highest seq handled (dedupe)
      done: true,        // the current session reached a final state (or none yet)
      expiresAt: NaN,
      skew: 0,           // server clock minus local clock, when it matters
      createdLocal: 0,
      ws: null,
      abort: null,
      wsBlocked: opts.transport === 'longpoll',
      timers: [],
      tick: null,
      autoCount: 0,
      refreshOnVisible: false,
      destroyed: false
    };

    // ---- DOM -----------------------------------------------------------
    var root = el('div', 'ukg', { 'data-ukg': 'root', 'data-state': 'loading', 'data-lang': lang, lang: lang, 'data-mode': linkMode ? 'link' : 'qr' });
    var qrBox = el('div', 'ukg-qr-box');
    var qr = el('img', 'ukg-qr', { 'data-ukg': 'qr', alt: T.qrAlt, width: String(QR_CSS_PX), height: String(QR_CSS_PX), decoding: 'async' });
    var openLink = el('a', 'ukg-open', { 'data-ukg': 'open', target: '_blank', rel: 'noopener noreferrer' });
    var openText = el('span', 'ukg-open-text');
    openText.textContent = T.open;
    var openHint = el('span', 'ukg-open-hint');
    openHint.textContent = T.openHint;
    openLink.appendChild(openText);
    openLink.appendChild(openHint);
    openLink.hidden = true;
    qrBox.appendChild(linkMode ? openLink : qr);
    var codeBox = el('div', 'ukg-code-box');
    var codeLabel = el('div', 'ukg-code-label', { 'aria-hidden': 'true' });
    codeLabel.textContent = T.codeLabel;
    var code = el('div', 'ukg-code', { 'data-ukg': 'code', role: 'img' });
    var codeHint = el('div', 'ukg-code-hint', { 'data-ukg': 'hint' });
    codeHint.textContent = T.codeHint;
    codeBox.appendChild(codeLabel);
    codeBox.appendChild(code);
    codeBox.appendChild(codeHint);
    var countdown = el('div', 'ukg-countdown', { 'data-ukg': 'countdown' });
    var status = el('p', 'ukg-status', { 'data-ukg': 'status', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
    var refreshBtn = el('button', 'ukg-refresh', { 'data-ukg': 'refresh', type: 'button' });
    refreshBtn.textContent = T.refresh;
    refreshBtn.hidden = true;
    root.appendChild(qrBox);
    root.appendChild(codeBox);
    root.appendChild(countdown);
    root.appendChild(status);
    root.appendChild(refreshBtn);

    css(styled, root, {
      fontFamily: 'system-ui, -apple-system, "PingFang SC", "Microsoft YaHei", sans-serif',
      textAlign: 'center', color: '#1f2328', background: '#ffffff',
      border: '1px solid #d0d7de', borderRadius: '12px', padding: '16px',
      maxWidth: '260px', margin: '0 auto', boxSizing: 'border-box'
    });
    css(styled, qrBox, { minHeight: linkMode ? '0' : QR_CSS_PX + 'px' });
    css(styled, openLink, {
      display: 'block', padding: '14px 16px', margin: '4px 0 6px', borderRadius: '12px', background: '#0969da',
      color: '#ffffff', textDecoration: 'none', fontSize: '18px', fontWeight: '700', lineHeight: '1.3'
    });
    css(styled, openHint, { display: 'block', fontSize: '13px', fontWeight: '400', marginTop: '4px', color: '#eaf2ff' });
    css(styled, qr, { width: QR_CSS_PX + 'px', height: QR_CSS_PX + 'px', imageRendering: 'pixelated', transition: 'opacity .2s' });
    css(styled, codeLabel, { fontSize: '13px', color: '#59636e', marginTop: '8px' });
    css(styled, code, {
      fontSize: '40px', fontWeight: '700', letterSpacing: '0.25em', lineHeight: '1.2',
      fontVariantNumeric: 'tabular-nums', paddingLeft: '0.25em'
    });
    css(styled, codeHint, { fontSize: '12px', color: '#59636e' });
    css(styled, countdown, { fontSize: '13px', color: '#59636e', marginTop: '6px', fontVariantNumeric: 'tabular-nums' });
    css(styled, status, { fontSize: '15px', margin: '10px 0 4px', minHeight: '1.4em' });
    css(styled, refreshBtn, {
      font: 'inherit', fontSize: '14px', padding: '6px 16px', marginTop: '6px', cursor: 'pointer',
      color: '#ffffff', background: '#0969da', border: '0', borderRadius: '6px'
    });

    element.appendChild(root);
    refreshBtn.addEventListener('click', function () {
      st.autoCount = 0;
      load();
    });

    // ---- helpers -------------------------------------------------------
    function later(fn, ms) {
      var id = setTimeout(function () {
        st.timers = st.timers.filter(function (t) { return t !== id; });
        fn();
      }, ms);
      st.timers.push(id);
      return id;
    }

    function clearTimers() {
      st.timers.forEach(clearTimeout);
      st.timers = [];
      if (st.tick) { clearInterval(st.tick); st.tick = null; }
    }

    function stopWatch() {
      if (st.ws) {
        var ws = st.ws;
        st.ws = null;
        ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
        try { ws.close(1000); } catch (e) { /* already closed */ }
      }
      if (st.abort) { st.abort.abort(); st.abort = null; }
    }

    function call(fn, args) {
      if (typeof fn !== 'function') { return; }
      try { fn.apply(null, args); } catch (e) {
        if (global.console) { global.console.error('UKeyGate callback failed:', e); }
      }
    }

    function setState(state, event) {
      var changed = state !== st.state;
      st.state = state;
      root.setAttribute('data-state', state);
      if (changed) {
        status.textContent = (linkMode && state === 'waiting' ? T.states.waitingLink : T.states[state]) || state;
      }
      var final = FINAL[state] || state === 'error';
      refreshBtn.hidden = !RETRY[state];
      codeBox.hidden = final || state === 'loading';
      countdown.hidden = final || state === 'loading';
      qrBox.hidden = state === 'completed';
      css(styled, qr, { opacity: final || state === 'scanned' ? '0.25' : '1' });
      openLink.hidden = final || state !== 'waiting' || !openLink.getAttribute('href');
      if (changed) { call(opts.onState, [state, event || { type: 'local', state: state }]); }
    }

    function remainingMs() {
      return st.expiresAt - (Date.now() + st.skew);
    }

    function renderCountdown() {
      var ms = remainingMs();
      var s = isNaN(ms) ? 0 : Math.max(0, Math.ceil(ms / 1000));
      countdown.setAttribute('data-remaining', String(s));
      countdown.textContent = T.left + ' ' + Math.floor(s / 60) + ':' + pad2(s % 60);
      return ms;
    }

    function startCountdown(gen) {
      var graceSet = false;
      renderCountdown();
      st.tick = setInterval(function () {
        if (gen !== st.gen || st.done) { return; }
        if (renderCountdown() <= 0 && !graceSet) {
          // The server sends "expired"; if it does not (clock skew, lost
          // connection), give up locally after a grace period.
          graceSet = true;
          later(function () {
            if (gen === st.gen && !st.done) { finish(gen, 'expired', { type: 'local', state: 'expired' }); }
          }, LOCAL_EXPIRY_GRACE);
        }
      }, 1000);
    }

    function finish(gen, state, event) {
      st.done = true;
      stopWatch();
      if (st.tick) { clearInterval(st.tick); st.tick = null; }
      setState(state, event);
      if (state === 'completed') {
        call(opts.onResult, [event && event.result !== undefined ? event.result : null, st.session]);
      }
      if (state === 'expired' && opts.autoRefresh) { scheduleAuto(gen); }
    }

    function scheduleAuto(gen) {
      if (st.autoCount >= maxAuto) { return; }
      if (document.hidden) { st.refreshOnVisible = true; return; }
      later(function () {
        if (gen === st.gen && !st.destroyed) {
          st.autoCount++;
          load();
        }
      }, autoDelay);
    }

    function onVisibility() {
      if (!document.hidden && st.refreshOnVisible && st.state === 'expired') {
        st.refreshOnVisible = false;
        scheduleAuto(st.gen);
      }
    }
    document.addEventListener('visibilitychange', onVisibility);

    // ---- events ----------------------------------------------------------
    function handle(gen, ev) {
      if (gen !== st.gen || st.done || !ev || typeof ev.seq !== 'number') { return; }
      if (ev.seq <= st.lastSeq) { return; } // seen already (replay after reconnect)
      st.lastSeq = ev.seq;
      root.setAttribute('data-seq', String(ev.seq));
      if (ev.type !== undefined && ev.type !== 'state') { return; }
      if (typeof ev.state !== 'string') { return; }
      if (ev.state === 'waiting' && ev.at !== undefined) {
        // The waiting event is stamped with the creation time: compare it
        // with when createSession resolved to learn the clock difference.
        var skew = toMillis(ev.at) - st.createdLocal;
        if (!isNaN(skew) && Math.abs(skew) > SKEW_TOLERANCE) { st.skew = skew; renderCountdown(); }
      }
      if (ev.state === 'scanned') { st.autoCount = 0; }
      if (FINAL[ev.state]) {
        finish(gen, ev.state, ev);
      } else {
        setState(ev.state, ev);
      }
    }

    function handleAll(gen, list) {
      for (var i = 0; i < list.length; i++) { handle(gen, list[i]); }
    }

    function after() { return st.lastSeq < 0 ? 0 : st.lastSeq; }

    function watch(gen) {
      if (st.wsBlocked || typeof global.WebSocket !== 'function' || !st.session.watch.ws_url) {
        poll(gen, 0);
      } else {
        openSocket(gen, 0);
      }
    }

    function openSocket(gen, attempt) {
      var w = st.session.watch;
      var u;
      try {
        u = addParams(w.ws_url, base, { token: w.token, after: after() });
        if (u.protocol === 'https:') { u.protocol = 'wss:'; }
        if (u.protocol === 'http:') { u.protocol = 'ws:'; }
      } catch (e) {
        st.wsBlocked = true;
        poll(gen, 0);
        return;
      }
      var ws;
      try { ws = new global.WebSocket(u.toString()); } catch (e) {
        st.wsBlocked = true;
        poll(gen, 0);
        return;
      }
      var opened = false;
      var heard = false;
      st.ws = ws;
      root.setAttribute('data-transport', 'websocket');
      var openTimer = later(function () {
        if (!opened && st.ws === ws) { try { ws.close(); } catch (e) { /* ignore */ } gone({ code: 0 }); }
      }, WS_OPEN_TIMEOUT);
      ws.onopen = function () { opened = true; clearTimeout(openTimer); };
      ws.onmessage = function (m) {
        if (gen !== st.gen) { return; }
        var v;
        try { v = JSON.parse(m.data); } catch (e) { return; }
        heard = true;
        handleAll(gen, eventsOf(v));
      };
      ws.onerror = function () { /* a close event follows */ };
      ws.onclose = function (e) { gone(e); };
      var closed = false;
      function gone(e) {
        if (closed) { return; }
        closed = true;
        clearTimeout(openTimer);
        if (st.ws === ws) { st.ws = null; }
        ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
        if (gen !== st.gen || st.done || st.destroyed) { return; }
        var refused = e && (e.code === 1008 || e.code >= 4000);
        if (!opened || refused || (!heard && attempt >= 2)) {
          // Blocked by a proxy or refused: long-poll works over plain HTTP
          // and reports a refusal with a proper error code.
          st.wsBlocked = true;
          poll(gen, 0);
          return;
        }
        later(function () {
          if (gen === st.gen && !st.done) { openSocket(gen, heard ? 0 : attempt + 1); }
        }, heard ? 200 : backoff(attempt));
      }
    }

    // poll long-polls the events; failures counts the failed polls in a
    // row (for the backoff), quick those among them that failed at once
    // without an answer the page may read.
    function poll(gen, failures, quick) {
      if (gen !== st.gen || st.done || st.destroyed) { return; }
      var w = st.session.watch;
      root.setAttribute('data-transport', 'longpoll');
      var url;
      try {
        url = addParams(w.events_url || String(w.ws_url).replace(/\/ws(\?|$)/, '/events$1'), base,
          { token: w.token, after: after(), wait: pollWait(w) });
        if (url.protocol === 'wss:') { url.protocol = 'https:'; }
        if (url.protocol === 'ws:') { url.protocol = 'http:'; }
      } catch (e) {
        finish(gen, 'error', { type: 'local', state: 'error', error: e });
        return;
      }
      var ctl = typeof global.AbortController === 'function' ? new global.AbortController() : null;
      st.abort = ctl;
      var started = Date.now();
      var before = st.lastSeq;
      global.fetch(url.toString(), {
        method: 'GET', credentials: 'omit', cache: 'no-store', mode: 'cors',
        headers: { Accept: 'application/json' }, signal: ctl ? ctl.signal : undefined
      }).then(function (r) {
        return r.json().catch(function () { return null; }).then(function (body) {
          if (!r.ok) {
            var err = new Error('UKeyGate: events ' + r.status);
            err.status = r.status;
            err.code = body && body.error && body.error.code;
            throw err;
          }
          return body;
        });
      }).then(function (body) {
        if (st.abort === ctl) { st.abort = null; }
        if (gen !== st.gen || st.done) { return; }
        handleAll(gen, eventsOf(body));
        if (st.done) { return; }
        var gap = st.lastSeq === before ? MIN_POLL_GAP - (Date.now() - started) : 0;
        if (gap > 0) {
          later(function () { poll(gen, 0); }, gap);
        } else {
          poll(gen, 0);
        }
      }).catch(function (err) {
        if (st.abort === ctl) { st.abort = null; }
        if (gen !== st.gen || st.done || st.destroyed || (err && err.name === 'AbortError')) { return; }
        var s = err && err.status;
        if (s >= 400 && s < 500 && s !== 408 && s !== 429) {
          var expired = s === 410 || err.code === 'session_expired';
          finish(gen, expired ? 'expired' : 'error', { type: 'local', state: expired ? 'expired' : 'error', error: err });
          return;
        }
        // No status: a network failure, or an answer the page may not
        // read (the gateway lets only the app's origins read its answers,
        // and an unknown session or token has no app). One that comes back
        // at once, several times in a row, is a refusal, not a lost
        // connection: say so now rather than at the session's expiry.
        var q = !s && Date.now() - started < QUICK_FAILURE ? (quick || 0) + 1 : 0;
        if (q >= MAX_QUICK_FAILURES) {
          finish(gen, 'error', { type: 'local', state: 'error', error: err });
          return;
        }
        later(function () { poll(gen, failures + 1, q); }, backoff(failures));
      });
    }

    // ---- lifecycle -------------------------------------------------------
    function load() {
      if (st.destroyed) { return Promise.resolve(); }
      var gen = ++st.gen;
      stopWatch();
      clearTimers();
      st.done = true;
      st.session = null;
      setState('loading');
      return Promise.resolve().then(function () {
        return opts.createSession();
      }).then(function (s) {
        if (gen !== st.gen) { return; }
        checkSession(s);
        var exp = toMillis(s.expires_at);
        if (isNaN(exp)) { throw new Error('UKeyGate: bad expires_at'); }
        st.session = s;
        st.lastSeq = -1;
        st.skew = 0;
        st.expiresAt = exp;
        st.createdLocal = Date.now();
        st.done = false;
        root.setAttribute('data-session', String(s.id));
        root.removeAttribute('data-seq');
        var src = addParams(s.qr.png_url || s.qr.svg_url, base, { token: s.watch.token });
        if (s.qr.png_url) { src.searchParams.set('size', String(opts.qrSize || qrPixels())); }
        if (linkMode && s.qr.payload) {
          openLink.setAttribute('href', String(s.qr.payload));
        } else if (linkMode) {
          // No payload to link to: show the QR code after all.
          linkMode = false;
          root.setAttribute('data-mode', 'qr');
          qrBox.replaceChild(qr, openLink);
          css(styled, qrBox, { minHeight: QR_CSS_PX + 'px' });
        }
        qr.src = src.toString();
        var digits = String(s.code);
        code.textContent = digits;
        code.setAttribute('aria-label', T.codeLabel + ' ' + digits.split('').join(' '));
        setState('waiting', { type: 'local', state: 'waiting' });
        startCountdown(gen);
        watch(gen);
      }).catch(function (err) {
        if (gen !== st.gen) { return; }
        if (global.console) { global.console.error(err); }
        finish(gen, 'error', { type: 'local', state: 'error', error: err });
      });
    }

    load();

    return {
      refresh: function () {
        st.autoCount = 0;
        return load();
      },
      destroy: function () {
        if (st.destroyed) { return; }
        st.destroyed = true;
        st.gen++;
        stopWatch();
        clearTimers();
        document.removeEventListener('visibilitychange', onVisibility);
        if (root.parentNode) { root.parentNode.removeChild(root); }
      },
      state: function () { return st.state; },
      session: function () { return st.session; }
    };
  }

  global.UKeyGate = { mount: mount, version: VERSION };
})(typeof window !== 'undefined' ? window : this);
