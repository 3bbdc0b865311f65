// Runs qrlogin/widget/ukeygate.js under node with a minimal DOM, against a
// gateway over HTTP (fetch; WebSocket when node has one). It checks the
// widget's logic (events, dedupe, states, callbacks, DOM hooks) without a
// browser; package browser checks it in Chromium, rendering included.
//
// usage: node widget_node.js WIDGET_JS SESSION_JSON LANG TRANSPORT
// stdout: one JSON object per line: {"state":…,"seq":…} on every state
// change, {"seen":N} when event N was handled, {"result":…} from onResult,
// {"dom":…} after the final state.
'use strict';
const fs = require('fs');
const vm = require('vm');

const [widgetPath, sessionJSON, lang, transport] = process.argv.slice(2);

class Node {
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    this.children = [];
    this.attrs = {};
    this.style = {};
    this.hidden = false;
    this.textContent = '';
    this.className = '';
    this.parentNode = null;
    this.listeners = {};
  }
  setAttribute(k, v) {
    this.attrs[k] = String(v);
    if (k === 'data-seq') { out({ seen: Number(v) }); } // the widget handled event v
  }
  getAttribute(k) { return Object.prototype.hasOwnProperty.call(this.attrs, k) ? this.attrs[k] : null; }
  removeAttribute(k) { delete this.attrs[k]; }
  appendChild(c) { c.parentNode = this; this.children.push(c); return c; }
  removeChild(c) { this.children = this.children.filter((x) => x !== c); c.parentNode = null; return c; }
  addEventListener(t, f) { (this.listeners[t] = this.listeners[t] || []).push(f); }
  find(hook) {
    if (this.attrs['data-ukg'] === hook) { return this; }
    for (const c of this.children) { const f = c.find(hook); if (f) { return f; } }
    return null;
  }
}

const document = {
  documentElement: { lang: '' },
  baseURI: 'http://portal.test/login',
  hidden: false,
  createElement: (t) => new Node(t),
  addEventListener() {},
  removeEventListener() {},
};

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const sandbox = {
  document, URL, fetch, AbortController, setTimeout, clearTimeout, setInterval, clearInterval,
  console, Promise, JSON, Date, Math, location: { href: document.baseURI },
};
if (typeof WebSocket === 'function') { sandbox.WebSocket = WebSocket; }
sandbox.window = sandbox;
vm.createContext(sandbox);
vm.runInContext(fs.readFileSync(widgetPath, 'utf8'), sandbox, { filename: 'ukeygate.js' });

const host = new Node('div');
const session = JSON.parse(sessionJSON);
let handle = null;
const final = { completed: 1, rejected: 1, failed: 1, expired: 1, cancelled: 1, error: 1 };
handle = sandbox.UKeyGate.mount(host, {
  lang, transport, autoRefresh: false,
  createSession: () => Promise.resolve(session),
  onState: (state, ev) => {
    const root = host.find('root');
    out({ state, seq: ev && ev.seq, attr: root.getAttribute('data-state'), status: host.find('status').textContent });
    if (final[state]) {
      const qr = host.find('qr');
      const code = host.find('code');
      out({
        dom: {
          session: root.getAttribute('data-session'),
          transport: root.getAttribute('data-transport'),
          seq: root.getAttribute('data-seq'),
          qrSrc: qr.src, qrAlt: qr.getAttribute('alt'),
          code: code.textContent, codeLabel: code.getAttribute('aria-label'),
          live: host.find('status').getAttribute('aria-live'),
          refreshHidden: host.find('refresh').hidden,
          countdown: host.find('countdown').getAttribute('data-remaining'),
        },
      });
      handle.destroy();
      out({ destroyed: host.children.length === 0 });
    }
  },
  onResult: (result, s) => out({ result, session: s.id }),
});
