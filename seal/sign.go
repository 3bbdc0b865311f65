package seal

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/ecdsa"
	"encoding/hex"
	"fmt"
	"image"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
)

// Placement is where a seal goes: a page and the position of the seal's
// centre in millimetres from the top-left corner of the page's visible box
// as the page is shown, after its /Rotate (x to the right, y down), or a
// keyword whose every occurrence gets the seal centred on it.
type Placement struct {
	Page    int     `json:"page,omitempty"`
	XMM     float64 `json:"x_mm,omitempty"`
	YMM     float64 `json:"y_mm,omitempty"`
	Keyword string  `json:"keyword,omitempty"`
}

// Validate names what is wrong with p (ErrBadPlacement).
func (p Placement) Validate() error {
	if p.Keyword != "" {
		if p.Page != 0 || p.XMM != 0 || p.YMM != 0 {
			return fmt.Errorf("%w: a placement has either a keyword or page, x_mm and y_mm", ErrBadPlacement)
		}
		if len(p.Keyword) > MaxKeywordLen {
			return fmt.Errorf("%w: keyword longer than %d bytes", ErrBadPlacement, MaxKeywordLen)
		}
		return nil
	}
	if p.Page < 1 {
		return fmt.Errorf("%w: page must be 1 or more", ErrBadPlacement)
	}
	if math.IsNaN(p.XMM) || math.IsNaN(p.YMM) || p.XMM < 0 || p.YMM < 0 || p.XMM > 5000 || p.YMM > 5000 {
		return fmt.Errorf("%w: x_mm and y_mm must be 0..5000", ErrBadPlacement)
	}
	return nil
}

// Straddle asks for a 骑缝章: the seal cut into as many vertical strips as
// pages, strip i drawn at the right edge of page i, so that the seal is
// whole when the pages are fanned out.
type Straddle struct {
	YMM       float64 `json:"y_mm"`                 // centre, from the top
	FirstPage int     `json:"first_page,omitempty"` // 0: 1
	LastPage  int     `json:"last_page,omitempty"`  // 0: the last page
}

// Signer is who signs: a key, its certificate and the certificates above it.
type Signer struct {
	Key   crypto.Signer
	Cert  *smx509.Certificate
	Chain []*smx509.Certificate
}

// Limits on sealing.
const (
	MaxPlacements = 100 // widgets per signature, keyword matches included
	MaxKeywordLen = 256
)

// Options says what to draw, where, and who signs.
type Options struct {
	Image      *Image  // the seal image (checked)
	WidthMM    float64 // its printed size
	HeightMM   float64
	Placements []Placement
	Straddle   *Straddle
	SES        []byte // the seal's SES_Seal, carried in the signature dictionary (optional)
	Signer     Signer
	Time       time.Time // zero: now
	Reason     string
	Location   string
	FieldName  string // zero: "Seal <n>"
}

// sigKeySES is the signature dictionary entry that carries the SES_Seal.
const sigKeySES = "UKGSeal"

// widget is one drawn rectangle on a page, with the strip of the seal
// image it shows.
type widget struct {
	page       *page
	rect       [4]float64 // llx lly urx ury, user space
	strip, nOf int        // strip index and count (0, 1 = whole image)
}

// Seal draws o.Image at every placement and signs pdf as a PAdES baseline
// (B-B) signature, SubFilter ETSI.CAdES.detached, appended to the original
// bytes as one incremental update. It returns the sealed document.
func Seal(pdf []byte, o *Options) ([]byte, error) {
	if o == nil || o.Image == nil {
		return nil, fmt.Errorf("%w: no image", ErrBadImage)
	}
	if !sizeOK(o.WidthMM) || !sizeOK(o.HeightMM) {
		return nil, fmt.Errorf("%w: width_mm and height_mm must be %g..%g", ErrBadSeal, MinSizeMM, MaxSizeMM)
	}
	if o.Signer.Key == nil || o.Signer.Cert == nil {
		return nil, fmt.Errorf("%w: no signer", ErrBadSeal)
	}
	if len(o.Placements) == 0 && o.Straddle == nil {
		return nil, fmt.Errorf("%w: no placement", ErrBadPlacement)
	}
	if len(o.Placements) > MaxPlacements {
		return nil, fmt.Errorf("%w: more than %d placements", ErrBadPlacement, MaxPlacements)
	}
	for _, p := range o.Placements {
		if err := p.Validate(); err != nil {
			return nil, err
		}
	}
	if len(o.SES) > 0 {
		if _, err := Parse(o.SES); err != nil {
			return nil, err
		}
	}
	d, err := readPDF(pdf)
	if err != nil {
		return nil, err
	}
	widgets, err := d.widgets(o)
	if err != nil {
		return nil, err
	}
	return d.appendSignature(o, widgets)
}

// widgets resolves the placements and the straddle into rectangles.
func (d *doc) widgets(o *Options) ([]widget, error) {
	w, h := o.WidthMM*ptPerMM, o.HeightMM*ptPerMM
	var out []widget
	pages := map[int]*page{}
	getPage := func(nr int) (*page, error) {
		if p, ok := pages[nr]; ok {
			return p, nil
		}
		p, err := d.page(nr)
		if err == nil {
			pages[nr] = p
		}
		return p, err
	}
	// centred is the user-space rectangle of a seal w×h (as shown) centred
	// on the user-space point cx, cy.
	centred := func(p *page, cx, cy float64) ([4]float64, error) {
		uw, uh := w, h
		if p.rot == 90 || p.rot == 270 {
			uw, uh = h, w
		}
		r := [4]float64{cx - uw/2, cy - uh/2, cx + uw/2, cy + uh/2}
		const slack = 0.5 // points, rounding
		if r[0] < p.box.LL.X-slack || r[1] < p.box.LL.Y-slack || r[2] > p.box.UR.X+slack || r[3] > p.box.UR.Y+slack {
			return r, fmt.Errorf("%w: the seal would not fit on page %d at that position", ErrBadPlacement, p.nr)
		}
		return r, nil
	}
	// Every keyword's occurrences, page by page, each page read once (as
	// ReadExcerpt reads them).
	type pageMatch struct {
		p *page
		m textMatch
	}
	found := make([][]pageMatch, len(o.Placements))
	if slices.ContainsFunc(o.Placements, func(pl Placement) bool { return pl.Keyword != "" }) {
		total := 0
		for nr := 1; nr <= d.ctx.PageCount && total <= MaxPlacements; nr++ {
			p, err := getPage(nr)
			if err != nil {
				return nil, err
			}
			_, glyphs := d.glyphsOf(nr)
			if d.budget.over {
				return nil, d.errTooMuchContent()
			}
			for i, pl := range o.Placements {
				for _, m := range matchGlyphs(glyphs, pl.Keyword) {
					found[i] = append(found[i], pageMatch{p, m})
					total++
				}
			}
		}
	}
	for i, pl := range o.Placements {
		if pl.Keyword != "" {
			for _, pm := range found[i] {
				p, m := pm.p, pm.m
				r, err := centred(p, m.centreX(), m.centreY())
				if err != nil {
					// Near an edge: keep the seal on the page.
					r = clampRect(r, p.box)
				}
				out = append(out, widget{page: p, rect: r, nOf: 1})
				if len(out) > MaxPlacements {
					return nil, fmt.Errorf("%w: more than %d placements", ErrBadPlacement, MaxPlacements)
				}
			}
			if len(found[i]) == 0 {
				return nil, fmt.Errorf("%w: %q", ErrKeywordNotFound, pl.Keyword)
			}
			continue
		}
		p, err := getPage(pl.Page)
		if err != nil {
			return nil, err
		}
		cx, cy := p.toUser(pl.XMM*ptPerMM, pl.YMM*ptPerMM)
		r, err := centred(p, cx, cy)
		if err != nil {
			return nil, err
		}
		out = append(out, widget{page: p, rect: r, nOf: 1})
	}
	if s := o.Straddle; s != nil {
		first, last := s.FirstPage, s.LastPage
		if first == 0 {
			first = 1
		}
		if last == 0 {
			last = d.ctx.PageCount
		}
		if first < 1 || last > d.ctx.PageCount || last-first < 1 {
			return nil, fmt.Errorf("%w: a straddle seal needs two or more pages within the document's %d", ErrBadPlacement, d.ctx.PageCount)
		}
		if math.IsNaN(s.YMM) || s.YMM < 0 {
			return nil, fmt.Errorf("%w: straddle y_mm must be 0 or more", ErrBadPlacement)
		}
		n := last - first + 1
		if len(out)+n > MaxPlacements {
			return nil, fmt.Errorf("%w: more than %d placements", ErrBadPlacement, MaxPlacements)
		}
		sw := w / float64(n)
		for i := 0; i < n; i++ {
			p, err := getPage(first + i)
			if err != nil {
				return nil, err
			}
			vw, vh := p.visualSize()
			cy := s.YMM * ptPerMM
			if cy-h/2 < 0 || cy+h/2 > vh {
				return nil, fmt.Errorf("%w: the straddle seal would not fit on page %d at that height", ErrBadPlacement, p.nr)
			}
			r := p.userRect(vw-sw, cy-h/2, vw, cy+h/2)
			out = append(out, widget{page: p, rect: r, strip: i, nOf: n})
		}
	}
	return out, nil
}

func clampRect(r [4]float64, box types.Rectangle) [4]float64 {
	w, h := r[2]-r[0], r[3]-r[1]
	if r[0] < box.LL.X {
		r[0], r[2] = box.LL.X, box.LL.X+w
	}
	if r[2] > box.UR.X {
		r[0], r[2] = box.UR.X-w, box.UR.X
	}
	if r[1] < box.LL.Y {
		r[1], r[3] = box.LL.Y, box.LL.Y+h
	}
	if r[3] > box.UR.Y {
		r[1], r[3] = box.UR.Y-h, box.UR.Y
	}
	return r
}

// update collects the objects of one incremental update.
type update struct {
	next    int // next free object number
	objects []pendingObject
}

type pendingObject struct {
	nr, gen int
	body    []byte // everything between "n g obj\n" and "\nendobj"
}

func (u *update) alloc() int {
	n := u.next
	u.next++
	return n
}

func (u *update) put(nr, gen int, body []byte) {
	u.objects = append(u.objects, pendingObject{nr: nr, gen: gen, body: body})
}

func ref(nr int) string { return strconv.Itoa(nr) + " 0 R" }

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func pdfString(s string) string {
	// UTF-16BE with BOM, as a hex string: safe for any text.
	return "<" + hex.EncodeToString([]byte(types.EncodeUTF16String(s))) + ">"
}

func stream(dict string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("<<")
	b.WriteString(dict)
	b.WriteString("/Length ")
	b.WriteString(strconv.Itoa(len(data)))
	b.WriteString(">>\nstream\n")
	b.Write(data)
	b.WriteString("\nendstream")
	return b.Bytes()
}

func deflate(data []byte) []byte {
	var b bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&b, zlib.BestSpeed)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

// imageObjects writes the seal image as an RGB image XObject with an SMask
// holding its alpha, and returns the image's object number.
func (u *update) imageObjects(img *Image) int {
	b := img.img.Bounds()
	rgb := make([]byte, 0, 3*b.Dx()*b.Dy())
	alpha := make([]byte, 0, b.Dx()*b.Dy())
	nrgba, ok := img.img.(*image.NRGBA)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if ok {
				c := nrgba.NRGBAAt(x, y)
				rgb = append(rgb, c.R, c.G, c.B)
				alpha = append(alpha, c.A)
				continue
			}
			r, g, bl, a := img.img.At(x, y).RGBA()
			if a > 0 { // un-premultiply
				r, g, bl = r*0xffff/a, g*0xffff/a, bl*0xffff/a
			}
			rgb = append(rgb, byte(r>>8), byte(g>>8), byte(bl>>8))
			alpha = append(alpha, byte(a>>8))
		}
	}
	dims := fmt.Sprintf("/Type/XObject/Subtype/Image/Width %d/Height %d/BitsPerComponent 8/Filter/FlateDecode", b.Dx(), b.Dy())
	smask := u.alloc()
	u.put(smask, 0, stream(dims+"/ColorSpace/DeviceGray", deflate(alpha)))
	im := u.alloc()
	u.put(im, 0, stream(dims+"/ColorSpace/DeviceRGB/SMask "+ref(smask), deflate(rgb)))
	return im
}

// appearance writes a form XObject w points wide and h high showing strip
// i of n of the image, turned to show upright on a page rotated by rot.
func (u *update) appearance(imageNr int, w, h float64, i, n, rot int) int {
	full := w * float64(n)
	content := fmt.Sprintf("q %s 0 0 %s %s 0 cm /Seal Do Q", num(full), num(h), num(-float64(i)*w))
	nr := u.alloc()
	u.put(nr, 0, stream(fmt.Sprintf("/Type/XObject/Subtype/Form/BBox[0 0 %s %s]%s/Resources<</XObject<</Seal %s>>>>", num(w), num(h), rotMatrix(rot), ref(imageNr)), []byte(content)))
	return nr
}

// Placeholders patched once the file's length is known.
const byteRangePlaceholder = "/ByteRange[0 0000000000 0000000000 0000000000]"

func contentsSize(o *Options) int {
	n := 8192 + len(o.Signer.Cert.Raw)
	for _, c := range o.Signer.Chain {
		n += len(c.Raw)
	}
	return n
}

// pdfDate formats t as a PDF date string.
func pdfDate(t time.Time) string {
	_, off := t.Zone()
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	return fmt.Sprintf("D:%s%s%02d'%02d'", t.Format("20060102150405"), sign, off/3600, (off%3600)/60)
}

func (d *doc) appendSignature(o *Options, widgets []widget) ([]byte, error) {
	ctx := d.ctx
	prev := ctx.Write.OffsetPrevXRef
	if prev == nil || *prev <= 0 || *prev >= int64(len(d.raw)) {
		return nil, fmt.Errorf("%w: the cross-reference cannot be found", ErrBadPDF)
	}
	u := &update{next: *ctx.XRefTable.Size}
	signTime := o.Time
	if signTime.IsZero() {
		signTime = time.Now()
	}

	fieldNr := u.alloc()
	sigNr := u.alloc()
	imageNr := u.imageObjects(o.Image)

	// The first rectangle is the signature field's widget (field and widget
	// merged: poppler does not read signature fields with /Kids); the others
	// are stamp annotations showing the same seal, signed with the page.
	annotsByPage := map[int][]int{}
	var pageOrder []*page
	for i, w := range widgets {
		aw, ah := w.rect[2]-w.rect[0], w.rect[3]-w.rect[1]
		if w.page.rot == 90 || w.page.rot == 270 {
			aw, ah = ah, aw // the appearance is drawn upright, then turned
		}
		ap := u.appearance(imageNr, aw, ah, w.strip, w.nOf, w.page.rot)
		common := fmt.Sprintf("/Rect[%s %s %s %s]/P %d %d R/AP<</N %s>>",
			num(w.rect[0]), num(w.rect[1]), num(w.rect[2]), num(w.rect[3]),
			w.page.ref.ObjectNumber.Value(), w.page.ref.GenerationNumber.Value(), ref(ap))
		an := fieldNr
		if i == 0 {
			fieldName := o.FieldName
			if fieldName == "" {
				fieldName = fmt.Sprintf("Seal %d", sigNr)
			}
			u.put(fieldNr, 0, []byte(fmt.Sprintf("<</Type/Annot/Subtype/Widget/FT/Sig/F 132/T%s/V %s%s>>", pdfString(fieldName), ref(sigNr), common)))
		} else {
			an = u.alloc()
			u.put(an, 0, []byte(fmt.Sprintf("<</Type/Annot/Subtype/Stamp/Name/UKGSeal/F 196/Contents%s%s>>", pdfString("seal "+fmt.Sprint(sigNr)), common)))
		}
		if _, seen := annotsByPage[w.page.nr]; !seen {
			pageOrder = append(pageOrder, w.page)
		}
		annotsByPage[w.page.nr] = append(annotsByPage[w.page.nr], an)
	}

	// Pages: the same objects again, with the widgets added to /Annots.
	for _, p := range pageOrder {
		pd := p.dict.Clone().(types.Dict)
		var annots types.Array
		if o, ok := pd.Find("Annots"); ok && o != nil {
			a, err := ctx.DereferenceArray(o)
			if err != nil {
				return nil, fmt.Errorf("%w: page %d annotations cannot be read", ErrBadPDF, p.nr)
			}
			annots = append(annots, a...)
		}
		for _, wn := range annotsByPage[p.nr] {
			annots = append(annots, *types.NewIndirectRef(wn, 0))
		}
		pd.Update("Annots", annots)
		u.put(p.ref.ObjectNumber.Value(), p.ref.GenerationNumber.Value(), []byte(pd.PDFString()))
	}

	// The AcroForm.
	if err := d.addField(u, fieldNr); err != nil {
		return nil, err
	}

	// The signature dictionary, with placeholders.
	hexLen := 2 * contentsSize(o)
	var sig strings.Builder
	sig.WriteString("<</Type/Sig/Filter/Adobe.PPKLite/SubFilter/ETSI.CAdES.detached")
	sig.WriteString("/M" + pdfString(pdfDate(signTime)))
	if cn := o.Signer.Cert.Subject.CommonName; cn != "" {
		sig.WriteString("/Name" + pdfString(cn))
	}
	if o.Reason != "" {
		sig.WriteString("/Reason" + pdfString(o.Reason))
	}
	if o.Location != "" {
		sig.WriteString("/Location" + pdfString(o.Location))
	}
	if len(o.SES) > 0 {
		sig.WriteString("/" + sigKeySES + "<" + hex.EncodeToString(o.SES) + ">")
	}
	sig.WriteString(byteRangePlaceholder)
	sig.WriteString("/Contents<")
	sig.WriteString(strings.Repeat("0", hexLen))
	sig.WriteString(">>>")
	u.put(sigNr, 0, []byte(sig.String()))

	// Serialise: original bytes, objects, xref, trailer.
	var out bytes.Buffer
	out.Grow(len(d.raw) + 64<<10)
	out.Write(d.raw)
	if d.raw[len(d.raw)-1] != '\n' && d.raw[len(d.raw)-1] != '\r' {
		out.WriteByte('\n')
	}
	offsets := map[int]int{}
	gens := map[int]int{}
	sigStart := -1
	for _, ob := range u.objects {
		offsets[ob.nr] = out.Len()
		gens[ob.nr] = ob.gen
		fmt.Fprintf(&out, "%d %d obj\n", ob.nr, ob.gen)
		if ob.nr == sigNr {
			sigStart = out.Len()
		}
		out.Write(ob.body)
		out.WriteString("\nendobj\n")
	}
	// The cross-reference in the form of the section it chains to
	// (xrefstream.go).
	asStream := xrefStreamAt(d.raw, *prev)
	xrefNr := 0
	if asStream {
		xrefNr = u.alloc()
	}
	trailer := types.NewDict()
	trailer.Insert("Size", types.Integer(u.next))
	trailer.Insert("Root", *ctx.Root)
	if ctx.Info != nil {
		trailer.Insert("Info", *ctx.Info)
	}
	if len(ctx.ID) == 2 {
		trailer.Insert("ID", ctx.ID)
	}
	trailer.Insert("Prev", types.Integer(*prev))
	if asStream {
		fmt.Fprintf(&out, "startxref\n%d\n%%%%EOF\n", writeXRefStream(&out, xrefNr, offsets, gens, trailer))
	} else {
		xrefAt := out.Len()
		writeXRef(&out, offsets, gens)
		fmt.Fprintf(&out, "trailer\n%s\nstartxref\n%d\n%%%%EOF\n", trailer.PDFString(), xrefAt)
	}

	// ByteRange and Contents.
	file := out.Bytes()
	rel := bytes.Index(file[sigStart:], []byte("/Contents<"))
	brRel := bytes.Index(file[sigStart:], []byte(byteRangePlaceholder))
	if rel < 0 || brRel < 0 {
		return nil, fmt.Errorf("seal: signature placeholder lost")
	}
	gapStart := sigStart + rel + len("/Contents")
	gapEnd := gapStart + hexLen + 2
	br := fmt.Sprintf("/ByteRange[0 %d %d %d]", gapStart, gapEnd, len(file)-gapEnd)
	if len(br) > len(byteRangePlaceholder) {
		return nil, fmt.Errorf("%w: document too large for the byte range", ErrTooLarge)
	}
	br = br[:len(br)-1] + strings.Repeat(" ", len(byteRangePlaceholder)-len(br)) + "]"
	copy(file[sigStart+brRel:], br)

	digest := digestFor(o.Signer.Cert, file[:gapStart], file[gapEnd:])
	cms, err := gmcrypto.SignCMSPAdES(o.Signer.Key, o.Signer.Cert, o.Signer.Chain, digest)
	if err != nil {
		return nil, fmt.Errorf("seal: sign: %w", err)
	}
	if 2*len(cms) > hexLen {
		return nil, fmt.Errorf("%w: the signature is larger than its reserved space", ErrTooLarge)
	}
	hex.Encode(file[gapStart+1:], cms)
	return file, nil
}

func isSM2(cert *smx509.Certificate) bool {
	p, ok := cert.PublicKey.(*ecdsa.PublicKey)
	return ok && sm2.IsSM2PublicKey(p)
}

// addField appends field fieldNr to the AcroForm's /Fields, rewriting the
// AcroForm object if it is one, else the catalog with a new AcroForm.
func (d *doc) addField(u *update, fieldNr int) error {
	ctx := d.ctx
	catalog, err := ctx.Catalog()
	if err != nil || catalog == nil {
		return fmt.Errorf("%w: no catalog", ErrBadPDF)
	}
	var form types.Dict
	formRef, isRef := catalog["AcroForm"].(types.IndirectRef)
	if o, ok := catalog.Find("AcroForm"); ok && o != nil {
		f, err := d.resolveDict(o)
		if err != nil {
			return fmt.Errorf("%w: AcroForm cannot be read", ErrBadPDF)
		}
		form = f.Clone().(types.Dict)
	} else {
		form = types.NewDict()
		isRef = false
	}
	var fields types.Array
	if o, ok := form.Find("Fields"); ok && o != nil {
		a, err := ctx.DereferenceArray(o)
		if err != nil {
			return fmt.Errorf("%w: AcroForm fields cannot be read", ErrBadPDF)
		}
		fields = append(fields, a...)
	}
	fields = append(fields, *types.NewIndirectRef(fieldNr, 0))
	form.Update("Fields", fields)
	form.Update("SigFlags", types.Integer(3))
	if isRef {
		u.put(formRef.ObjectNumber.Value(), formRef.GenerationNumber.Value(), []byte(form.PDFString()))
		return nil
	}
	cat := catalog.Clone().(types.Dict)
	cat.Update("AcroForm", form)
	u.put(ctx.Root.ObjectNumber.Value(), ctx.Root.GenerationNumber.Value(), []byte(cat.PDFString()))
	return nil
}

// writeXRef writes a cross-reference table for the given objects.
func writeXRef(out *bytes.Buffer, offsets, gens map[int]int) {
	nrs := make([]int, 0, len(offsets))
	for nr := range offsets {
		nrs = append(nrs, nr)
	}
	sort.Ints(nrs)
	out.WriteString("xref\n")
	for i := 0; i < len(nrs); {
		j := i
		for j+1 < len(nrs) && nrs[j+1] == nrs[j]+1 {
			j++
		}
		fmt.Fprintf(out, "%d %d\n", nrs[i], j-i+1)
		for k := i; k <= j; k++ {
			fmt.Fprintf(out, "%010d %05d n\r\n", offsets[nrs[k]], gens[nrs[k]])
		}
		i = j + 1
	}
}
