package demo

import "strings"

// demoSnippets are the lines a portal developer copies, shown next to the
// live widget on each page. "{GATEWAY}" and "{SDK}" are replaced with the
// demo's gateway URL and widget URL. Page templates escape them.
var demoSnippets = map[string]map[string]string{
	"login": {
		"js": `<div id="ukg-login"></div>
<script src="{SDK}"></script>
<script src="/js/login.js"></script>   <!-- no inline script: CSP script-src 'self' -->

// login.js
UKeyGate.mount(document.getElementById('ukg-login'), {
  lang: 'zh', autoRefresh: true,
  // your backend creates the session with the app key
  createSession: () => fetch('/login/session', {method: 'POST'}).then(r => r.json()),
  // the browser only says "done"; your backend fetches and checks the result
  onResult: (result, session) => fetch('/login/finish', {
    method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({session: session.id})
  }).then(() => location.reload())
});`,
		"go": `gw := &portal.Client{BaseURL: "{GATEWAY}", AppKey: os.Getenv("UKEYGATE_APP_KEY")}

// POST /login/session
s, err := gw.CreateSession(ctx, portal.SessionRequest{
	Kind:    portal.KindLogin,
	Display: portal.Display{Title: "登录 采购平台", Summary: "扫码登录"},
})
rememberForThisBrowser(s.ID)      // only this browser may finish it
json.NewEncoder(w).Encode(s)      // id, code, qr, watch token: no app secret

// POST /login/finish {session}
s, err = gw.GetSession(ctx, id)   // the result comes from the gateway, not the browser
res, err := s.Login()`,
		"curl": `curl -s {GATEWAY}/v1/sessions \
  -H "Authorization: Bearer $APP_KEY" -H 'Content-Type: application/json' \
  -d '{"kind":"login","display":{"title":"登录","summary":"扫码登录"},"ttl_seconds":120}'

curl -s {GATEWAY}/v1/sessions/$ID -H "Authorization: Bearer $APP_KEY"`,
		"verify": `v, err := portal.VerifyLogin(res, portal.LoginExpect{
	Session: id, App: appID, Origin: "https://bid.example.com", // what you expect
})                               // challenge fields + time + SM2/RSA signature, offline
vr, err := gw.Verify(ctx, portal.VerifyRequest{       // chain, usage, revocation
	Data: res.Challenge, Signature: res.Signature, CertificatePEM: res.CertificatePEM,
})
if err == nil && vr.Valid {
	startSession(w, v.Certificate.Subject.CommonName)
}`,
	},
	"sign": {
		"js": `UKeyGate.mount(document.getElementById('ukg-sign'), {
  lang: 'zh',
  createSession: () => fetch('/bids/42/sign', {method: 'POST'}).then(r => r.json()),
  onResult: (result, session) => fetch('/bids/42/sign/finish', {
    method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({session: session.id})
  })
});`,
		"go": `s, err := gw.CreateSession(ctx, portal.SessionRequest{
	Kind:      portal.KindSign,
	User:      bidder.UserID,                 // the logged-in user's gateway id
	Format:    portal.FormatCMSDetached,
	Documents: []portal.Document{{Name: "bid.pdf", Data: pdf}},
	Display:   portal.Display{Title: "签署投标文件", Summary: "bid.pdf, 1.2 MB"},
})
// later, on /finish:
s, err = gw.GetSession(ctx, id)
res, err := s.Sign()
p7s := res.Documents[0].CMS                  // DER, save as bid.pdf.p7s`,
		"curl": `curl -s {GATEWAY}/v1/sessions \
  -H "Authorization: Bearer $APP_KEY" -H 'Content-Type: application/json' \
  -d '{"kind":"sign","format":"cms-detached",
       "documents":[{"name":"bid.pdf","data":"'"$(base64 -w0 bid.pdf)"'"}],
       "display":{"title":"签署投标文件","summary":"bid.pdf"}}'`,
		"verify": `vr, err := gw.Verify(ctx, portal.VerifyRequest{Data: pdf, CMS: p7s})
// vr.Valid, vr.Signer.Subject, vr.Signer.NotAfter
// RSA signatures also verify with:
//   openssl cms -verify -binary -inform DER -in bid.pdf.p7s -content bid.pdf -CAfile ca.pem`,
	},
	"open": {
		"js": `UKeyGate.mount(document.getElementById('ukg-open'), {
  lang: 'zh',
  createSession: () => fetch('/bids/42/open', {method: 'POST'}).then(r => r.json()),
  onResult: (result, session) => fetch('/bids/42/open/finish', {
    method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({session: session.id})
  })
});`,
		"go": `// at submission: seal the bid to the bidder's encryption certificate
sealed, err := gw.Encrypt(ctx, bidder.UserID, "", bid)   // CMS EnvelopedData

// at the opening: the bidder scans and confirms with the PIN
s, err := gw.CreateSession(ctx, portal.SessionRequest{
	Kind: portal.KindDecrypt, User: bidder.UserID,
	Ciphertext: sealed, CiphertextFormat: portal.CipherCMS,
	Display: portal.Display{Title: "开标", Summary: "ZC-2026-042"},
})
// on /finish:
s, err = gw.GetSession(ctx, id)
res, err := s.Decrypt()                      // res.Plaintext`,
		"curl": `curl -s {GATEWAY}/v1/encrypt -H "Authorization: Bearer $APP_KEY" \
  -H 'Content-Type: application/json' \
  -d '{"user":"'"$USER_ID"'","data":"'"$(base64 -w0 bid.txt)"'"}'

curl -s {GATEWAY}/v1/sessions -H "Authorization: Bearer $APP_KEY" \
  -H 'Content-Type: application/json' \
  -d '{"kind":"decrypt","user":"'"$USER_ID"'","ciphertext":"'"$CMS_B64"'",
       "ciphertext_format":"cms","display":{"title":"开标","summary":"ZC-2026-042"}}'`,
		"verify": `// compare with what was submitted (or its hash, kept at submission)
if !bytes.Equal(res.Plaintext, bid) { /* refuse */ }`,
	},
}

// snippetsFor returns the page's snippets with the URLs filled in.
func (d *demo) snippetsFor(page string) map[string]string {
	r := strings.NewReplacer("{GATEWAY}", d.cfg.GatewayURL, "{SDK}", d.cfg.SDKURL)
	out := map[string]string{}
	for k, v := range demoSnippets[page] {
		out[k] = r.Replace(v)
	}
	return out
}
