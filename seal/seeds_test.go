package seal

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// TestWriteSeeds regenerates the fuzz seeds in testdata/ when
// UKEYGATE_SEAL_SEEDS=1; otherwise it checks that they are there.
func TestWriteSeeds(t *testing.T) {
	if os.Getenv("UKEYGATE_SEAL_SEEDS") != "1" {
		for _, pat := range []string{"*.pdf", "*.png", "*.ses", "*.content"} {
			if m, _ := filepath.Glob(filepath.Join("testdata", pat)); len(m) == 0 {
				t.Fatalf("no fuzz seed testdata/%s", pat)
			}
		}
		return
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plain := testPDF(t, [][]string{{"Bid (seal): [SEAL HERE]"}, {"two"}}, 0)
	write("plain.pdf", plain)
	small, _ := CheckPNG(sealPNG(t, 24))
	write("seal.png", small.PNG)
	for _, alg := range []gmcrypto.Alg{gmcrypto.AlgRSA, gmcrypto.AlgSM2} {
		p := newPKI(t, alg)
		o := sealOptions(t, p, Placement{Page: 1, XMM: 100, YMM: 100})
		o.Image = small
		o.SES = nil
		out, err := Seal(plain, o)
		if err != nil {
			t.Fatal(err)
		}
		write("sealed-"+string(alg)+".pdf", out)
		write(string(alg)+".ses", p.sealDER)
	}
	// Form XObjects: nested, moved, clipped, drawing themselves, an
	// image; a bomb of one form drawn a thousand times.
	write("xobjects.pdf", formPDF([]string{"BT /F1 12 Tf 56 785 Td (Bid) Tj ET q 1 0 0 1 10 -10 cm /Fm0 Do Q /Im0 Do", "/Fm1 Do /Fm2 Do"},
		testForm{dict: "/BBox[0 0 400 800]/Matrix[1 0 0 1 0 -20]" + formDict[len("/BBox[0 0 595.276 841.89]"):], content: "BT /F2 12 Tf 56 760 Td ([SEAL HERE]) Tj ET /Fm1 Do"},
		testForm{dict: "/BBox[0 0 300 300]/Matrix[2 0 0 2 0 0]/Resources<</Font<</F1 4 0 R>>/XObject<<{forms}>>>>", content: "BT /F1 9 Tf 3 Tr 10 100 Td (ACB) Tj 0 Tr (AB) Tj ET /Fm0 Do /Fm2 Do"},
		testForm{dict: "/BBox[0 0 595.276 841.89]", content: "BT /F9 12 Tf 56 400 Td (BA) Tj ET /Fm2 Do /Im0 Do"}))
	write("xobject-bomb.pdf", formPDF([]string{strings.Repeat("/Fm0 Do ", 1000)},
		testForm{content: "BT /F2 12 Tf 56 785 Td (bomb) Tj ET " + strings.Repeat("0 0 m 1 1 l S ", 300) + "/Fm0 Do"}))
	// Annotations: a stamp scaled onto its /Rect, one turned, states
	// chosen by /AS, hidden ones, an appearance drawing itself; a page
	// clipped by paths.
	write("annots.pdf", annotPDF([]string{"q 100 600 200 100 re W n BT /F1 12 Tf 150 650 Td (Inside) Tj ET BT /F1 12 Tf 400 650 Td ([SEAL HERE]) Tj ET Q"},
		[][]string{append(slices.Clone(hiddenAnnots),
			"/Type/Annot/Subtype/Stamp/Rect[56 740 256 780]/AP<</N {Fm6}>>",
			"/Type/Annot/Subtype/Widget/Rect[300 450 400 470]/AS/Off/AP<</N<</On {Fm6}/Off {Fm7}>>>>",
			"/Type/Annot/Subtype/Stamp/Rect[300 300 320 400]/AP<</N {Fm8}>>")},
		append(slices.Clone(hiddenForms), appearance("SEAL", "/Matrix[2 0 0 2 30 40]"), appearance("Off /Fm6 Do", ""),
			testForm{dict: "/BBox[0 0 100 20]/Matrix[0 1 -1 0 0 0]/Resources<</Font<</F2 3 0 R>>/XObject<<{forms}>>>>", content: "BT /F2 10 Tf 10 5 Td (UP) Tj ET /Fm8 Do /Fm6 Do"})...))
	// Form fields whose appearances a viewer makes (text, inherited,
	// multiline, choice, rich text, a stream value), and optional
	// content off by default (marked content, annotations, a form).
	write("fields.pdf", extraPDF(pdfExtra{
		catalog: needAppearances + "/OCProperties<</OCGs[{X0} {X1}]/D<</OFF[{X0}]>>>>",
		pageRes: "/Properties<</MC0 {X0}/MC1 {X1}>>",
		objs: []string{"<</Type/OCG/Name(Off)>>", "<</Type/OCG/Name(On)>>", "<</Type/OCMD/OCGs[{X0} {X1}]/P/AnyOff>>",
			"<</FT/Tx/V(SEAL inherited)/DA(/Helv 9 Tf 0 g)>>", "<</Length 4>>\nstream\nSEAL\nendstream"},
	}, []string{"/OC /MC0 BDC BT /F1 12 Tf 56 500 Td (SEAL off) Tj ET /X BMC EMC EMC /OC /MC1 BDC BT /F1 12 Tf 56 480 Td (SEAL on) Tj ET EMC EMC /Fm1 Do"},
		[][]string{{
			"/Type/Annot/Subtype/Widget/Rect[56 700 256 720]/AP<</N {Fm0}>>/FT/Tx/V(SEAL value)/Q 2",
			"/Type/Annot/Subtype/Widget/Rect[56 680 256 700]/AP<</N {Fm0}>>/Parent {X3}",
			"/Type/Annot/Subtype/Widget/Rect[56 600 256 660]/AP<</N {Fm0}>>/FT/Tx/Ff 4096/V(SEAL\\nline\\rtwo)/RV(<p>x</p>)",
			"/Type/Annot/Subtype/Widget/Rect[56 580 256 600]/AP<</N {Fm0}>>/FT/Ch/Opt[[(a)(SEAL a)]]/V[(a)(b)]",
			"/Type/Annot/Subtype/Widget/Rect[56 560 256 580]/AP<</N {Fm0}>>/FT/Tx/V {X4}",
			"/Type/Annot/Subtype/Stamp/Rect[56 540 156 560]/OC {X2}/AP<</N {Fm0}>>",
		}}, appearance("SEAL stored", ""), testForm{dict: formDict + "/OC {X0}", content: "BT /F2 12 Tf 56 200 Td (SEAL form) Tj ET"}))
	write("oc.content", []byte("/OC /Off BDC BT /F1 12 Tf 56 785 Td (A) Tj ET /Span BMC /Fm0 Do EMC EMC /OC /On BDC BT (B) Tj ET EMC EMC BMC"+formSplit+
		"/OC /Off BDC BT /F1 12 Tf 56 700 Td (C) Tj ET"))
	write("clips.content", []byte("q 100 600 200 100 re W n BT /F1 12 Tf 150 650 Td (In) Tj ET q 0.7 0.7 -0.7 0.7 300 400 cm 0 0 200 200 re W* n "+
		"BT /F1 12 Tf 0 0 Td (A) Tj ET Q 100 400 m 400 400 l 250 700 c h W n BT /F1 12 Tf 400 650 Td (Out) Tj ET Q W n /Fm0 Do"+formSplit+
		"0 0 10 10 re W n BT /F1 12 Tf 5 5 Td (B) Tj ET"))
	write("forms.content", []byte("BT /F1 12 Tf 56 785 Td (page) Tj ET /Fm0 Do q 1 0 0 1 0 -100 cm /Fm1 Do Q"+formSplit+
		"BT /F1 12 Tf 56 700 Td (form 0) Tj ET /Fm0 Do /Fm1 Do"+formSplit+"q 0.5 0 0 0.5 400 0 cm BT /F1 12 Tf 3 Tr 56 600 Td <0041> Tj ET /Fm1 Do Q"))
	write("text.content", []byte("q 1 0 0 1 10 10 cm BT /F1 12 Tf 56 785 Td 16 TL (Bid \\(seal\\): [SEAL HERE]) Tj T* [(A) -250 (B)] TJ 0 0 Td <41424344> Tj ' ET Q BI /W 1 /H 1 ID x EI"))
}
