package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/phone"
	"github.com/ukeygate/ukeygate/seal"
)

// TestPrintFileTextAnnotations: the phone command marks a line an
// annotation draws, in the first lines and as a spot's nearest text,
// and no other; it says when form fields may show otherwise in a
// viewer (viewer_forms).
func TestPrintFileTextAnnotations(t *testing.T) {
	cases := []struct {
		name string
		ft   seal.Excerpt
		want []string
	}{{
		name: "a stamp above the title and at the seal",
		ft: seal.Excerpt{Pages: 1, Seals: 1, First: seal.ExcerptLines{Lines: []string{"PAID", "Contract"}, Annotations: []int{0}},
			Spots: []seal.Spot{{Page: 1, Lines: []string{"Signed:", "APPROVED"}, Nearest: 1, Annotations: []int{1}}}},
		want: []string{"page 1 begins: [annotation] PAID / Contract", "seal 1, page 1, nearest text: [annotation] APPROVED"},
	}, {
		name: "no annotation",
		ft: seal.Excerpt{Pages: 1, Seals: 1, First: seal.ExcerptLines{Lines: []string{"PAID", "Contract"}},
			Spots: []seal.Spot{{Page: 1, Lines: []string{"Signed:", "APPROVED"}, Nearest: 1, Annotations: []int{0}}}},
		want: []string{"page 1 begins: PAID / Contract", "seal 1, page 1, nearest text: APPROVED"},
	}, {
		name: "form fields a viewer may show otherwise",
		ft:   seal.Excerpt{Pages: 1, Seals: 1, First: seal.ExcerptLines{Lines: []string{"Contract"}}, ViewerForms: true},
		want: []string{"c.pdf — 1 pages, 1 seals", "form fields: the viewer draws them from their values and the gateway cannot be sure how some show; open the file to check"},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			printFileText(&b, []phone.ScannedDocument{{Name: "c.pdf", FileText: &c.ft}})
			for _, w := range c.want {
				if !strings.Contains(b.String(), w+"\n") {
					t.Errorf("no %q in\n%s", w, b.String())
				}
			}
			if strings.Contains(b.String(), "form fields:") != c.ft.ViewerForms {
				t.Errorf("form fields said or not in\n%s", b.String())
			}
			if n := strings.Count(b.String(), "[annotation]"); n != strings.Count(strings.Join(c.want, ""), "[annotation]") {
				t.Errorf("%d marks in\n%s", n, b.String())
			}
		})
	}
}
