package seal

import (
	"math"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Annotations a viewer draws on a page (stamps, FreeText, form fields'
// widgets, ...) are read like the page's own text, from their normal
// appearance (/AP /N: a form, or the one of a dictionary of states that
// /AS names), drawn as PDF 32000-1 12.5.5 says: the form's /BBox
// transformed by its /Matrix is mapped onto the annotation's /Rect, and
// what it draws is clipped to it. Annotations flagged Hidden or NoView
// are not drawn, nor is one with no appearance (a viewer may draw its
// /Contents in a pop-up note, or a form field's value where the form
// asks a viewer to make its appearance, which is read from the field's
// value: see forms.go). An annotation in an optional content group off
// by default is not drawn (oc.go). A Popup's
// appearance and that of an annotation of an unknown subtype flagged
// Invisible are drawn, as poppler draws them (Acrobat does not): the
// phone shows what any common viewer may show, marked as an
// annotation's.

// annotAppearance is an annotation's appearance to draw on its page: the
// form, and the matrix that maps its transformed /BBox onto the
// annotation's /Rect.
type annotAppearance struct {
	f *form
	m matrix
}

// Annotation flags (/F) that hide an annotation from every viewer.
const (
	annotHidden = 1 << 1
	annotNoView = 1 << 5
)

// annotAppearances are the appearances of the annotations of page p a
// viewer draws, in the order of its /Annots. Each annotation looked at
// counts as one operator against the document's limits (and no more
// than a page's operators are looked at); its appearance is read as a
// form (formAt's limits).
func (d *doc) annotAppearances(p *page) []annotAppearance {
	o, ok := p.dict.Find("Annots")
	if !ok || o == nil {
		return nil
	}
	arr, err := d.ctx.DereferenceArray(o)
	if err != nil {
		return nil
	}
	b := &d.budget
	var out []annotAppearance
	for i, e := range arr {
		if i >= b.lim.pageOps || !b.spend(1, 0, 0) {
			break
		}
		if a, ok := d.annotAppearance(e); ok {
			out = append(out, a)
		}
	}
	return out
}

// annotAppearance reads the annotation o; false when a viewer does not
// draw it (see above) or its appearance cannot be read.
func (d *doc) annotAppearance(o types.Object) (annotAppearance, bool) {
	ad, err := d.resolveDict(o)
	if err != nil {
		return annotAppearance{}, false
	}
	flags := 0
	if f, err := d.ctx.DereferenceNumber(ad["F"]); err == nil && ad["F"] != nil && f >= 0 && f < 1<<31 {
		flags = int(f)
	}
	if flags&(annotHidden|annotNoView) != 0 || d.ocHidden(ad["OC"]) {
		return annotAppearance{}, false
	}
	v, ok := d.numbers(ad["Rect"], 4)
	if !ok {
		return annotAppearance{}, false
	}
	r := rect{min(v[0], v[2]), min(v[1], v[3]), max(v[0], v[2]), max(v[1], v[3])}
	if st := ad.NameEntry("Subtype"); st != nil && *st == "Widget" && d.needAppearances() {
		if a, ok, handled := d.fieldAppearance(ad, r); handled {
			return a, ok
		}
	}
	ap, err := d.resolveDict(ad["AP"])
	if err != nil {
		return annotAppearance{}, false
	}
	n, ok := ap.Find("N")
	if !ok || n == nil {
		return annotAppearance{}, false
	}
	nv, err := d.ctx.Dereference(n)
	if err != nil {
		return annotAppearance{}, false
	}
	if states, ok := nv.(types.Dict); ok {
		as := ad.NameEntry("AS")
		if as == nil {
			return annotAppearance{}, false
		}
		if n, ok = states.Find(*as); !ok || n == nil {
			return annotAppearance{}, false
		}
	}
	f := d.streamFormAt(n)
	if f == nil || !f.hasBBox {
		return annotAppearance{}, false
	}
	// The /BBox as the /Matrix puts it, scaled and moved onto /Rect.
	t := f.bbox.box(f.matrix)
	w, h := t[2]-t[0], t[3]-t[1]
	if !(w > 0 && h > 0 && r[2] > r[0] && r[3] > r[1]) || math.IsInf(w, 0) || math.IsInf(h, 0) {
		return annotAppearance{}, false
	}
	sx, sy := (r[2]-r[0])/w, (r[3]-r[1])/h
	return annotAppearance{f: f, m: matrix{sx, 0, 0, sy, r[0] - t[0]*sx, r[1] - t[1]*sy}}, true
}
