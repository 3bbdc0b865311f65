package api_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image/png"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/qrlogin"
)

// certOf parses a credential's certificate.
func certOf(t *testing.T, c *phone.Credential) *smx509.Certificate {
	t.Helper()
	certs, err := gmcrypto.ParseCertificatesPEM([]byte(c.CertificatePEM))
	if err != nil || len(certs) == 0 {
		t.Fatalf("credential %s: certificate: %v", c.ID, err)
	}
	return certs[0]
}

// completeSession creates a session with req, scans it with p, checks
// what the phone is shown, confirms with credential cred and returns the
// session as the portal then reads it.
func (w *sxWorld) completeSession(t *testing.T, req map[string]any, p *phone.Client, cred string) (*sxCreated, *sxView) {
	t.Helper()
	c := w.create(req)
	if c.State != "waiting" || len(c.Code) != 2 || c.Watch.Token == "" || !strings.HasPrefix(c.QR.Payload, w.ts.URL+"/q/") {
		t.Fatalf("creation answer %+v", c)
	}
	sc, err := w.scan(p, c.QR.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Session.ID != c.ID || sc.Session.App.Name != "招标平台" || sc.Session.Origin != sxOrigin ||
		len(sc.Session.CodeChoices) != 3 || !slices.Contains(sc.Session.CodeChoices, c.Code) {
		t.Fatalf("scan shows %+v (code %s)", sc.Session, c.Code)
	}
	if !slices.ContainsFunc(sc.Credentials, func(pc phone.Credential) bool { return pc.ID == w.creds[cred].ID }) {
		t.Fatalf("scan offers %v, not %s", sc.Credentials, cred)
	}
	if err := w.confirm(p, c.ID, w.creds[cred].ID, sxPIN, c.Code); err != nil {
		t.Fatal(err)
	}
	v := w.view(c.ID)
	if v.State != "completed" || len(v.Events) != 3 || v.Events[2].State != "completed" || !bytes.Equal(v.Events[2].Result, v.Result) {
		t.Fatalf("after confirm: %+v", v)
	}
	return c, v
}

// auditOf returns the audit entries of a session.
func (w *sxWorld) auditOf(t *testing.T, id string) []map[string]any {
	t.Helper()
	var out struct {
		Entries []map[string]any `json:"entries"`
	}
	w.must(w.do("GET", "/v1/admin/audit?session="+id, nil, map[string]string{"Authorization": "Bearer " + w.ts.AdminToken}), http.StatusOK).decode(t, &out)
	return out.Entries
}

func TestSessionsHappyPaths(t *testing.T) {
	t.Parallel()
	w := sxNew(t)
	for _, alg := range []string{"SM2", "RSA"} {
		iss := strings.ToLower(alg)
		signCred, encCred := "alice/"+iss+"/sign", "alice/"+iss+"/encrypt"
		cert := certOf(t, w.creds[signCred])

		t.Run(alg+"/login", func(t *testing.T) {
			c, v := w.completeSession(t, map[string]any{"kind": "login", "alg": alg}, w.alice, signCred)
			var res protocol.LoginResult
			if err := json.Unmarshal(v.Result, &res); err != nil {
				t.Fatal(err)
			}
			ch, err := qrlogin.ParseChallenge(res.Challenge)
			if err != nil {
				t.Fatal(err)
			}
			if err := ch.Check(c.ID, w.appID, sxOrigin, time.Now(), time.Minute); err != nil {
				t.Fatal(err)
			}
			chain, err := gmcrypto.ParseCertificatesPEM([]byte(res.CertificatePEM))
			if err != nil || len(chain) != 2 || !bytes.Equal(chain[0].Raw, cert.Raw) {
				t.Fatalf("certificate_pem: %d certificates, %v", len(chain), err)
			}
			if err := chain[0].CheckSignatureFrom(chain[1]); err != nil {
				t.Fatalf("chain: %v", err)
			}
			if res.User != w.alice.State.UserID || res.Credential != w.creds[signCred].ID {
				t.Fatalf("user %s credential %s", res.User, res.Credential)
			}
			// Checked with the library entry points directly, not through
			// gmcrypto: SM2 with Z of the default id, RSA PKCS#1 v1.5 SHA-256.
			switch pub := cert.PublicKey.(type) {
			case *ecdsa.PublicKey:
				if !sm2.VerifyASN1WithSM2(pub, nil, res.Challenge, res.Signature) {
					t.Fatal("SM2 login signature does not verify")
				}
			case *rsa.PublicKey:
				h := sha256.Sum256(res.Challenge)
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], res.Signature); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("key %T", pub)
			}
			entries := w.auditOf(t, c.ID)
			if len(entries) != 1 || entries[0]["outcome"] != "ok" || entries[0]["action"] != "login" ||
				entries[0]["digest"] != hex.EncodeToString(gmcrypto.SM3(res.Challenge)) ||
				entries[0]["credential"] != w.creds[signCred].ID || entries[0]["app"] != w.appID ||
				entries[0]["actor"] != "device:"+w.alice.State.DeviceID {
				t.Fatalf("audit %v", entries)
			}
		})

		dataA := []byte("投标文件 A: 第一章 总则\n")
		dataB := bytes.Repeat([]byte("bid document B "), 100)
		for _, format := range []string{"raw", "cms-detached", "cms-attached"} {
			t.Run(alg+"/sign/"+format, func(t *testing.T) {
				docs := []map[string]any{{"name": "a.txt", "data": dataA}}
				var digestB []byte
				switch {
				case format == "raw":
					var err error
					if digestB, err = gmcrypto.Digest(cert.PublicKey, dataB, nil); err != nil {
						t.Fatal(err)
					}
				case format == "cms-detached" && alg == "SM2":
					digestB = gmcrypto.SM3(dataB)
				case format == "cms-detached":
					h := sha256.Sum256(dataB)
					digestB = h[:]
				}
				if digestB != nil {
					docs = append(docs, map[string]any{"name": "b.bin", "digest": digestB})
				}
				c, v := w.completeSession(t, map[string]any{"kind": "sign", "alg": alg, "format": format, "documents": docs}, w.alice, signCred)
				var res struct {
					CertificatePEM string `json:"certificate_pem"`
					Documents      []struct {
						Name      string `json:"name"`
						Signature []byte `json:"signature"`
						CMS       []byte `json:"cms"`
					} `json:"documents"`
				}
				if err := json.Unmarshal(v.Result, &res); err != nil {
					t.Fatal(err)
				}
				if len(res.Documents) != len(docs) || !strings.Contains(res.CertificatePEM, "BEGIN CERTIFICATE") {
					t.Fatalf("result %s", v.Result)
				}
				for i, d := range res.Documents {
					data := dataA
					if i == 1 {
						data = dataB
					}
					if d.Name != docs[i]["name"] {
						t.Fatalf("document %d is %q", i, d.Name)
					}
					switch format {
					case "raw":
						if d.CMS != nil || gmcrypto.Verify(cert.PublicKey, data, d.Signature, nil) != nil {
							t.Fatalf("%s: raw signature does not verify over the data", d.Name)
						}
					case "cms-detached":
						if d.Signature != nil {
							t.Fatal("a CMS document with a raw signature")
						}
						if _, err := gmcrypto.VerifyCMS(d.CMS, data); err != nil {
							t.Fatalf("%s: %v", d.Name, err)
						}
					case "cms-attached":
						s, err := gmcrypto.VerifyCMS(d.CMS, nil)
						if err != nil {
							t.Fatalf("%s: %v", d.Name, err)
						}
						if !bytes.Equal(s.Content, data) {
							t.Fatal("attached content differs")
						}
					}
				}
				want := gmcrypto.SM3(dataA)
				if digestB != nil {
					want = gmcrypto.SM3(append(gmcrypto.SM3(dataA), digestB...))
				}
				if e := w.auditOf(t, c.ID); len(e) != 1 || e[0]["digest"] != hex.EncodeToString(want) || e[0]["action"] != "sign" {
					t.Fatalf("audit %v, want digest %x", e, want)
				}
			})
		}

		plain := []byte("开标: 报价 1,234,567.89 元")
		formats := []string{"rsa-oaep", "rsa-pkcs1", "cms"}
		if alg == "SM2" {
			formats = []string{"c1c3c2", "c1c2c3", "asn1", "cms"}
		}
		encCert := certOf(t, w.creds[encCred])
		for _, f := range formats {
			for _, returnKey := range []bool{false, true} {
				if returnKey && f != "cms" {
					continue
				}
				name := alg + "/decrypt/" + f
				if returnKey {
					name += "/return_key"
				}
				t.Run(name, func(t *testing.T) {
					var ct []byte
					var err error
					if f == "cms" {
						ct, err = gmcrypto.EnvelopeCMS(plain, encCert)
					} else {
						ct, err = gmcrypto.Encrypt(encCert.PublicKey, plain, gmcrypto.CipherFormat(f))
					}
					if err != nil {
						t.Fatal(err)
					}
					req := map[string]any{"kind": "decrypt", "ciphertext": ct, "ciphertext_format": f}
					if returnKey {
						req["return_key"] = true
					}
					c, v := w.completeSession(t, req, w.alice, encCred)
					var res struct {
						Plaintext  []byte `json:"plaintext"`
						ContentKey []byte `json:"content_key"`
						ContentAlg string `json:"content_alg"`
					}
					if err := json.Unmarshal(v.Result, &res); err != nil {
						t.Fatal(err)
					}
					if !returnKey && !bytes.Equal(res.Plaintext, plain) {
						t.Fatalf("plaintext %q", res.Plaintext)
					}
					if returnKey {
						okAlg := res.ContentAlg == gmcrypto.OIDSM4CBC.String() && len(res.ContentKey) == 16 ||
							res.ContentAlg == gmcrypto.OIDAES256CBC.String() && len(res.ContentKey) == 32
						if !okAlg || res.Plaintext != nil {
							t.Fatalf("content key of %d bytes, alg %s", len(res.ContentKey), res.ContentAlg)
						}
					}
					if e := w.auditOf(t, c.ID); len(e) != 1 || e[0]["digest"] != hex.EncodeToString(gmcrypto.SM3(ct)) {
						t.Fatalf("audit %v", e)
					}
				})
			}
		}
	}

	t.Run("origin header, forwarded desktop and scan details", func(t *testing.T) {
		var c sxCreated
		w.must(w.do("POST", "/v1/sessions", map[string]any{
			"kind": "sign", "documents": []map[string]any{{"name": "x", "data": []byte("12345")}},
			"desktop": map[string]string{"ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (desk)"},
			"display": map[string]string{"title": "t"},
		}, map[string]string{"Authorization": "Bearer " + w.appKey, "Origin": "HTTPS://BID.example.cn:443"}), http.StatusCreated).decode(t, &c)
		sc, err := w.scan(w.alice, c.QR.Payload)
		if err != nil {
			t.Fatal(err)
		}
		s := sc.Session
		if s.Origin != sxOrigin || s.Desktop.IP != "203.0.113.7" || s.Desktop.UserAgent != "Mozilla/5.0 (desk)" {
			t.Fatalf("scan shows origin %q desktop %+v", s.Origin, s.Desktop)
		}
		if len(s.Documents) != 1 || s.Documents[0].Size == nil || *s.Documents[0].Size != 5 ||
			s.Documents[0].Digest != hex.EncodeToString(gmcrypto.SM3([]byte("12345"))) || s.Documents[0].DigestAlg != "sm3" {
			t.Fatalf("documents %+v", s.Documents)
		}
		// Only sign credentials fit a sign session without issuer or alg.
		var ids []string
		for _, cr := range sc.Credentials {
			ids = append(ids, cr.ID)
		}
		slices.Sort(ids)
		want := []string{w.creds["alice/sm2/sign"].ID, w.creds["alice/rsa/sign"].ID}
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Fatalf("credentials %v, want %v", ids, want)
		}
	})

	t.Run("desktop defaults to the caller", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "login"})
		sc, err := w.scan(w.alice, c.QR.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if sc.Session.Desktop.IP != "127.0.0.1" || !strings.HasPrefix(sc.Session.Desktop.UserAgent, "Go-http-client") {
			t.Fatalf("desktop %+v", sc.Session.Desktop)
		}
	})

	t.Run("QR images", func(t *testing.T) {
		c := w.create(map[string]any{"kind": "login"})
		r := w.must(w.do("GET", c.QR.PNGURL, nil, nil), http.StatusOK)
		if r.header.Get("Content-Type") != "image/png" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("headers %v", r.header)
		}
		img, err := png.Decode(bytes.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != qrlogin.DefaultSize {
			t.Fatalf("size %v", b)
		}
		got, err := phone.DecodeQRImage(img)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.QR.Payload {
			t.Fatalf("QR decodes to %q, want %q", got, c.QR.Payload)
		}
		// A second request is served from the cache: the same bytes as a
		// fresh rendering of the payload.
		again := w.must(w.do("GET", c.QR.PNGURL, nil, nil), http.StatusOK)
		fresh, err := qrlogin.PNG(c.QR.Payload, qrlogin.DefaultSize)
		if err != nil || !bytes.Equal(again.body, r.body) || !bytes.Equal(fresh, r.body) || again.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("second QR answer differs from the first or from a fresh rendering (%v)", err)
		}
		r = w.must(w.app("GET", "/v1/sessions/"+c.ID+"/qr.png?size=512", nil), http.StatusOK)
		if img, err := png.Decode(bytes.NewReader(r.body)); err != nil || img.Bounds().Dx() != 512 {
			t.Fatalf("size=512: %v", err)
		}
		r = w.must(w.do("GET", c.QR.SVGURL, nil, nil), http.StatusOK)
		if r.header.Get("Content-Type") != "image/svg+xml" || !bytes.HasPrefix(r.body, []byte("<svg")) {
			t.Fatalf("svg %s", r.header)
		}
		for _, size := range []string{"100", "1025", "abc", "-1", "256.5"} {
			if r := w.refused(w.do("GET", c.QR.PNGURL+"&size="+size, nil, nil), http.StatusBadRequest, "invalid_size"); r.field != "size" {
				t.Fatalf("size=%s: error.field %q, want size", size, r.field)
			}
		}
	})
}
