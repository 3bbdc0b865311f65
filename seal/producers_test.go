package seal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/chromedp/chromedp"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/internal/pdfcorpus"
	"github.com/ukeygate/ukeygate/internal/testkit"
)

// PDFs from the producers real portals use, made at test time by the
// producers installed on the machine (never downloaded): Chromium's print
// to PDF (Type0 CID TrueType subsets, Identity-H, /ToUnicode) and qpdf's
// rewrites of it (object and cross-reference streams, linearised,
// encrypted), Ghostscript's ps2pdf of groff's PostScript (Type1C subsets
// with /Differences, no /ToUnicode, no space glyphs) and ReportLab
// (standard 14 fonts with WinAnsi, a TrueType subset of the CJK font).
// Each is read as poppler reads it (the same words, in the same order,
// on the same pages), its keywords found where poppler finds them, and
// sealed twice into a PDF poppler and Verify accept, the seals where
// they were asked, the producer's bytes untouched. A missing producer
// skips its test, except under CI=true, where .ci/run installs them.

// requireProducer returns the path of a producer's program: skipped when
// it is missing, failed under CI=true.
func requireProducer(t testing.TB, pkg string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required when CI=true (apt-get install %s)", names[0], pkg)
	}
	t.Skipf("%s not installed (apt-get install %s)", names[0], pkg)
	return ""
}

// produce runs a producer with stdin and returns its standard output.
func produce(t testing.TB, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, stderr.String())
	}
	return out
}

var (
	chromiumOnce sync.Once
	chromiumPDF  []byte
	chromiumErr  error
)

// contractRows makes the Chromium contract four or more A4 pages long.
const contractRows = 90

// chromiumContract is pdfcorpus.ContractHTML printed to PDF by a headless
// Chromium of its own, once per test binary.
func chromiumContract(t *testing.T) []byte {
	t.Helper()
	exe := ""
	for _, p := range []string{os.Getenv("UKEYGATE_CHROMIUM"), "/usr/lib/chromium/chromium", "/usr/bin/chromium"} {
		if p != "" {
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				exe = p
				break
			}
		}
	}
	if exe == "" {
		requireProducer(t, "chromium", "chromium")
	}
	chromiumOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ukeygate-seal-chromium-")
		if err != nil {
			chromiumErr = err
			return
		}
		defer os.RemoveAll(dir)
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(filepath.Join(dir, "profile")),
			chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.Env("TMPDIR="+dir))
		actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
		defer cancelA()
		bctx, cancelB := chromedp.NewContext(actx)
		defer cancelB()
		if chromiumErr = chromedp.Do(bctx); chromiumErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
		defer cancel()
		chromiumPDF, chromiumErr = pdfcorpus.PrintToPDF(ctx, pdfcorpus.ContractHTML(contractRows))
	})
	if chromiumErr != nil {
		t.Fatalf("chromium print to PDF: %v", chromiumErr)
	}
	return chromiumPDF
}

// groffTender is a two-page tender declaration set by groff (-man -Tps)
// and turned into PDF by Ghostscript's ps2pdf.
func groffTender(t *testing.T) []byte {
	t.Helper()
	groff := requireProducer(t, "groff-base", "groff")
	ps2pdf := requireProducer(t, "ghostscript", "ps2pdf")
	src := `.TH TENDER 1 2026-12-05 "Example Construction" "Tender Documents"
.SH DECLARATION
We accept every term of the tender documents \(em without reservation.
The price is \(lqfirm\(rq and final; the office's fifty staff are na\(:ive about nothing.
Caf\('e r\('esum\('e: \(Eu 1,234,567.00 for lot 3.
.PP
Bidder (seal): [SEAL HERE]
.bp
.SH SCHEDULE
Delivery within 90 days of the award, to the Riverside Bridge site.
`
	ps := produce(t, []byte(src), groff, "-man", "-Tps")
	return produce(t, ps, ps2pdf, "-", "-")
}

// reportlabOrder is a two-page purchase order drawn with ReportLab: the
// standard 14 fonts (WinAnsi, not embedded) and the machine's CJK font as
// a TrueType subset.
func reportlabOrder(t *testing.T) []byte {
	t.Helper()
	py := requireProducer(t, "python3-reportlab", "/usr/bin/python3", "python3")
	if err := exec.Command(py, "-c", "import reportlab").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-reportlab is required when CI=true: %v", err)
		}
		t.Skipf("python3-reportlab not installed: %v", err)
	}
	font := "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
	if _, err := os.Stat(font); err != nil {
		requireProducer(t, "fonts-wqy-zenhei", "no such program: "+font)
	}
	script := `import sys
from reportlab.pdfgen import canvas
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
pdfmetrics.registerFont(TTFont('Zen', sys.argv[2], subfontIndex=0))
c = canvas.Canvas(sys.argv[1], pagesize=A4)
c.setFont('Helvetica-Bold', 16); c.drawString(72, 780, 'Purchase Order \u201cPO-2026-88\u201d \u2014 caf\u00e9 supplies')
c.setFont('Zen', 12); c.drawString(72, 750, '采购订单 甲方：某某市公共资源交易中心')
c.setFont('Times-Roman', 11); c.drawString(72, 720, 'Total: 1,234.00 CNY for office fibre cabling')
c.setFont('Courier', 10); c.drawString(72, 700, 'Ref. ZC-2026-017/88')
c.showPage()
c.setFont('Zen', 12); c.drawString(72, 600, '乙方（盖章）：某某建设有限公司')
c.setFont('Helvetica', 11); c.drawString(72, 580, 'Signature of the Supplier (seal): Example Co.')
c.save()
`
	out := filepath.Join(t.TempDir(), "order.pdf")
	produce(t, nil, py, "-c", script, out, font)
	pdf, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return pdf
}

// qpdfVariant is pdf rewritten by qpdf with args.
func qpdfVariant(t *testing.T, pdf []byte, args ...string) []byte {
	t.Helper()
	qpdf := requireTool(t, "qpdf")
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(in, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	produce(t, nil, qpdf, append(append(args, in), out)...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// producerDoc is a producer's PDF and the keywords on it.
type producerDoc struct {
	pdf []byte
	// keywords, each on page page (the check that the reading is not
	// empty on both sides).
	keywords []producerKeyword
}

type producerKeyword struct {
	text string
	page int
}

func TestProducerChromium(t *testing.T) {
	pdf := chromiumContract(t)
	n, err := PageCount(pdf)
	if err != nil || n < 4 {
		t.Fatalf("the contract is %d pages (%v): the test wants a long one", n, err)
	}
	doc := producerDoc{pdf: pdf, keywords: []producerKeyword{{pdfcorpus.KeywordZH, n}, {pdfcorpus.KeywordEN, n}, {"Government Procurement Contract", 1}}}
	t.Run("as printed", func(t *testing.T) { checkProducer(t, doc) })
	for _, v := range []struct {
		name string
		args []string
	}{
		{"object streams", []string{"--object-streams=generate"}},
		{"linearised", []string{"--linearize"}},
		{"linearised with object streams", []string{"--linearize", "--object-streams=generate"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			d := doc
			d.pdf = qpdfVariant(t, pdf, v.args...)
			if bytes.Equal(d.pdf, pdf) {
				t.Fatal("qpdf did not rewrite the file")
			}
			if v.args[len(v.args)-1] == "--object-streams=generate" && !bytes.Contains(d.pdf, []byte("/ObjStm")) {
				t.Fatal("qpdf wrote no object stream")
			}
			checkProducer(t, d)
		})
	}
	// Encrypted with an empty user password (opens without asking, as
	// some producers write "protected" PDFs): refused, not misread.
	t.Run("encrypted", func(t *testing.T) {
		enc := qpdfVariant(t, pdf, "--encrypt", "", "owner-secret", "256", "--")
		if _, err := ReadExcerpt(enc, []Placement{{Keyword: pdfcorpus.KeywordZH}}, nil); !errors.Is(err, ErrBadPDF) {
			t.Errorf("ReadExcerpt: %v", err)
		}
		if _, err := Sketches(enc, []SketchPage{{Page: 1}}, nil); !errors.Is(err, ErrBadPDF) {
			t.Errorf("Sketches: %v", err)
		}
		if _, err := Seal(enc, sealOptions(t, newPKI(t, gmcrypto.AlgRSA), Placement{Page: 1, XMM: 100, YMM: 100})); !errors.Is(err, ErrBadPDF) {
			t.Errorf("Seal: %v", err)
		}
	})
}

func TestProducerGhostscript(t *testing.T) {
	checkProducer(t, producerDoc{pdf: groffTender(t), keywords: []producerKeyword{{"[SEAL HERE]", 1}, {"“firm” and final", 1}, {"Riverside Bridge", 2}, {"staff are naïve", 1}}})
}

func TestProducerReportLab(t *testing.T) {
	checkProducer(t, producerDoc{pdf: reportlabOrder(t), keywords: []producerKeyword{{"乙方（盖章）", 2}, {"“PO-2026-88”", 1}, {"office fibre", 1}}})
}

// checkProducer reads, sketches and seals a producer's PDF and checks
// every step against poppler.
func checkProducer(t *testing.T, doc producerDoc) {
	pdf := doc.pdf
	d, err := readPDF(pdf)
	if err != nil {
		t.Fatal(err)
	}
	pages := d.ctx.PageCount
	file := writeTemp(t, "doc.pdf", pdf)

	// 1. Every page reads as poppler's pdftotext reads it: the same
	// words, and each of our runs of text in the order poppler has them.
	var read [][]string // runs of each page
	for nr := 1; nr <= pages; nr++ {
		p, glyphs := d.glyphsOf(nr)
		if p == nil {
			t.Fatalf("page %d cannot be read", nr)
		}
		var runs []string
		for _, l := range linesOf(p, glyphs) {
			if r, ok := l.raw(1 << 20); ok {
				runs = append(runs, r.text)
			}
		}
		read = append(read, runs)
		txt, err := runTool(t, "pdftotext", "-f", itoa(nr), "-l", itoa(nr), file, "-")
		if err != nil {
			t.Fatalf("pdftotext: %v %s", err, txt)
		}
		// poppler joins a word hyphenated at the end of a line with its
		// end on the next; we read the lines as drawn.
		for i := 0; i+1 < len(runs); i++ {
			if r := []rune(runs[i]); len(r) > 1 && r[len(r)-1] == '-' && unicode.IsLetter(r[len(r)-2]) {
				runs = slices.Replace(slices.Clone(runs), i, i+2, string(r[:len(r)-1])+runs[i+1])
			}
		}
		ours, theirs := strings.Fields(strings.Join(runs, " ")), strings.Fields(txt)
		if d := wordsDiff(ours, theirs); d != "" {
			t.Errorf("page %d: words differ from pdftotext's: %s\nours:    %q\npoppler: %q", nr, d, runs, txt)
		}
		flat := " " + strings.Join(theirs, " ") + " "
		for _, r := range runs {
			if !strings.Contains(flat, " "+strings.Join(strings.Fields(r), " ")+" ") {
				t.Errorf("page %d: the run %q is not in pdftotext's text in that order:\n%s", nr, r, txt)
			}
		}
	}
	for _, k := range doc.keywords {
		if !strings.Contains(strings.Join(read[k.page-1], "\n"), k.text) {
			t.Errorf("page %d does not read %q: %q", k.page, k.text, read[k.page-1])
		}
	}
	if t.Failed() {
		return
	}

	// 2. The excerpt: page 1's first lines, and each keyword's spot where
	// pdftotext -bbox has the words.
	var placements []Placement
	for _, k := range doc.keywords {
		placements = append(placements, Placement{Keyword: k.text})
	}
	ex, err := ReadExcerpt(pdf, placements, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Pages != pages || len(ex.First.Lines) == 0 || ex.First.NoText {
		t.Fatalf("excerpt %+v", ex)
	}
	for i, l := range ex.First.Lines {
		if want := strings.Join(strings.Fields(read[0][i]), " "); l != want && !(strings.HasSuffix(l, "…") && strings.HasPrefix(want, strings.TrimSuffix(l, "…"))) {
			t.Errorf("first line %d %q, the page reads %q", i, l, want)
		}
	}
	if len(ex.Spots) != len(doc.keywords) {
		t.Fatalf("spots %+v", ex.Spots)
	}
	for i, k := range doc.keywords {
		s := ex.Spots[i]
		if s.NotFound || s.Page != k.page || !slices.ContainsFunc(s.Lines, func(l string) bool { return strings.Contains(l, k.text) || strings.HasSuffix(l, "…") }) {
			t.Errorf("keyword %q: spot %+v", k.text, s)
			continue
		}
		box, ok := popplerPhrase(t, file, k.page, k.text)
		if !ok {
			t.Errorf("pdftotext -bbox has no words for %q on page %d", k.text, k.page)
			continue
		}
		if s.XMM < box[0]/ptPerMM-1 || s.XMM > box[2]/ptPerMM+1 || s.YMM < box[1]/ptPerMM-1 || s.YMM > box[3]/ptPerMM+1 {
			t.Errorf("keyword %q at %.1f, %.1f mm; poppler's words %.1f..%.1f, %.1f..%.1f mm", k.text, s.XMM, s.YMM,
				box[0]/ptPerMM, box[2]/ptPerMM, box[1]/ptPerMM, box[3]/ptPerMM)
		}
	}

	// 3. The sketch of each keyword's page draws its runs.
	sk := []SketchPage{}
	for _, s := range ex.Spots {
		sk = append(sk, SketchPage{Page: s.Page, Seals: []SketchSeal{{XMM: s.XMM, YMM: s.YMM, WidthMM: 40, HeightMM: 40}}})
	}
	svgs, err := Sketches(pdf, sk, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, svg := range svgs {
		// The run holding the keyword, as a sketch cuts it.
		k := doc.keywords[i]
		run := read[k.page-1][slices.IndexFunc(read[k.page-1], func(r string) bool { return strings.Contains(r, k.text) })]
		var esc strings.Builder
		xmlEscape(&esc, neutral(rawLine{text: run}, defaultHidden, SketchRunRunes))
		if !strings.Contains(svg, ">"+esc.String()+"</text>") {
			t.Errorf("the sketch of page %d does not draw %q", sk[i].Page, esc.String())
		}
	}

	// 4. Sealed twice, each an incremental update over the bytes before:
	// a seal at the first keyword and one at 150, 240 mm on another page
	// (RSA, for poppler), then an SM2 seal at the second keyword over it.
	k0 := ex.Spots[0]
	other := 1
	if k0.Page == 1 {
		other = pages
	}
	rsa, sm := newPKI(t, gmcrypto.AlgRSA), newPKI(t, gmcrypto.AlgSM2)
	first, err := Seal(pdf, sealOptions(t, rsa, Placement{Keyword: doc.keywords[0].text}, Placement{Page: other, XMM: 150, YMM: 240}))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first[:len(pdf)], pdf) {
		t.Fatal("the producer's bytes changed: not an incremental update")
	}
	second, err := Seal(first, sealOptions(t, sm, Placement{Keyword: doc.keywords[1].text}))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(second[:len(first)], first) {
		t.Fatal("the first sealed file's bytes changed")
	}
	// Each update's cross-reference has the form of the section it
	// chains to (a stream after a stream, a table after a table).
	for _, pair := range [][2][]byte{{pdf, first}, {first, second}} {
		before, f := pair[0], pair[1]
		if got, want := xrefStreamAt(f, lastStartXRef(t, f)), xrefStreamAt(before, lastStartXRef(t, before)); got != want {
			t.Errorf("the update's cross-reference is a stream: %v, the section before: %v", got, want)
		}
	}
	rep := pdfsigReport(t, first)
	if len(rep) != 1 || !strings.Contains(rep[0], "Signature Validation: Signature is Valid.") || !strings.Contains(rep[0], "Total document signed") {
		t.Fatalf("pdfsig of the sealed file:\n%s", strings.Join(rep, "\n"))
	}
	rep = pdfsigReport(t, second)
	if len(rep) != 2 || !strings.Contains(rep[0], "Signature Validation: Signature is Valid.") || strings.Contains(rep[0], "Total document signed") {
		t.Fatalf("pdfsig after the second seal (the first still valid, over part of the file):\n%s", strings.Join(rep, "\n"))
	}
	qpdfCheck(t, second)
	sigs, err := Verify(second)
	if err != nil || len(sigs) != 2 {
		t.Fatalf("verify: %v %+v", err, sigs)
	}
	for i, s := range sigs {
		if !s.Valid || !s.SealValid || s.Modified || s.CoversWholeDocument != (i == 1) {
			t.Errorf("signature %d: %+v", i, s)
		}
	}
	// The sealed file still reads as the producer's.
	if ex2, err := ReadExcerpt(second, placements, nil); err != nil || !slices.Equal(ex2.First.Lines, ex.First.Lines) {
		t.Errorf("the sealed file reads %v %+v", err, ex2)
	}

	// 5. The seals show where they were asked (pdftoppm): on the first
	// keyword's page and the other page of the first file, nothing red
	// elsewhere.
	for _, c := range []struct {
		page   int
		cx, cy float64
	}{{k0.Page, k0.XMM, k0.YMM}, {other, 150, 240}} {
		if in0, out0 := redPixels(renderPage(t, pdf, c.page, renderDPI), renderDPI, mmRect{}); in0+out0 != 0 {
			t.Fatalf("page %d is red before sealing: the check is void", c.page)
		}
		vw, vh := pageSizeMM(t, d, c.page)
		cx, cy := min(max(c.cx, 20), vw-20), min(max(c.cy, 20), vh-20) // kept on the page
		in, out := redPixels(renderPage(t, first, c.page, renderDPI), renderDPI, sealRectMM(cx, cy, 40+4, 40+4))
		if in < 200 || out != 0 {
			t.Errorf("page %d: %d red pixels around %.1f, %.1f mm, %d elsewhere", c.page, in, cx, cy, out)
		}
	}
	if name := os.Getenv("UKEYGATE_SHOTS"); name != "" {
		keepShot(t, second, k0.Page, filepath.Join(name, "sealed-"+strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-")+".png"))
	}
}

var startXRef = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`)

// lastStartXRef is the offset the file's last startxref gives.
func lastStartXRef(t *testing.T, pdf []byte) int64 {
	t.Helper()
	m := startXRef.FindSubmatch(pdf)
	if m == nil {
		t.Fatal("no startxref at the end of the file")
	}
	v, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return v
}

// pageSizeMM is page nr's size as shown, in millimetres.
func pageSizeMM(t *testing.T, d *doc, nr int) (w, h float64) {
	t.Helper()
	p, err := d.page(nr)
	if err != nil {
		t.Fatal(err)
	}
	w, h = p.visualSize()
	return w / ptPerMM, h / ptPerMM
}

// keepShot writes page nr of pdf rendered by pdftoppm to file, for a
// person to look at (UKEYGATE_SHOTS).
func keepShot(t *testing.T, pdf []byte, nr int, file string) {
	t.Helper()
	img := renderPage(t, pdf, nr, 90)
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pngEncode(f, img); err != nil {
		t.Fatal(err)
	}
	t.Logf("rendered page: %s", file)
}

// wordsDiff says which words one list has more often than the other
// ("" when both hold the same words as often).
func wordsDiff(ours, theirs []string) string {
	count := map[string]int{}
	for _, w := range ours {
		count[w]++
	}
	for _, w := range theirs {
		count[w]--
	}
	var more, fewer []string
	for w, c := range count {
		switch {
		case c > 0:
			more = append(more, fmt.Sprintf("%q×%d", w, c))
		case c < 0:
			fewer = append(fewer, fmt.Sprintf("%q×%d", w, -c))
		}
	}
	if len(more)+len(fewer) == 0 {
		return ""
	}
	slices.Sort(more)
	slices.Sort(fewer)
	return fmt.Sprintf("only ours %v, only poppler's %v", more, fewer)
}

var bboxWord = regexp.MustCompile(`<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>`)

// popplerPhrase is the box (x0, y0, x1, y1, points from the page's top
// left) of the words of pdftotext -bbox that hold phrase on page nr: the
// words in a row that are phrase's words, or the one word holding it.
func popplerPhrase(t *testing.T, file string, nr int, phrase string) ([4]float64, bool) {
	t.Helper()
	out, err := runTool(t, "pdftotext", "-bbox", "-f", itoa(nr), "-l", itoa(nr), file, "-")
	if err != nil {
		t.Fatalf("pdftotext -bbox: %v %s", err, out)
	}
	type word struct {
		box  [4]float64
		text string
	}
	var words []word
	for _, m := range bboxWord.FindAllStringSubmatch(out, -1) {
		var w word
		for i := range 4 {
			w.box[i], _ = strconv.ParseFloat(m[i+1], 64)
		}
		w.text = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&apos;", "'").Replace(m[5])
		words = append(words, w)
	}
	want := strings.Fields(phrase)
	for i := range words {
		if len(want) == 1 && strings.Contains(words[i].text, want[0]) {
			return words[i].box, true
		}
		if i+len(want) > len(words) {
			break
		}
		ok := true
		box := [4]float64{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
		for k, w := range want {
			got := words[i+k]
			if got.text != w && !(k == 0 && strings.HasSuffix(got.text, w)) && !(k == len(want)-1 && strings.HasPrefix(got.text, w)) {
				ok = false
				break
			}
			box = [4]float64{min(box[0], got.box[0]), min(box[1], got.box[1]), max(box[2], got.box[2]), max(box[3], got.box[3])}
		}
		if ok {
			return box, true
		}
	}
	return [4]float64{}, false
}

// popplerSigned is pdf signed by poppler's pdfsig -add-signature (an
// RSA key and self-signed certificate made by openssl, in an NSS
// database made by certutil and pk12util): a document that already
// carries another tool's signature (adbe.pkcs7.detached).
func popplerSigned(t *testing.T, pdf []byte) []byte {
	t.Helper()
	certutil := requireProducer(t, "libnss3-tools", "certutil")
	pk12util := requireProducer(t, "libnss3-tools", "pk12util")
	pdfsig := requireTool(t, "pdfsig")
	dir := t.TempDir()
	db := "sql:" + filepath.Join(dir, "nss")
	if err := os.Mkdir(filepath.Join(dir, "nss"), 0o700); err != nil {
		t.Fatal(err)
	}
	testkit.RunOpenSSL(t, dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem",
		"-days", "2", "-subj", "/CN=Poppler Signer/O=Another Tool")
	testkit.RunOpenSSL(t, dir, "pkcs12", "-export", "-inkey", "key.pem", "-in", "cert.pem", "-out", "signer.p12", "-passout", "pass:p12", "-name", "other")
	produce(t, nil, certutil, "-N", "-d", db, "--empty-password")
	produce(t, nil, pk12util, "-i", filepath.Join(dir, "signer.p12"), "-d", db, "-W", "p12")
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "signed.pdf")
	if err := os.WriteFile(in, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	produce(t, nil, pdfsig, "-nssdir", db, "-add-signature", "-nick", "other", "-reason", "approved", in, out)
	signed, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// TestProducerAlreadySigned: Chromium's contract signed first by poppler
// (another tool's adbe.pkcs7.detached signature), then sealed: the other
// signature stays valid over its part, ours covers the whole file, and
// the seal shows where asked.
func TestProducerAlreadySigned(t *testing.T) {
	pdf := popplerSigned(t, chromiumContract(t))
	rep := pdfsigReport(t, pdf)
	if len(rep) != 1 || !strings.Contains(rep[0], "Signature is Valid.") || !strings.Contains(rep[0], "adbe.pkcs7.detached") {
		t.Fatalf("pdfsig of poppler's own signature:\n%s", strings.Join(rep, "\n"))
	}
	before, err := Verify(pdf)
	if err != nil || len(before) != 1 || !before[0].Valid || !before[0].CoversWholeDocument {
		t.Fatalf("verify the other tool's signature: %v %+v", err, before)
	}
	n, err := PageCount(pdf)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Seal(pdf, sealOptions(t, newPKI(t, gmcrypto.AlgRSA), Placement{Keyword: pdfcorpus.KeywordZH}))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out[:len(pdf)], pdf) {
		t.Fatal("the signed file's bytes changed")
	}
	if got, want := xrefStreamAt(out, lastStartXRef(t, out)), xrefStreamAt(pdf, lastStartXRef(t, pdf)); got != want {
		t.Errorf("the update's cross-reference is a stream: %v, the section before: %v", got, want)
	}
	rep = pdfsigReport(t, out)
	if len(rep) != 2 || !strings.Contains(rep[0], "Signature is Valid.") || strings.Contains(rep[0], "Total document signed") ||
		!strings.Contains(rep[1], "Signature is Valid.") || !strings.Contains(rep[1], "Total document signed") || !strings.Contains(rep[1], "ETSI.CAdES.detached") {
		t.Fatalf("pdfsig after sealing:\n%s", strings.Join(rep, "\n"))
	}
	qpdfCheck(t, out)
	sigs, err := Verify(out)
	if err != nil || len(sigs) != 2 || !sigs[0].Valid || sigs[0].CoversWholeDocument || sigs[0].Modified || sigs[0].Seal != nil ||
		!sigs[1].Valid || !sigs[1].CoversWholeDocument || !sigs[1].SealValid {
		t.Fatalf("verify after sealing: %v %+v", err, sigs)
	}
	ex, err := ReadExcerpt(out, []Placement{{Keyword: pdfcorpus.KeywordZH}}, nil)
	if err != nil || len(ex.Spots) != 1 || ex.Spots[0].Page != n {
		t.Fatalf("excerpt %v %+v", err, ex)
	}
	s := ex.Spots[0]
	in, outside := redPixels(renderPage(t, out, n, renderDPI), renderDPI, sealRectMM(max(s.XMM, 20), s.YMM, 44, 44))
	if in < 200 || outside != 0 {
		t.Errorf("page %d: %d red pixels at the keyword, %d elsewhere", n, in, outside)
	}
}
