package seal

import "github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

// Optional content (PDF 32000-1 8.11): a viewer opens a document with
// the optional content groups its default configuration (/OCProperties
// /D) turns off hidden, and most users never turn them on. So content
// of a group that is off by default is read as invisible text (not
// shown, still found by a keyword): an annotation whose /OC is off is
// not read (as a Hidden one), a form XObject whose /OC is off is not
// drawn, and the page's text inside marked content "/OC /name BDC …
// EMC" whose /Properties name is off is invisible. /OC may name a group
// (/OCG) or a membership dictionary (/OCMD: its /OCGs under its /P
// policy, AnyOn by default; a visibility expression /VE is not
// followed). The configuration's /BaseState /OFF turns off every group
// not in its /ON.

// maxOCGs bounds the groups of a configuration or membership read.
const maxOCGs = 1024

// ocOffGroups reads once which groups (by object number) are off.
func (d *doc) ocOffGroups() map[int]bool {
	if d.ocRead {
		return d.ocOff
	}
	d.ocRead = true
	ocp, err := d.resolveDict(d.ctx.RootDict["OCProperties"])
	if err != nil {
		return nil
	}
	cfg, err := d.resolveDict(ocp["D"])
	if err != nil {
		return nil
	}
	refs := func(o types.Object) []int {
		a, err := d.ctx.DereferenceArray(o)
		if err != nil {
			return nil
		}
		var out []int
		for i, e := range a {
			if i >= maxOCGs {
				break
			}
			if r, ok := e.(types.IndirectRef); ok {
				out = append(out, r.ObjectNumber.Value())
			}
		}
		return out
	}
	off := map[int]bool{}
	if bs := cfg.NameEntry("BaseState"); bs != nil && *bs == "OFF" {
		for _, n := range refs(ocp["OCGs"]) {
			off[n] = true
		}
		for _, n := range refs(cfg["ON"]) {
			delete(off, n)
		}
	}
	for _, n := range refs(cfg["OFF"]) {
		off[n] = true
	}
	if len(off) > 0 {
		d.ocOff = off
	}
	return d.ocOff
}

// ocHidden reports whether o, an /OC entry (a group or a membership
// dictionary), is off by default; read once per object.
func (d *doc) ocHidden(o types.Object) bool {
	if o == nil {
		return false
	}
	off := d.ocOffGroups()
	if off == nil {
		return false
	}
	ref, indirect := o.(types.IndirectRef)
	if v, ok := d.ocSeen[ref.ObjectNumber.Value()]; indirect && ok {
		return v
	}
	hidden := d.ocEval(o, off)
	if indirect {
		if d.ocSeen == nil {
			d.ocSeen = map[int]bool{}
		}
		d.ocSeen[ref.ObjectNumber.Value()] = hidden
	}
	return hidden
}

// ocEval is ocHidden for o, not yet read, with off the groups off.
func (d *doc) ocEval(o types.Object, off map[int]bool) bool {
	groupOff := func(e types.Object) bool {
		r, ok := e.(types.IndirectRef)
		return ok && off[r.ObjectNumber.Value()]
	}
	od, err := d.resolveDict(o)
	if err != nil {
		return false
	}
	if t := od.NameEntry("Type"); t == nil || *t != "OCMD" {
		return groupOff(o)
	}
	var groups []types.Object
	switch g := od["OCGs"].(type) {
	case types.IndirectRef:
		if a, err := d.ctx.DereferenceArray(g); err == nil {
			groups = a
		} else {
			groups = []types.Object{g}
		}
	case types.Array:
		groups = g
	}
	if len(groups) > maxOCGs {
		groups = groups[:maxOCGs]
	}
	nOff := 0
	for _, g := range groups {
		if groupOff(g) {
			nOff++
		}
	}
	if len(groups) == 0 {
		return false
	}
	policy := "AnyOn"
	if p := od.NameEntry("P"); p != nil {
		policy = *p
	}
	switch policy {
	case "AllOn":
		return nOff > 0
	case "AnyOff":
		return nOff == 0
	case "AllOff":
		return nOff < len(groups)
	}
	return nOff == len(groups) // AnyOn
}
