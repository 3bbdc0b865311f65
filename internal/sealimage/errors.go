package sealimage

import "errors"

// Sentinel errors of package sealimage.
var (
	// ErrNoFont: no CJK font file was found (install fonts-wqy-zenhei, or
	// set UKEYGATE_CJK_FONT to a .ttf, .otf or .ttc file).
	ErrNoFont = errors.New("sealimage: no CJK font")
	// ErrBadText: the text does not fit the seal (empty, too long, or a
	// character the font lacks).
	ErrBadText = errors.New("sealimage: bad text")
)
