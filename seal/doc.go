// Package seal holds electronic seals (电子签章): the checks on a seal's
// transparent PNG, the GB/T 38540 SES_Seal structure signed by the issuer
// that made the seal, sealing a PDF (drawing the seal image at placements
// and signing the document as a PAdES baseline signature in an incremental
// update, SM2 per GM/T 0010 or RSA, with the CMS from package crypto), and
// verifying every signature a PDF carries.
//
// PDF parsing, page geometry and the content and font objects come from
// github.com/pdfcpu/pdfcpu; written here are only the incremental-update
// signature plumbing (new objects, xref section, trailer, ByteRange and
// /Contents), the image and appearance streams, and the text locator that
// finds a keyword's position in a page's content stream and reads the
// excerpt the phone shows (ReadExcerpt: the first lines of page 1 and the
// text nearest to each place the seal lands).
//
// The package disables pdfcpu's configuration directory (pdfcpu would
// otherwise write a config.yml under the user's configuration directory).
//
// It must never store anything, speak HTTP, log, hold a private key longer
// than one call, or tell why a signature failed beyond "invalid".
package seal
