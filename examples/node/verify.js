// Verifying what a ukeygate gateway produces, in Node.js, with npm
// sm-crypto (pinned in package.json) for SM2/SM3 and Node's crypto for RSA
// and HMAC. No OpenSSL CMS: OpenSSL cannot check SM2 CMS, so the few DER
// structures needed are walked here (derRead and friends).
//
//   node verify.js artefacts.properties
//
// reads key=base64 lines (the Go test writes them from a live gateway;
// in a real backend these values come from the session result JSON and
// the webhook request) and prints "ok NAME" or "FAIL NAME: why" for each
// check; it exits 1 if any failed.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const { sm2, sm3 } = require('sm-crypto');

// ---- DER: just enough to walk certificates and CMS SignedData ----

function derRead(buf, off = 0) {
  const tag = buf[off];
  let len = buf[off + 1];
  let hdr = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[off + 2 + i];
    hdr = 2 + n;
  }
  if (off + hdr + len > buf.length) throw new Error('DER: truncated');
  return { tag, start: off, body: off + hdr, end: off + hdr + len, buf };
}
const derKids = (t) => {
  const out = [];
  for (let o = t.body; o < t.end;) { const k = derRead(t.buf, o); out.push(k); o = k.end; }
  return out;
};
const derValue = (t) => t.buf.subarray(t.body, t.end);
const derFull = (t) => t.buf.subarray(t.start, t.end);
function derOID(t) {
  const b = derValue(t);
  const out = [Math.floor(b[0] / 40), b[0] % 40];
  let v = 0;
  for (let i = 1; i < b.length; i++) { v = v * 128 + (b[i] & 0x7f); if (!(b[i] & 0x80)) { out.push(v); v = 0; } }
  return out.join('.');
}

const OID = {
  gmSignedData: '1.2.156.10197.6.1.4.2.2', signedData: '1.2.840.113549.1.7.2',
  messageDigest: '1.2.840.113549.1.9.4', sm3: '1.2.156.10197.1.401', sha256: '2.16.840.1.101.3.4.2.1',
};

// ---- certificates ----

// certOf parses the first certificate of a PEM (a result's certificate_pem
// holds the signer's certificate, then its issuer chain).
function certOf(pem) {
  const c = new crypto.X509Certificate(pem);
  const now = new Date();
  if (now < new Date(c.validFrom) || now > new Date(c.validTo)) throw new Error('certificate outside its validity');
  return c;
}

// sm2PublicHex is the SM2 public key as sm-crypto takes it: hex 04||X||Y
// (the last 65 bytes of the SubjectPublicKeyInfo).
const sm2PublicHex = (cert) => cert.publicKey.export({ type: 'spki', format: 'der' }).subarray(-65).toString('hex');
const isSM2 = (cert) => cert.publicKey.asymmetricKeyType === 'sm2' || cert.publicKey.asymmetricKeyDetails?.namedCurve === 'SM2' ||
  cert.publicKey.export({ type: 'spki', format: 'der' }).includes(Buffer.from('2a811ccf5501822d', 'hex')); // OID 1.2.156.10197.1.301

// sm2Verify checks an SM2 signature (DER SEQUENCE{r, s}) over msg: SM3
// with Z, default user id 1234567812345678, as the gateway signs.
const sm2Verify = (msg, sigDER, pubHex) =>
  sm2.doVerifySignature(Array.from(msg), Buffer.from(sigDER).toString('hex'), pubHex, { der: true, hash: true });

// checkIssuedBy verifies that cert was signed by the CA certificate (the
// issuer's /v1/issuers/{id}/ca.pem): SM2 with SM3 and Z, or RSA.
function checkIssuedBy(cert, caPEM) {
  const ca = new crypto.X509Certificate(caPEM);
  if (cert.issuer !== ca.subject) throw new Error('certificate not issued by this CA');
  const [tbs, , sigBits] = derKids(derRead(cert.raw));
  const sig = derValue(sigBits).subarray(1); // BIT STRING: skip the unused-bits byte
  const ok = isSM2(ca) ? sm2Verify(derFull(tbs), sig, sm2PublicHex(ca)) : cert.verify(ca.publicKey);
  if (!ok) throw new Error("certificate signature does not verify with the CA's key");
}

// ---- 1. login result ----

// verifyLogin checks a login result: the challenge names this session,
// app and origin and is recent, the certificate chains to the CA, and the
// signature over the exact challenge bytes verifies.
function verifyLogin(res, want, caPEM) {
  const ch = JSON.parse(res.challenge.toString('utf8'));
  if (ch.session !== want.session || ch.app !== want.app || ch.origin !== want.origin) throw new Error('challenge is for another session, app or origin');
  if (Math.abs(Date.now() - Date.parse(ch.time)) > 5 * 60 * 1000) throw new Error('challenge is not recent');
  const cert = certOf(res.certificate_pem);
  checkIssuedBy(cert, caPEM);
  const ok = isSM2(cert) ? sm2Verify(res.challenge, res.signature, sm2PublicHex(cert))
    : crypto.verify('sha256', res.challenge, cert.publicKey, res.signature);
  if (!ok) throw new Error('login signature does not verify');
  return cert.subject;
}

// ---- 2. raw signature ----

function verifyRaw(data, signature, certPEM, caPEM) {
  const cert = certOf(certPEM);
  checkIssuedBy(cert, caPEM);
  const ok = isSM2(cert) ? sm2Verify(data, signature, sm2PublicHex(cert))
    : crypto.verify('sha256', data, cert.publicKey, signature);
  if (!ok) throw new Error('signature does not verify');
  return cert.subject;
}

// ---- 3 and 4. CMS SignedData, detached (SM2 with the GM/T 0010 OIDs, or RSA) ----

// verifyCMSDetached checks each signer of a detached SignedData over data:
// the messageDigest attribute is the digest of data (SM3 for SM2, SHA-256
// for RSA) and the signature over the DER SET of the signed attributes
// verifies with the carried certificate, which chains to the CA.
function verifyCMSDetached(der, data, caPEM) {
  const [ctype, wrapped] = derKids(derRead(der));
  if (![OID.gmSignedData, OID.signedData].includes(derOID(ctype))) throw new Error('not a SignedData');
  const sd = derKids(derKids(wrapped)[0]);
  const certs = sd.filter((k) => k.tag === 0xa0).flatMap(derKids).map((c) => new crypto.X509Certificate(derFull(c)));
  const signerInfos = derKids(sd[sd.length - 1]);
  if (signerInfos.length === 0) throw new Error('no signer');
  const subjects = [];
  for (const si of signerInfos) {
    const parts = derKids(si);
    const attrs = parts.find((k) => k.tag === 0xa0);
    if (!attrs) throw new Error('no signed attributes');
    const sig = derValue(parts[parts.length - 1].tag === 0x04 ? parts[parts.length - 1] : parts[parts.length - 2]);
    // sid: IssuerAndSerialNumber; the serial picks the carried certificate.
    const serial = BigInt('0x' + derValue(derKids(parts[1])[1]).toString('hex'));
    const cert = certs.find((c) => BigInt('0x' + c.serialNumber) === serial);
    if (!cert) throw new Error('signer certificate not carried');
    checkIssuedBy(cert, caPEM);
    const sm = isSM2(cert);
    const digest = sm ? Buffer.from(sm3(Array.from(data)), 'hex') : crypto.createHash('sha256').update(data).digest();
    const md = derKids(attrs).map(derKids).find(([type]) => derOID(type) === OID.messageDigest);
    if (!md || !derValue(derKids(md[1])[0]).equals(digest)) throw new Error('messageDigest is not the digest of the content');
    const signed = Buffer.from(derFull(attrs));
    signed[0] = 0x31; // signed over as a SET OF, not as [0] IMPLICIT
    const ok = sm ? sm2Verify(signed, sig, sm2PublicHex(cert)) : crypto.verify('sha256', signed, cert.publicKey, sig);
    if (!ok) throw new Error('signature does not verify');
    subjects.push(cert.subject);
  }
  return subjects.join('; ');
}

// ---- 5. webhook ----

// verifyWebhook checks X-Ukeygate-Signature: v1=<hex HMAC-SHA256(secret,
// TIMESTAMP + "." + body)> with X-Ukeygate-Timestamp no more than 5
// minutes away, over the raw body bytes, in constant time.
function verifyWebhook(secret, timestamp, signatureHeader, body) {
  const ts = Number.parseInt(timestamp, 10);
  if (!Number.isFinite(ts) || Math.abs(Date.now() / 1000 - ts) > 300) throw new Error('timestamp missing or too old');
  const want = Buffer.from('v1=' + crypto.createHmac('sha256', secret).update(timestamp + '.').update(body).digest('hex'));
  const got = Buffer.from(String(signatureHeader));
  if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) throw new Error('signature does not match');
  return JSON.parse(body.toString('utf8'));
}

module.exports = { verifyLogin, verifyRaw, verifyCMSDetached, verifyWebhook, checkIssuedBy };

// ---- the runner the Go test uses ----

if (require.main === module) {
  const a = {};
  for (const line of fs.readFileSync(process.argv[2], 'utf8').split('\n')) {
    const m = /^([\w.]+)=(.*)$/.exec(line.trim());
    if (m) a[m[1]] = Buffer.from(m[2], 'base64');
  }
  const s = (k) => a[k].toString('utf8');
  let failed = 0;
  let ran = 0;
  // A check whose artefacts are not all in the file is skipped (run only
  // the checks you have artefacts for); its keys are named.
  const check = (name, keys, fn) => {
    const missing = keys.filter((k) => !(k in a));
    if (missing.length) { process.stdout.write(`skip ${name}: no ${missing.join(', ')} in ${process.argv[2]}\n`); return; }
    ran++;
    try { const who = fn(); process.stdout.write(`ok ${name}\n`); if (who) process.stdout.write(`   ${who}\n`); } catch (e) { failed++; process.stdout.write(`FAIL ${name}: ${e.message}\n`); }
  };
  check('login-sm2', ['login.challenge', 'login.signature', 'login.certificate_pem', 'login.session', 'login.app', 'login.origin', 'ca.sm2.pem'], () => verifyLogin({ challenge: a['login.challenge'], signature: a['login.signature'], certificate_pem: s('login.certificate_pem') },
    { session: s('login.session'), app: s('login.app'), origin: s('login.origin') }, s('ca.sm2.pem')));
  check('raw-sm2', ['raw.data', 'raw.signature', 'raw.certificate_pem', 'ca.sm2.pem'], () => verifyRaw(a['raw.data'], a['raw.signature'], s('raw.certificate_pem'), s('ca.sm2.pem')));
  check('cms-sm2', ['cms_sm2.cms', 'cms_sm2.data', 'ca.sm2.pem'], () => verifyCMSDetached(a['cms_sm2.cms'], a['cms_sm2.data'], s('ca.sm2.pem')));
  check('cms-rsa', ['cms_rsa.cms', 'cms_rsa.data', 'ca.rsa.pem'], () => verifyCMSDetached(a['cms_rsa.cms'], a['cms_rsa.data'], s('ca.rsa.pem')));
  check('webhook', ['webhook.secret', 'webhook.timestamp', 'webhook.signature', 'webhook.body'], () => {
    const ev = verifyWebhook(s('webhook.secret'), s('webhook.timestamp'), s('webhook.signature'), a['webhook.body']);
    if (ev.state !== 'completed') throw new Error(`event state ${ev.state}`);
    return `delivery ${ev.id}: session ${ev.session} ${ev.state}`;
  });
  if (!ran) { process.stdout.write(`FAIL: nothing to check in ${process.argv[2]}\n`); }
  process.exit(failed || !ran ? 1 : 0);
}
