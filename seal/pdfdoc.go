package seal

import (
	"bytes"
	"errors"
	"fmt"
	"math"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

func init() {
	// pdfcpu would otherwise create a config.yml under the user's config dir.
	api.DisableConfigDir()
}

// MaxPDFBytes bounds a document this package reads or seals.
const MaxPDFBytes = 64 << 20

// ptPerMM converts millimetres to PDF points.
const ptPerMM = 72 / 25.4

// doc is a PDF read by pdfcpu, with what sealing and verifying need.
type doc struct {
	raw []byte
	ctx *model.Context
	// What the text reader read once (by object number) and has spent.
	fonts  map[int]*textFont
	forms  map[int]*form
	budget readBudget
	// need: the AcroForm's /NeedAppearances (0 not read, 1 true, -1
	// not); viewerForms: a form field was seen whose display depends on
	// the viewer (forms.go).
	need        int8
	viewerForms bool
	// The optional content groups off by default (oc.go), read once.
	ocRead bool
	ocOff  map[int]bool
	ocSeen map[int]bool // /OC entries read (ocHidden), by object number
}

// readPDF parses raw with pdfcpu. pdfcpu's own panics (its fault package)
// and any other are turned into ErrBadPDF.
func readPDF(raw []byte) (d *doc, err error) {
	if len(raw) > MaxPDFBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(raw), MaxPDFBytes)
	}
	if !bytes.HasPrefix(raw, []byte("%PDF-")) {
		return nil, fmt.Errorf("%w: no %%PDF- header", ErrBadPDF)
	}
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, fmt.Errorf("%w: cannot be parsed", ErrBadPDF)
		}
	}()
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	// What pdfcpu decodes while parsing (object and cross-reference
	// streams) stays near the file's own size, not its 512 MiB default;
	// content streams are decoded by the reader within its read limits.
	conf.Limits.MaxDecodeBytes = MaxPDFBytes
	ctx, err := api.ReadContext(bytes.NewReader(raw), conf)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot be parsed", ErrBadPDF)
	}
	if ctx.Encrypt != nil {
		return nil, fmt.Errorf("%w: encrypted documents are not supported", ErrBadPDF)
	}
	if err := ctx.EnsurePageCount(); err != nil || ctx.PageCount < 1 {
		return nil, fmt.Errorf("%w: no page tree", ErrBadPDF)
	}
	if ctx.Root == nil || ctx.XRefTable.Size == nil {
		return nil, fmt.Errorf("%w: no catalog", ErrBadPDF)
	}
	return &doc{raw: raw, ctx: ctx, budget: readBudget{lim: defaultReadLimits}}, nil
}

// PageCount returns the number of pages of a PDF (ErrBadPDF if it cannot
// be read).
func PageCount(pdf []byte) (int, error) {
	d, err := readPDF(pdf)
	if err != nil {
		return 0, err
	}
	return d.ctx.PageCount, nil
}

// page is one page's dictionary, object and visible box.
type page struct {
	nr   int
	dict types.Dict
	ref  types.IndirectRef
	box  types.Rectangle // CropBox, else MediaBox, in default user space
	rot  int             // /Rotate normalised to 0, 90, 180 or 270 (clockwise when shown)
}

// visualSize is the page's width and height as a reader sees it (after
// /Rotate), in points.
func (p *page) visualSize() (w, h float64) {
	if p.rot == 90 || p.rot == 270 {
		return p.box.Height(), p.box.Width()
	}
	return p.box.Width(), p.box.Height()
}

// toUser maps a point given in points from the top-left corner of the page
// as shown (x to the right, y down, after /Rotate) to default user space.
// /Rotate turns the page clockwise when shown: at 90 the box's lower-left
// corner is shown top left, at 180 its upper-right, at 270 its lower-right.
func (p *page) toUser(vx, vy float64) (x, y float64) {
	b := p.box
	switch p.rot {
	case 90:
		return b.LL.X + vy, b.LL.Y + vx
	case 180:
		return b.UR.X - vx, b.LL.Y + vy
	case 270:
		return b.UR.X - vy, b.UR.Y - vx
	default:
		return b.LL.X + vx, b.UR.Y - vy
	}
}

// userRect maps a rectangle given as shown (points from the top-left
// corner, x0 < x1, y0 < y1) to a user-space rectangle llx lly urx ury.
func (p *page) userRect(x0, y0, x1, y1 float64) [4]float64 {
	ax, ay := p.toUser(x0, y0)
	bx, by := p.toUser(x1, y1)
	return [4]float64{math.Min(ax, bx), math.Min(ay, by), math.Max(ax, bx), math.Max(ay, by)}
}

// rotMatrix is the form matrix that turns an appearance drawn upright in
// its own box so that it shows upright on a page rotated by rot.
func rotMatrix(rot int) string {
	switch rot {
	case 90:
		return "/Matrix[0 1 -1 0 0 0]"
	case 180:
		return "/Matrix[-1 0 0 -1 0 0]"
	case 270:
		return "/Matrix[0 -1 1 0 0 0]"
	}
	return ""
}

// page reads page nr; one pdfcpu cannot read (or panics on: a /MediaBox
// that is not four numbers) is ErrBadPDF.
func (d *doc) page(nr int) (p *page, err error) {
	defer func() {
		if recover() != nil {
			p, err = nil, fmt.Errorf("%w: page %d cannot be read", ErrBadPDF, nr)
		}
	}()
	if nr < 1 || nr > d.ctx.PageCount {
		return nil, fmt.Errorf("%w: page %d, the document has %d", ErrBadPlacement, nr, d.ctx.PageCount)
	}
	dict, ref, inh, err := d.ctx.PageDict(nr, false)
	if err != nil || dict == nil || ref == nil || inh == nil {
		return nil, fmt.Errorf("%w: page %d cannot be read", ErrBadPDF, nr)
	}
	rot := inh.Rotate % 360
	if rot < 0 {
		rot += 360
	}
	if rot%90 != 0 {
		return nil, fmt.Errorf("%w: page %d has /Rotate %d, not a multiple of 90", ErrBadPDF, nr, inh.Rotate)
	}
	box := inh.MediaBox
	if inh.CropBox != nil {
		box = inh.CropBox
	}
	if box == nil || box.Width() <= 0 || box.Height() <= 0 || math.IsInf(box.Width(), 0) {
		return nil, fmt.Errorf("%w: page %d has no usable media box", ErrBadPDF, nr)
	}
	return &page{nr: nr, dict: dict, ref: *ref, box: *box, rot: rot}, nil
}

// resolveDict returns the dictionary o is or refers to.
func (d *doc) resolveDict(o types.Object) (types.Dict, error) {
	dict, err := d.ctx.DereferenceDict(o)
	if err != nil {
		return nil, err
	}
	if dict == nil {
		return nil, errors.New("no dictionary")
	}
	return dict, nil
}
