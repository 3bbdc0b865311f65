// Encrypts a message to an SM2 public key with npm sm-crypto and gm-crypto,
// in both orders, with each library's defaults otherwise (C1 without the
// 04 prefix). Input on stdin: {"public_key": "04…" (hex), "message": hex}.
// Output: {"sm-crypto/c1c3c2": hex, "sm-crypto/c1c2c3": hex,
// "gm-crypto/c1c3c2": hex, "gm-crypto/c1c2c3": hex}.
'use strict';
const { sm2 } = require('sm-crypto');
const { SM2 } = require('gm-crypto');

let input = '';
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const { public_key: pub, message } = JSON.parse(input);
  const msg = Array.from(Buffer.from(message, 'hex'));
  const gm = (mode) => SM2.encrypt(message, pub, { inputEncoding: 'hex', outputEncoding: 'hex', mode });
  process.stdout.write(JSON.stringify({
    'sm-crypto/c1c3c2': sm2.doEncrypt(msg, pub, 1),
    'sm-crypto/c1c2c3': sm2.doEncrypt(msg, pub, 0),
    'gm-crypto/c1c3c2': gm(SM2.constants.C1C3C2),
    'gm-crypto/c1c2c3': gm(SM2.constants.C1C2C3),
  }));
});
