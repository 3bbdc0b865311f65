package seal

import (
	"errors"
	"fmt"

	"github.com/pdfcpu/pdfcpu/pkg/filter"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// The document side of the text reader: a page's /Resources, the fonts
// and form XObjects they name, read once per document (by object
// number) however often they are drawn.

// pdfRes is a /Resources dictionary of the document (nil: none).
type pdfRes struct {
	d     *doc
	dict  types.Dict
	fonts map[string]*textFont // by name, nil: not there
	oc    map[string]bool      // /Properties read by ocOff: off or not
}

func (r *pdfRes) entry(kind, name string) (types.Object, bool) {
	if r == nil || r.dict == nil {
		return nil, false
	}
	o, ok := r.dict.Find(kind)
	if !ok || o == nil {
		return nil, false
	}
	sub, err := r.d.resolveDict(o)
	if err != nil {
		return nil, false
	}
	e, ok := sub.Find(name)
	if !ok || e == nil {
		return nil, false
	}
	return e, true
}

func (r *pdfRes) font(name string) (*textFont, bool) {
	if f, ok := r.fonts[name]; ok {
		return f, f != nil
	}
	var f *textFont
	if o, ok := r.entry("Font", name); ok {
		f = r.d.fontAt(o)
	}
	if r.fonts == nil {
		r.fonts = map[string]*textFont{}
	}
	r.fonts[name] = f
	return f, f != nil
}

func (r *pdfRes) ocOff(name string) (off, found bool) {
	if off, ok := r.oc[name]; ok {
		return off, true
	}
	o, ok := r.entry("Properties", name)
	if !ok {
		return false, false
	}
	off = r.d.ocHidden(o)
	if r.oc == nil {
		r.oc = map[string]bool{}
	}
	if len(r.oc) < maxOCGs {
		r.oc[name] = off
	}
	return off, true
}

func (r *pdfRes) xobject(name string) (*form, bool) {
	o, ok := r.entry("XObject", name)
	if !ok {
		return nil, false
	}
	return r.d.formAt(o), true
}

// pageRes is the resources of page p (inherited from the page tree if
// the page has none).
func (d *doc) pageRes(p *page) *pdfRes {
	dict := p.dict
	for i := 0; i < 32 && dict != nil; i++ {
		if o, ok := dict.Find("Resources"); ok && o != nil {
			res, _ := d.resolveDict(o)
			return &pdfRes{d: d, dict: res}
		}
		parent, ok := dict.Find("Parent")
		if !ok || parent == nil {
			break
		}
		dict, _ = d.resolveDict(parent)
	}
	return &pdfRes{d: d}
}

// fontAt reads the font o is or refers to (nil: not a font dictionary).
func (d *doc) fontAt(o types.Object) *textFont {
	ref, indirect := o.(types.IndirectRef)
	if f, ok := d.fonts[ref.ObjectNumber.Value()]; indirect && ok {
		return f
	}
	var f *textFont
	if fd, err := d.resolveDict(o); err == nil {
		f = d.textFont(fd)
	}
	if indirect {
		if d.fonts == nil {
			d.fonts = map[int]*textFont{}
		}
		d.fonts[ref.ObjectNumber.Value()] = f
	}
	return f
}

// formAt reads the form XObject o is or refers to: nil for an image or
// another kind of XObject (or a stream without a /Subtype), a stream
// that cannot be decoded, or one whose content is more than a page's
// limit (pageBytes), or the document's bytes left (which passes the
// document's limit). Its decoded content counts against the document's
// bytes.
func (d *doc) formAt(o types.Object) *form {
	if f := d.streamFormAt(o); f != nil && f.subtyped {
		return f
	}
	return nil
}

// streamFormAt is formAt for a stream with no /Subtype too, as an
// annotation's appearance may be.
func (d *doc) streamFormAt(o types.Object) *form {
	ref, indirect := o.(types.IndirectRef)
	if f, ok := d.forms[ref.ObjectNumber.Value()]; indirect && ok {
		return f
	}
	f := d.readForm(o)
	if indirect {
		if d.forms == nil {
			d.forms = map[int]*form{}
		}
		if f != nil {
			f.id = ref.ObjectNumber.Value()
		}
		d.forms[ref.ObjectNumber.Value()] = f
	}
	return f
}

// pageContent is the decoded content of page p: its /Contents stream,
// or the streams of its /Contents array one after the other, decoded
// within the page's content bytes (lim.pageBytes) and what the document
// has left of its own (pdfcpu's PageContent would decode each stream up
// to 512 MiB, as often as the array names it). A stream that would pass
// the limit is not read, nor anything after it: the page reads as far as
// the streams before it, as when its operators pass the page's limit; the
// bytes it would have taken are spent from the document's budget, so a
// document of such pages passes the document's limit.
func (d *doc) pageContent(p *page) []byte {
	o, ok := p.dict.Find("Contents")
	if !ok || o == nil {
		return nil
	}
	o, err := d.ctx.Dereference(o)
	if err != nil || o == nil {
		return nil
	}
	var streams []types.Object
	switch v := o.(type) {
	case types.StreamDict:
		streams = []types.Object{v}
	case types.Array:
		streams = v
	default:
		return nil
	}
	b := &d.budget
	limit := min(b.lim.pageBytes, b.lim.docBytes-b.bytes)
	var out []byte
	for _, so := range streams {
		var sd *types.StreamDict
		if v, ok := so.(types.StreamDict); ok {
			sd = &v
		} else if so != nil {
			if sd, _, err = d.ctx.DereferenceStreamDict(so); err != nil {
				return out
			}
		}
		if sd == nil {
			continue
		}
		left := limit - len(out)
		if left <= 0 {
			b.spend(0, limit+1-len(out), 0)
			return out
		}
		content := sd.Content
		if content == nil {
			// Decode a copy: the stream dictionary may be the document's
			// own, and a page's content is read once per use.
			c := *sd
			if err := c.DecodeWithLimit(int64(left)); err != nil {
				if errors.Is(err, filter.ErrDecodeLimitExceeded) {
					b.spend(0, left+1, 0)
				}
				return out
			}
			content = c.Content
		}
		if len(content) > left {
			b.spend(0, left+1, 0)
			return out
		}
		out = append(out, content...)
	}
	return out
}

func (d *doc) readForm(o types.Object) *form {
	sd, _, err := d.ctx.DereferenceStreamDict(o)
	if err != nil || sd == nil {
		return nil
	}
	st := sd.Dict.NameEntry("Subtype")
	if st != nil && *st != "Form" {
		return nil
	}
	b := &d.budget
	limit := min(b.lim.pageBytes, b.lim.docBytes-b.bytes)
	if limit <= 0 {
		b.over = true
		return nil
	}
	if sd.Content == nil {
		if err := sd.DecodeWithLimit(int64(limit)); err != nil {
			if errors.Is(err, filter.ErrDecodeLimitExceeded) {
				b.spend(0, limit+1, 0)
			}
			return nil
		}
	}
	if len(sd.Content) > limit {
		b.spend(0, limit+1, 0)
		return nil
	}
	if !b.spend(0, len(sd.Content), 0) {
		return nil
	}
	f := &form{content: sd.Content, matrix: identity, subtyped: st != nil, off: d.ocHidden(sd.Dict["OC"])}
	if v, ok := d.numbers(sd.Dict["Matrix"], 6); ok {
		f.matrix = matrix{v[0], v[1], v[2], v[3], v[4], v[5]}
	}
	if v, ok := d.numbers(sd.Dict["BBox"], 4); ok {
		f.bbox = rect{min(v[0], v[2]), min(v[1], v[3]), max(v[0], v[2]), max(v[1], v[3])}
		f.hasBBox = true
	}
	if r, ok := sd.Dict.Find("Resources"); ok && r != nil {
		if rd, err := d.resolveDict(r); err == nil {
			f.res = &pdfRes{d: d, dict: rd}
		}
	}
	return f
}

// numbers reads an array of n numbers.
func (d *doc) numbers(o types.Object, n int) ([]float64, bool) {
	if o == nil {
		return nil, false
	}
	a, err := d.ctx.DereferenceArray(o)
	if err != nil || len(a) != n {
		return nil, false
	}
	v := make([]float64, n)
	for i, e := range a {
		x, err := d.ctx.DereferenceNumber(e)
		if err != nil {
			return nil, false
		}
		v[i] = x
	}
	return v, true
}

// errTooMuchContent is ErrTooLarge for a document whose content passes
// the reader's document limits.
func (d *doc) errTooMuchContent() error {
	l := d.budget.lim
	return fmt.Errorf("%w: the document's content is more than the gateway reads (%d operators, %d MiB, %d characters, form XObjects counted each time they are drawn)",
		ErrTooLarge, l.docOps, l.docBytes>>20, l.docGlyphs)
}
