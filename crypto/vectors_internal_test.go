package crypto

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"testing"

	"github.com/emmansun/gmsm/sm2"
)

// GM/T 0003.5-2012 / GB/T 32918.5-2017 Annex C: SM2 encryption of
// "encryption standard" with k = 59276E27...BC21 on the recommended curve.
// gmsm takes k as the first 32 random bytes, so feeding the published k
// reproduces the published ciphertext through our encryption path (the
// public Encrypt always uses crypto/rand).
func TestSM2PublishedEncryptionFixedK(t *testing.T) {
	d, _ := hex.DecodeString("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
	key, err := sm2.NewPrivateKey(d)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := hex.DecodeString("59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21")
	want, _ := hex.DecodeString("04" +
		"04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73" + // C1.x
		"E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0" + // C1.y
		"59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766" + // C3
		"21886CA989CA9C7D58087307CA93092D651EFA") // C2
	got, err := sm2Encrypt(bytes.NewReader(k), &key.PublicKey, []byte("encryption standard"),
		sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %X\nwant %X", got, want)
	}
	asn, err := sm2Encrypt(bytes.NewReader(k), &key.PublicKey, []byte("encryption standard"), sm2.ASN1EncrypterOpts)
	if err != nil {
		t.Fatal(err)
	}
	wantASN, _ := hex.DecodeString("307C0220" +
		"04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73" + "022100" +
		"E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0" + "0420" +
		"59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766" + "0413" +
		"21886CA989CA9C7D58087307CA93092D651EFA")
	if !bytes.Equal(asn, wantASN) {
		t.Fatalf("ASN.1: got %X", asn)
	}
}

// gmsm's all-zero-t retry cannot be forced without an SM3 preimage, so the
// retry detection is exercised with a first k that gmsm rejects (k = 0),
// which also costs 32 extra random bytes: sm2Encrypt must discard that
// result and start again, and the final ciphertext must decrypt. The
// statistical test TestSM2OneBytePlaintexts covers the real retry.
func TestSM2EncryptDiscardsAttemptsThatReadMore(t *testing.T) {
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// A 32-byte plaintext: with a 1-byte one, gmsm's own all-zero-t retry
	// (1 in 256) would read 64 more bytes and make the count vary.
	msg := bytes.Repeat([]byte{0x42}, 32)
	r := &countingReader{r: io.MultiReader(bytes.NewReader(make([]byte, 32)), rand.Reader)}
	ct, err := sm2Encrypt(r, &key.PublicKey, msg, sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2))
	if err != nil {
		t.Fatal(err)
	}
	// 32 (rejected k = 0) + 32 (accepted k, result discarded) + 32 (retry).
	if r.n != 96 {
		t.Fatalf("read %d random bytes, want 96", r.n)
	}
	pt, err := Decrypt(key, ct, FormatC1C3C2)
	if err != nil || !bytes.Equal(pt, msg) {
		t.Fatalf("got %x, %v", pt, err)
	}
	// A reader that always fails: an error, no panic, no endless loop.
	if _, err := sm2Encrypt(failingReader{}, &key.PublicKey, []byte{1}, nil); err == nil {
		t.Fatal("want error from failing random source")
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }
