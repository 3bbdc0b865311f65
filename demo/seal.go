package demo

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/seal"
)

// The "盖章" (seal) step of the sign page: a seal session over a sample bid
// PDF this demo makes itself (seal.TextPDF), the user's seal drawn at page
// 1, (150, 240) mm, checked here (portal.VerifyPDF) and by the gateway
// (Client.VerifyPDF) before the sealed PDF is offered for download.

// demoBidPDFName is the sample bid PDF's name.
const demoBidPDFName = "bid-2026-017.pdf"

// demoBidPlacement is where the seal goes: the bidder's signature block.
var demoBidPlacement = portal.Placement{Page: 1, XMM: 150, YMM: 240}

// bidPDF is the sample bid as a one-page PDF.
func bidPDF() []byte {
	return seal.TextPDF([][]string{{
		"Tender No. 2026-017: Riverside Bridge Repair, lot 3",
		"",
		"BID FORM",
		"",
		"Bidder: Example Construction Co., Ltd.",
		"Unified social credit code: 91110000000000000X",
		"Total bid price: CNY 1,234,000.00 (tax included)",
		"Construction period: 180 calendar days",
		"Bid validity: 90 days from the bid deadline",
		"",
		"We have read the tender documents and accept all their terms.",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"",
		"                                                                Bidder (official seal):",
		"                                                                Date: 2026-12-04",
	}})
}

// apiSeal creates a seal session over the sample bid PDF.
func (d *demo) apiSeal(w http.ResponseWriter, r *http.Request, v *demoVisitor) {
	var body ttlBody
	if !decodeBody(w, r, demoSmallBody, &body) {
		return
	}
	pdf := bidPDF()
	title, summary := "投标文件盖章", fmt.Sprintf("%s（1 页，在第 1 页 150,240 mm 处盖章）", demoBidPDFName)
	if d.langOf(r) == "en" {
		title, summary = "Seal the bid", fmt.Sprintf("%s (1 page, seal on page 1 at 150,240 mm)", demoBidPDFName)
	}
	req := portal.SessionRequest{
		Kind:      portal.KindSeal,
		Documents: []portal.Document{{Name: demoBidPDFName, PDF: pdf, Placements: []portal.Placement{demoBidPlacement}}},
		Display:   portal.Display{Title: title, Summary: summary},
	}
	if id := d.store.identity(v); id != nil {
		req.User = id.User
	}
	d.createSession(w, r, v, req, body.ttl(), &demoPending{name: demoBidPDFName, data: pdf})
}

// apiSealFinish reads the sealed PDF from the gateway, checks it here and
// at the gateway, and keeps it for download.
func (d *demo) apiSealFinish(w http.ResponseWriter, r *http.Request, v *demoVisitor) {
	s, p, ok := d.finishSession(w, r, v, string(portal.KindSeal))
	if !ok {
		return
	}
	res, err := s.Seal()
	if err != nil || len(res.Documents) != 1 || len(res.Documents[0].PDF) <= len(p.data) {
		d.gatewayFailed(w, "seal result", fmt.Errorf("%w: want one sealed PDF", portal.ErrProtocol))
		return
	}
	sealed := res.Documents[0].PDF
	// Our own check: the original bytes kept, one valid signature over
	// the whole file, with a seal whose maker's signature verifies ...
	local, err := portal.VerifyPDF(sealed, nil)
	if err != nil || string(sealed[:len(p.data)]) != string(p.data) || len(local) != 1 || !local[0].Valid ||
		!local[0].CoversWholeDocument || local[0].Seal == nil || !local[0].SealValid {
		demoError(w, http.StatusForbidden, "signature_invalid", "the sealed PDF does not verify")
		return
	}
	// ... and the gateway's verdict (chain, revocation, the seal's too).
	vr, ok := d.verifyAtGateway(w, r, portal.VerifyRequest{PDF: sealed}, "signature_invalid", "the gateway did not accept the sealed PDF")
	if !ok {
		return
	}
	name := "bid-2026-017.sealed.pdf"
	fileID := randomID()
	d.store.with(v, func(v *demoVisitor) {
		limitMap(v.files, func(f *demoFile) time.Time { return f.created })
		v.files[fileID] = &demoFile{name: name, cms: sealed, contentType: "application/pdf", created: time.Now()}
	})
	demoJSON(w, http.StatusOK, map[string]any{
		"file":     name,
		"size":     len(sealed),
		"download": d.cfg.Prefix + "/api/download?id=" + url.QueryEscape(fileID),
		"signer":   vr.Signer,
		"seal":     map[string]string{"id": local[0].Seal.ID, "name": local[0].Seal.Name, "kind": string(local[0].Seal.Kind)},
		"valid":    true,
	})
}
