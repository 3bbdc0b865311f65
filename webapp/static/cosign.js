/*!
 * ukeygate phone web app: two-party SM2 (cosign credentials, 协同签名).
 *
 * The phone's half of the scheme is the gateway's own Go code compiled to
 * WebAssembly (cosign.wasm, with Go's wasm_exec.js), loaded only when a
 * cosign credential is made or used. It exposes keygen, answer and
 * changePIN on strings; nothing is kept inside it between calls.
 *
 * The phone keeps one 32-byte seed per cosign credential; with the PIN it
 * gives the phone's key share. Each seed is stored in IndexedDB only
 * encrypted (AES-GCM, the credential id as associated data) under one
 * AES-256 key made by WebCrypto with extractable: false and kept in the
 * same IndexedDB: the page can encrypt and decrypt with it, nobody can read
 * it, and a copy of the database alone holds no seed in clear. The PIN is
 * never stored and never sent for a cosign credential: it goes into the
 * WebAssembly call and the answer carries only the share's output.
 *
 * app.js creates the helper with ukeygateCosignApp({ api, dbDo, root })
 * and merges TEXT into its own texts.
 */
(function () {
  'use strict';

  var TEXT = {
    zh: {
      keyModeTitle: '密钥保管方式',
      keyModeUsual: '网关保管', keyModeUsualDesc: '私钥由网关加密保管，凭 PIN 使用；换手机后仍可使用。',
      keyModeCosign: '协同签名（手机 + 网关）', keyModeCosignDesc: '私钥分成两份，一份在本机、一份在网关，任何一方单独都无法签名或解密。',
      keyModeCosignLoss: '手机丢失或清除浏览器数据后，协同证书无法恢复：需吊销后重新申请。用协同加密证书加密的文件将无法再打开。',
      cosignChip: '协同',
      cosignPreparing: '正在准备协同签名…',
      err_cosign_seed_missing: '这张协同证书的密钥分量不在这部手机上（只有申请它的手机能使用）。请选择其他证书，或联系管理员吊销后重新申请。',
      err_cosign_unavailable: '此浏览器无法运行协同签名组件（WebAssembly）。请用系统浏览器打开。',
      err_cosign_failed: '协同签名组件出错，请重试。',
      lostCosign: '协同证书例外：它的一份密钥只在这部手机上，手机丢失即无法恢复。请让证书服务机构吊销它，在新手机上重新申请。'
    },
    en: {
      keyModeTitle: 'Where the key is kept',
      keyModeUsual: 'By the gateway', keyModeUsualDesc: 'The gateway keeps the key encrypted and uses it with your PIN; works from a new phone too.',
      keyModeCosign: 'Two-party (this phone + the gateway)', keyModeCosignDesc: 'The key is split in two shares, one on this phone, one on the gateway: neither alone can sign or decrypt.',
      keyModeCosignLoss: 'If this phone is lost or its browser data is cleared, a two-party certificate cannot be recovered: it is revoked and you request a new one. Files encrypted to a two-party encryption certificate can then no longer be opened.',
      cosignChip: 'two-party',
      cosignPreparing: 'Preparing two-party signing…',
      err_cosign_seed_missing: 'This two-party certificate\'s key share is not on this phone (only the phone that requested it can use it). Choose another certificate, or ask the operator to revoke it and request a new one.',
      err_cosign_unavailable: 'This browser cannot run the two-party signing module (WebAssembly). Open the app in the system browser.',
      err_cosign_failed: 'The two-party signing module failed. Please try again.',
      lostCosign: 'Two-party certificates are the exception: one share of their key exists only on this phone and is lost with it. Have them revoked and request new ones on the new phone.'
    }
  };

  function make(o) {
    var api = o.api, dbDo = o.dbDo, root = o.root || '';
    var enc = new TextEncoder();
    var WRAP_KEY = 'cosign-wrap-key:' + (root || '/');
    var SEED_PREFIX = 'cosign-seed:' + (root || '/') + ':';
    // A PIN change's new seeds, kept before it is sent (see reshare).
    var PENDING_PREFIX = 'cosign-pending:' + (root || '/') + ':';
    // A credential request's new seed, kept before it is sent (see
    // request), under a random tag until the credential's id is known.
    var NEW_PREFIX = 'cosign-new:' + (root || '/') + ':';
    // A kept request whose credential the gateway does not show is
    // forgotten only once it is this old (ms): an answer may still be on
    // its way to another tab.
    var NEW_GRACE = 120000;

    function CosignError(code) { this.code = code; this.message = ''; }

    // ---- the phone's half (WebAssembly) --------------------------------
    var loading = null;
    function loadScript(src) {
      return new Promise(function (resolve, reject) {
        var s = document.createElement('script');
        s.src = src;
        s.onload = resolve;
        s.onerror = function () { reject(new CosignError('cosign_unavailable')); };
        document.head.appendChild(s);
      });
    }
    function half() {
      if (loading) { return loading; }
      if (typeof WebAssembly !== 'object') { return Promise.reject(new CosignError('cosign_unavailable')); }
      loading = (window.Go ? Promise.resolve() : loadScript(root + '/m/vendor/wasm_exec.js')).then(function () {
        var go = new window.Go();
        var url = root + '/m/cosign.wasm';
        var viaBytes = function () {
          return fetch(url, { credentials: 'omit' }).then(function (r) {
            if (!r.ok) { throw new CosignError('cosign_unavailable'); }
            return r.arrayBuffer();
          }).then(function (b) { return WebAssembly.instantiate(b, go.importObject); });
        };
        var inst = WebAssembly.instantiateStreaming ?
          WebAssembly.instantiateStreaming(fetch(url, { credentials: 'omit' }), go.importObject).catch(viaBytes) : viaBytes();
        return inst.then(function (r) {
          go.run(r.instance); // main registers ukeygateCosign, then waits for calls
          if (!window.ukeygateCosign) { throw new CosignError('cosign_unavailable'); }
          return window.ukeygateCosign;
        });
      });
      loading.catch(function () { loading = null; });
      return loading;
    }
    // call runs one function of the half; it answers {ok} or {error}.
    function call(fn, args) {
      return half().then(function (m) {
        var r = m[fn].apply(null, args);
        if (!r || r.error !== undefined || r.ok === undefined) {
          throw new CosignError('cosign_failed');
        }
        return JSON.parse(r.ok);
      });
    }

    // ---- seeds, wrapped by a non-extractable AES-GCM key ----------------
    function wrapKey() {
      return dbDo('readonly', function (s) { return s.get(WRAP_KEY); }).then(function (k) {
        if (k) { return k; }
        return crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']).then(function (nk) {
          // add (not put): of two tabs racing, one key wins; reread it.
          return dbDo('readwrite', function (s) { return s.add(nk, WRAP_KEY); }).catch(function () { return null; }).then(function () {
            return dbDo('readonly', function (s) { return s.get(WRAP_KEY); });
          });
        });
      });
    }
    function ad(cred) { return enc.encode('ukeygate/cosign-seed/v1/' + cred); }
    function b64d(s) {
      var bin = atob(s), b = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) { b[i] = bin.charCodeAt(i); }
      return b;
    }
    function b64e(buf) {
      var b = new Uint8Array(buf), s = '';
      for (var i = 0; i < b.length; i++) { s += String.fromCharCode(b[i]); }
      return btoa(s);
    }
    function saveSeed(cred, seed, prefix, extra) {
      var iv = crypto.getRandomValues(new Uint8Array(12));
      var raw = b64d(seed);
      return wrapKey().then(function (k) {
        return crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv, additionalData: ad(cred) }, k, raw);
      }).then(function (ct) {
        raw.fill(0);
        var rec = { iv: iv, ct: new Uint8Array(ct), credential: cred, savedAt: new Date().toISOString() };
        if (extra) { Object.keys(extra).forEach(function (k) { rec[k] = extra[k]; }); }
        return dbDo('readwrite', function (s) { return s.put(rec, (prefix || SEED_PREFIX) + cred); });
      });
    }
    function loadSeed(cred, prefix) {
      return dbDo('readonly', function (s) { return s.get((prefix || SEED_PREFIX) + cred); }).then(function (rec) {
        if (!rec) { throw new CosignError('cosign_seed_missing'); }
        return wrapKey().then(function (k) {
          return crypto.subtle.decrypt({ name: 'AES-GCM', iv: rec.iv, additionalData: ad(cred) }, k, rec.ct);
        }).then(function (pt) {
          var b = new Uint8Array(pt), s = b64e(b);
          b.fill(0);
          return s;
        }, function () { throw new CosignError('cosign_seed_missing'); });
      });
    }
    function heldCredentials(prefix) {
      prefix = prefix || SEED_PREFIX;
      return dbDo('readonly', function (s) {
        return s.getAllKeys(IDBKeyRange.bound(prefix, prefix + '\uffff'));
      }).then(function (keys) {
        return (keys || []).map(function (k) { return String(k).slice(prefix.length); });
      });
    }

    // ---- requests whose answer was lost --------------------------------
    // pendingNew lists the kept requests: {tag, user, issuer, purpose,
    // sentAt, commits: [proof_t, …]} (the seed stays wrapped).
    function pendingNew() {
      return heldCredentials(NEW_PREFIX).then(function (tags) {
        return Promise.all(tags.map(function (tag) {
          return dbDo('readonly', function (s) { return s.get(NEW_PREFIX + tag); }).then(function (rec) {
            return rec ? { tag: tag, user: rec.user, issuer: rec.issuer, purpose: rec.purpose, sentAt: rec.sentAt || 0, commits: rec.commits || [] } : null;
          });
        }));
      }).then(function (l) { return l.filter(Boolean); });
    }
    function dropNew(tag) {
      return dbDo('readwrite', function (s) { return s.delete(NEW_PREFIX + tag); });
    }
    function newTag() {
      var b = crypto.getRandomValues(new Uint8Array(12)), s = '';
      for (var i = 0; i < b.length; i++) { s += ('0' + b[i].toString(16)).slice(-2); }
      return s;
    }

    // settleNew ends the credential requests whose answer was lost: the
    // gateway's cosign credential made by one of a kept request's
    // messages (its keygen_commit, the random proof_t the phone sent:
    // nothing the PIN could be tested against is kept here) gets the kept
    // seed; a request the gateway shows nothing of is forgotten (after
    // NEW_GRACE). A credential whose CSR at an external issuer is still to
    // be signed keeps its request: requesting it again (request) signs
    // it. Resolves the credentials settled; rejects when the gateway
    // cannot be asked (nothing changes).
    function settleNew(deviceId) {
      return pendingNew().then(function (list) {
        if (!list.length) { return []; }
        return api('GET', '/v1/me/credentials', undefined, true).then(function (r) {
          var creds = (r && r.credentials) || [];
          return Promise.all(list.map(function (rec) {
            var c = creds.filter(function (c) {
              return isCosign(c) && c.keygen_commit && rec.commits.indexOf(c.keygen_commit) >= 0 &&
                c.issuer === rec.issuer && c.purpose === rec.purpose && (!deviceId || c.holder_device === deviceId);
            })[0];
            if (!c) {
              return Date.now() - rec.sentAt < NEW_GRACE ? null : dropNew(rec.tag).then(function () { return null; });
            }
            if (c.state === 'pending' && !c.csr_pem) { return null; }
            return loadSeed(rec.tag, NEW_PREFIX).then(function (seed) { return saveSeed(c.id, seed); }).then(function () {
              return dropNew(rec.tag);
            }).then(function () { return c; });
          }));
        });
      }).then(function (l) { return l.filter(Boolean); });
    }

    // ---- the flows ---------------------------------------------------------
    // request makes a cosign credential at issuer for purpose (POST
    // /v1/me/credentials, mode cosign). An external issuer's CSR is
    // signed two-party at once (POST /v1/me/credentials/{id}/cosign).
    //
    // The new seed is kept aside (wrapped like the others, with the
    // random proof_t of each message sent) before the request goes: an
    // answer lost on the way back must not lose the credential the
    // gateway made. Asked again for the same user, issuer and purpose,
    // the kept seed makes the message again (keygenAgain: the same share,
    // which the gateway recognises and answers with the credential it
    // made, 200); settleNew finds the credential without the PIN.
    function request(userId, issuer, purpose, pin) {
      var kg, tag = '', earlier = null;
      return pendingNew().then(function (list) {
        earlier = list.filter(function (r) { return r.user === userId && r.issuer === issuer && r.purpose === purpose; })[0] || null;
        if (!earlier) { return call('keygen', [userId, pin]); }
        return loadSeed(earlier.tag, NEW_PREFIX).then(function (seed) {
          return call('keygenAgain', [seed, userId, pin]);
        }, function () {
          // Unreadable: forgotten, and a new key.
          return dropNew(earlier.tag).then(function () { earlier = null; return call('keygen', [userId, pin]); });
        });
      }).then(function (r) {
        kg = r;
        tag = earlier ? earlier.tag : newTag();
        var commits = (earlier ? earlier.commits : []).concat([kg.cosign.proof_t]);
        return saveSeed(tag, kg.seed, NEW_PREFIX, { user: userId, issuer: issuer, purpose: purpose, sentAt: Date.now(), commits: commits });
      }).then(function () {
        return api('POST', '/v1/me/credentials', { issuer: issuer, alg: 'SM2', purpose: purpose, pin: pin, mode: 'cosign', cosign: kg.cosign }, true).catch(function (err) {
          // Refused, the gateway made nothing now: a first request's
          // seed is forgotten, and an earlier one's when the slot is
          // another key's. A lost answer (network) keeps it.
          if (err.code !== 'network' && (!earlier || err.code === 'credential_exists')) {
            return dropNew(tag).catch(function () {}).then(function () { throw err; });
          }
          throw err;
        });
      }).then(function (r) {
        var c = r.credential;
        // The seed is kept under the credential before anything else;
        // the request is kept until the CSR, if any, is signed (asked
        // again, the gateway gives a new challenge).
        return saveSeed(c.id, kg.seed).then(function () {
          if (!c.cosign) { return r; }
          return call('answer', [kg.seed, pin, JSON.stringify(c.cosign), 'csr', c.id]).then(function (ans) {
            return api('POST', '/v1/me/credentials/' + encodeURIComponent(c.id) + '/cosign', { cosign: ans }, true);
          });
        }).then(function (done) {
          return dropNew(tag).then(function () { return done; });
        });
      }).then(function (r) {
        kg = null;
        return r;
      }, function (err) {
        kg = null;
        throw err;
      });
    }

    // confirm approves session sessionId with body {credential, code, pin,
    // …} in two requests: the first (no PIN) returns the gateway's
    // challenge, the second carries the phone's answer. The PIN stays here.
    function confirm(sessionId, body) {
      var pin = body.pin;
      var req = {};
      Object.keys(body).forEach(function (k) { if (k !== 'pin') { req[k] = body[k]; } });
      body.pin = '';
      var path = '/v1/sessions/' + encodeURIComponent(sessionId) + '/confirm';
      var seed;
      return loadSeed(req.credential).then(function (s) {
        seed = s;
        return half(); // loaded before the first request starts the gateway's clock
      }).then(function () {
        return api('POST', path, req, true);
      }).then(function (first) {
        if (!first || !first.cosign) { return first; }
        return call('answer', [seed, pin, JSON.stringify(first.cosign), sessionId, req.credential]).then(function (ans) {
          seed = pin = '';
          req.cosign = ans;
          return api('POST', path, req, true);
        });
      }).then(function (r) {
        seed = pin = '';
        return r;
      }, function (err) {
        seed = pin = '';
        throw err;
      });
    }

    // reshare prepares a PIN change for every cosign credential this
    // phone holds: {cosign: {credential: message} | undefined,
    // commit(): Promise, drop(): Promise}. The new seeds are kept aside
    // (pending, wrapped like the others, with the time the change was
    // sent) before reshare answers: a change the gateway took but whose
    // answer was lost must not leave the phone with old seeds only, which
    // no longer fit the gateway's new shares (the credentials would be
    // lost). commit makes them the seeds once the gateway accepted the
    // change; drop forgets them once it refused it; after neither,
    // settle decides later.
    function reshare(oldPIN, newPIN, sentAt) {
      return heldCredentials().then(function (ids) {
        if (!ids.length) { return { cosign: undefined, commit: function () { return Promise.resolve(); }, drop: function () { return Promise.resolve(); } }; }
        var msgs = {}, seeds = {};
        var chain = Promise.resolve();
        ids.forEach(function (id) {
          chain = chain.then(function () { return loadSeed(id); }).then(function (seed) {
            return call('changePIN', [seed, oldPIN, newPIN, id]);
          }).then(function (r) {
            msgs[id] = r.reshare;
            seeds[id] = r.seed;
          });
        });
        return chain.then(function () {
          return Promise.all(ids.map(function (id) { return saveSeed(id, seeds[id], PENDING_PREFIX, { sentAt: sentAt }); }));
        }).then(function () {
          return {
            cosign: msgs,
            commit: function () {
              return Promise.all(ids.map(function (id) { return saveSeed(id, seeds[id]); })).then(function () {
                seeds = {};
                return dropPending(ids);
              });
            },
            drop: function () { seeds = {}; return dropPending(ids); }
          };
        });
      });
    }
    function dropPending(ids) {
      return Promise.all(ids.map(function (id) { return dbDo('readwrite', function (s) { return s.delete(PENDING_PREFIX + id); }); }));
    }

    // pendingSince is the earliest time a PIN change whose outcome the
    // phone does not know was sent (ms since the epoch, gateway clock), or
    // 0 when there is none.
    function pendingSince() {
      return heldCredentials(PENDING_PREFIX).then(function (ids) {
        return Promise.all(ids.map(function (id) { return dbDo('readonly', function (s) { return s.get(PENDING_PREFIX + id); }); }));
      }).then(function (recs) {
        return recs.reduce(function (m, r) { return r && r.sentAt && (!m || r.sentAt < m) ? r.sentAt : m; }, 0);
      });
    }

    // settle ends a PIN change of unknown outcome: taken (the gateway has
    // the new shares) makes the pending seeds the seeds; else they are
    // forgotten.
    function settle(taken) {
      return heldCredentials(PENDING_PREFIX).then(function (ids) {
        if (!taken) { return dropPending(ids); }
        return Promise.all(ids.map(function (id) {
          return loadSeed(id, PENDING_PREFIX).then(function (seed) { return saveSeed(id, seed); });
        })).then(function () { return dropPending(ids); });
      });
    }

    function isCosign(c) { return !!c && c.mode === 'cosign'; }

    return {
      isCosign: isCosign,
      available: function () { return typeof WebAssembly === 'object'; },
      preload: function () { return half().then(function () { return true; }, function () { return false; }); },
      request: request,
      confirm: confirm,
      reshare: reshare,
      pendingSince: pendingSince,
      settle: settle,
      settleNew: settleNew,
      held: function () { return heldCredentials(); }
    };
  }

  make.TEXT = TEXT;
  window.ukeygateCosignApp = make;
})();
