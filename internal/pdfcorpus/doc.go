// Package pdfcorpus makes PDFs the way the portals' real producers make
// them, for the tests of package seal (reading, keyword placement,
// sealing) and the browser tests: a contract in Chinese and English with
// tables, several pages long, as HTML printed to PDF by Chromium
// (Skia's PDF: Type0 CIDFontType2 subset fonts with Identity-H and
// /ToUnicode), and the words a reader of each page must find.
//
// It is test support only and must never be imported by the server's
// packages. Nothing here is downloaded or copied: every PDF is made at
// test time by the producer installed on the machine.
package pdfcorpus
