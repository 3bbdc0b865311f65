// Package sealimage draws realistic seal pictures for the demo, the CLI
// (ukeygate seal image) and tests: a round red 公章 (border, five-pointed
// star, the organisation's name along the upper arc, the seal's name
// below the star) and a square 法人章 / personal name seal, on a
// transparent background, with the Chinese text set in a CJK font found
// on the machine (fonts-wqy-zenhei in CI).
//
// It is not on the server's trusted path: the gateway only checks and
// carries the PNG it is given (package seal). It must never be imported by
// the server's packages.
package sealimage
