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
	return &doc{raw: raw, ctx: ctx}, nil
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
}

func (d *doc) page(nr int) (*page, error) {
	if nr < 1 || nr > d.ctx.PageCount {
		return nil, fmt.Errorf("%w: page %d, the document has %d", ErrBadPlacement, nr, d.ctx.PageCount)
	}
	dict, ref, inh, err := d.ctx.PageDict(nr, false)
	if err != nil || dict == nil || ref == nil || inh == nil {
		return nil, fmt.Errorf("%w: page %d cannot be read", ErrBadPDF, nr)
	}
	if inh.Rotate%360 != 0 {
		return nil, fmt.Errorf("%w: page %d is rotated; rotated pages cannot be sealed", ErrBadPlacement, nr)
	}
	box := inh.MediaBox
	if inh.CropBox != nil {
		box = inh.CropBox
	}
	if box == nil || box.Width() <= 0 || box.Height() <= 0 || math.IsInf(box.Width(), 0) {
		return nil, fmt.Errorf("%w: page %d has no usable media box", ErrBadPDF, nr)
	}
	return &page{nr: nr, dict: dict, ref: *ref, box: *box}, nil
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
