package seal_test

import (
	"fmt"
	"os"

	"github.com/ukeygate/ukeygate/seal"
)

// Verify lists the signatures of a PDF sealed once with SM2.
func ExampleVerify() {
	pdf, err := os.ReadFile("testdata/sealed-SM2.pdf")
	if err != nil {
		panic(err)
	}
	sigs, err := seal.Verify(pdf)
	if err != nil {
		panic(err)
	}
	for _, s := range sigs {
		fmt.Println(s.SubFilter, "valid:", s.Valid, "whole document:", s.CoversWholeDocument, "modified:", s.Modified)
		fmt.Println("signer:", s.Signer.Subject.CommonName)
	}
	// Changing one signed byte:
	pdf[200] ^= 1
	sigs, _ = seal.Verify(pdf)
	fmt.Println("after a change, valid:", sigs[0].Valid, "modified:", sigs[0].Modified)
	// Output:
	// ETSI.CAdES.detached valid: true whole document: true modified: false
	// signer: 张三 SM2
	// after a change, valid: false modified: true
}

// CheckPNG refuses an image without transparency.
func ExampleCheckPNG() {
	img, err := seal.CheckPNG([]byte("GIF89a"))
	fmt.Println(img == nil, err)
	// Output:
	// true seal: bad seal image: not a PNG
}
