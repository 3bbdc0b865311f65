package seal

import "errors"

// Sentinel errors of package seal. Callers check them with errors.Is.
var (
	// ErrBadImage: the seal image is not a PNG, is too large or too small,
	// or has no transparent pixel.
	ErrBadImage = errors.New("seal: bad seal image")
	// ErrBadSeal: a seal's fields are missing or out of range (name, kind,
	// size in millimetres, validity), or an SES_Seal cannot be parsed.
	ErrBadSeal = errors.New("seal: bad seal")
	// ErrSealInvalid: an SES_Seal's issuer signature does not verify.
	ErrSealInvalid = errors.New("seal: seal signature invalid")
	// ErrBadPDF: the document is not a PDF this package can seal or read
	// (unparseable, encrypted, broken cross-reference).
	ErrBadPDF = errors.New("seal: bad PDF")
	// ErrBadPlacement: a placement names a page the document does not have,
	// a position off the page, or nothing at all.
	ErrBadPlacement = errors.New("seal: bad placement")
	// ErrKeywordNotFound: a keyword placement's text is on no page.
	ErrKeywordNotFound = errors.New("seal: keyword not found")
	// ErrTooLarge: the document or the signature does not fit the limits.
	ErrTooLarge = errors.New("seal: too large")
)
