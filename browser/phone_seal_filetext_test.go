package browser_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ukeygate/ukeygate/operator"
	"github.com/ukeygate/ukeygate/portal"
	"github.com/ukeygate/ukeygate/seal"
)

// TestPhoneSealFileText: on a 320 px phone, the confirm screen of a seal
// session shows, under its own heading "网关从文件读出" and apart from the
// portal's unverified words, what the gateway read in each PDF: the
// document's name, its pages, the first lines of page 1 and, for every
// place the seal lands, the page and the text nearest to it (the nearest
// line marked, visible without a tap); a page without text says 此页无可读文字;
// a keyword the file does not hold says the seal will fail; an invisible
// or direction-changing character in the file shows as a [U+XXXX]
// marker, not as itself (the contract's text is inside form XObjects);
// a stamp annotation's words are marked 批注 / Annotation, with a note
// saying what that means. The gateway's sketch of each page a seal lands
// on is folded under its first spot and opens as a picture (the stamp's
// words in a dotted blue box). Nothing is wider than the screen, in
// Chinese or English, and axe finds nothing.
func TestPhoneSealFileText(t *testing.T) {
	t.Parallel()
	w := newWorld(t, false)
	ctx := func() context.Context { return w.ctx() }
	p, _, pc := contractSealer(t, w, "周九", "seal-text", sealPNG(t, false))
	// The contract's pages are drawn through form XObjects, as many
	// producers write them: read, sketched and sealed as drawn directly.
	// Page 2 carries a stamp annotation just above the seal's line.
	contract := seal.UnicodeStampPDF([][]string{
		{"政府采购合同", "合同编号：ZC-2026-017", "甲方：某某市公共资源交易中心\u202Eexe.txt", "乙方：某某建设有限公司"},
		{"第十条 其他", "本合同一式四份，双方各执两份。", "", "甲方（盖章）：", "", "", "乙方（盖章）：某某建设有限公司", "日期：2026年12月5日"},
	}, 2, "已付清 PAID")
	scanned := seal.TextPDF([][]string{{}})
	s, err := pc.CreateSession(ctx(), portal.SessionRequest{Kind: portal.KindSeal,
		Display: portal.Display{Title: "投标保证金退还申请", Summary: "请盖章确认退还申请（网站的说法）"},
		Documents: []portal.Document{
			{Name: "政府采购合同.pdf", PDF: contract, Placements: []portal.Placement{{Keyword: "乙方（盖章）"}, {Keyword: "丙方（盖章）"}}},
			{Name: "扫描件.pdf", PDF: scanned, Placements: []portal.Placement{{Page: 1, XMM: 150, YMM: 240}}},
		}})
	if err != nil {
		t.Fatal(err)
	}

	step(t, p, "what the gateway read, under its own heading, at 320 px", func(t *testing.T) {
		p.visit(s.QR.Payload)
		p.waitView("session")
		if got := p.txt("file-text-label"); got != "网关从文件读出" {
			t.Errorf("heading %q", got)
		}
		// After the portal's words, in a card of its own, labelled.
		if !eval[bool](p.tab, `(function () {
  var d = document.querySelector('[data-t=display]'), l = document.querySelector('[data-t=file-text-label]'), c = document.querySelector('[data-t=file-text]');
  return !!(d.compareDocumentPosition(l) & Node.DOCUMENT_POSITION_FOLLOWING) && !!(l.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING) &&
    !d.contains(c) && c.getAttribute('aria-labelledby') === 'file-text-label';
})()`) {
			t.Error("the gateway's reading is not in its own labelled card after the portal's words")
		}
		type shownDoc struct {
			Name, Pages, First string
			Spots              []string
			Near               []string
		}
		docs := eval[[]shownDoc](p.tab, `Array.prototype.map.call(document.querySelectorAll('[data-t=ft-doc]'), function (d) {
  return {name: d.querySelector('.doc-name').textContent, pages: d.querySelector('.muted').textContent,
    first: d.querySelector('[data-t=ft-first]').textContent,
    spots: Array.prototype.map.call(d.querySelectorAll('[data-t=ft-spot]'), function (s) {
      var c = s.cloneNode(true);
      Array.prototype.forEach.call(c.querySelectorAll('details'), function (x) { x.remove(); });
      return c.textContent;
    }),
    near: Array.prototype.map.call(d.querySelectorAll('[data-t=ft-near]'), function (n) { return n.textContent; })};
})`)
		if len(docs) != 2 {
			t.Fatalf("documents read %+v", docs)
		}
		c, b := docs[0], docs[1]
		if c.Name != "政府采购合同.pdf" || c.Pages != "共 2 页 · 盖章 1 处" ||
			c.First != "第 1 页开头政府采购合同合同编号：ZC-2026-017甲方：某某市公共资源交易中心[U+202E]exe.txt" {
			t.Errorf("contract %+v", c)
		}
		if len(c.Spots) != 2 || c.Spots[0] != "盖章处 1：第 2 页，文字“乙方（盖章）”处批注已付清 PAID乙方（盖章）：某某建设有限公司日期：2026年12月5日" ||
			c.Spots[1] != "盖章处 2：文字“丙方（盖章）”处文件中没有找到文字“丙方（盖章）”：无法在此处盖章，确认后将失败。" {
			t.Errorf("contract spots %q", c.Spots)
		}
		if len(c.Near) != 1 || c.Near[0] != "乙方（盖章）：某某建设有限公司" {
			t.Errorf("nearest lines %q", c.Near)
		}
		if b.Name != "扫描件.pdf" || b.First != "第 1 页开头此页无可读文字（可能是扫描件或图片）。" || len(b.Spots) != 1 ||
			b.Spots[0] != "盖章处 1：第 1 页 · x 150 / y 240 mm此页无可读文字（可能是扫描件或图片）。" {
			t.Errorf("scanned PDF %+v", b)
		}
		// The override is a marker, never the character itself.
		if eval[bool](p.tab, `document.getElementById('app').textContent.indexOf('\u202e') >= 0`) {
			t.Error("the page holds the right-to-left override itself")
		}
		if got := p.txt("ft-hidden-note"); !strings.Contains(got, "[U+…]") {
			t.Errorf("hidden-character note %q", got)
		}
		// The stamp's line, and no other, is marked as an annotation's.
		if got := eval[[]string](p.tab, `Array.prototype.map.call(document.querySelectorAll('[data-annot]'), function (l) {
  return l.querySelector('[data-t=ft-annot]').textContent + '|' + l.lastChild.textContent;
})`); strings.Join(got, " ") != "批注|已付清 PAID" {
			t.Errorf("annotation lines %q", got)
		}
		if got := p.txt("ft-annot-note"); !strings.Contains(got, "批注") || !strings.Contains(got, "蓝色虚线框") {
			t.Errorf("annotation note %q", got)
		}
		// The nearest line is on screen once scrolled to, not folded.
		p.center("[data-t=ft-near]")
		if !eval[bool](p.tab, `(function () {
  var n = document.querySelector('[data-t=ft-near]'), r = n.getBoundingClientRect();
  return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight && !n.closest('details:not([open])');
})()`) {
			t.Error("the nearest line is not visible")
		}
		noOverflow320(t, p, "the gateway's reading")
		p.shot("file-text-near")
		// The sketches: folded, one under the first spot of each page.
		if got := eval[[]string](p.tab, `Array.prototype.map.call(document.querySelectorAll('[data-t=ft-sketch]'), function (s) {
  return s.closest('[data-t=ft-doc]').querySelector('.doc-name').textContent + ' ' + s.dataset.page + ' ' + s.open + ' ' + s.querySelector('summary').textContent;
})`); strings.Join(got, "|") != "政府采购合同.pdf 2 false 第 2 页草图|扫描件.pdf 1 false 第 1 页草图" {
			t.Errorf("sketches %q", got)
		}
		p.center("[data-t=ft-sketch] summary")
		p.tap("[data-t=ft-sketch] summary")
		p.wait(`(function () { var i = document.querySelector('[data-t=ft-sketch][open] img'); return !!i && i.complete && i.naturalWidth > 500 && i.getBoundingClientRect().width > 200; })()`, "the page sketch drawn")
		// The stamp's words in the sketch: blue, boxed.
		if got := eval[string](p.tab, `decodeURIComponent(document.querySelector('[data-t=ft-sketch][open] img').src.split(',')[1])`); strings.Count(got, `data-annot="1"`) != 2 || !strings.Contains(got, `fill="#1d4ed8" data-annot="1" textLength`) || !strings.Contains(got, `>已付清 PAID</text>`) {
			t.Errorf("the sketch does not mark the stamp: %s", got)
		}
		noOverflow320(t, p, "the open sketch")
		p.center("[data-t=ft-sketch-img]")
		p.shot("file-text-sketch")
		p.center("file-text-label")
		p.shot("file-text-top")
		p.center("[data-t=ft-doc]:nth-of-type(2)")
		p.shot("file-text-scanned")
		p.center("[data-t=ft-annot-note]")
		p.shot("file-text-notes")
		p.axe("the gateway's reading at 320 px")
		p.tap("lang")
		p.wait(`document.documentElement.lang === 'en' && document.querySelector('[data-t=file-text-label]').textContent === 'Read from the file by the gateway'`, "the English screen")
		if got := eval[string](p.tab, `document.querySelector('[data-t=ft-no-text]').textContent`); got != "No readable text on this page (a scan or a picture?)." {
			t.Errorf("English no-text %q", got)
		}
		if got := p.txt("ft-annot"); got != "Annotation" {
			t.Errorf("English annotation mark %q", got)
		}
		noOverflow320(t, p, "the English reading")
		p.center("[data-t=ft-near]")
		p.shot("file-text-en")
		p.axe("the English reading at 320 px")
		p.tap("lang")
		p.wait(`document.documentElement.lang === 'zh-CN'`, "the Chinese screen")
		p.tap("reject")
		p.waitView("rejected")
	})
}

// noOverflow320 fails the test if anything on the page reaches past the
// right edge of the screen.
func noOverflow320(t *testing.T, p *handset, what string) {
	t.Helper()
	if wide := eval[string](p.tab, `(function () {
  var w = document.documentElement.clientWidth, out = [];
  if (document.documentElement.scrollWidth > w) { out.push('page ' + document.documentElement.scrollWidth + ' > ' + w); }
  document.querySelectorAll('#app *').forEach(function (e) {
    var r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > w + 0.5) { out.push((e.dataset.t || e.className || e.tagName) + ' ends at ' + Math.round(r.right)); }
  });
  return out.slice(0, 5).join('; ');
})()`); wide != "" {
		t.Errorf("%s: wider than the screen: %s", what, wide)
	}
}

// contractSealer is a user enrolled with certificates on a 320 px phone
// (screenshots named shots), who holds the contract seal drawn as pic,
// and the procurement portal that asks them to seal: the set-up of the
// tests of what the phone reads in a document to be sealed.
func contractSealer(t *testing.T, w *world, name, shots string, pic []byte) (*handset, *operator.Seal, *portal.Client) {
	t.Helper()
	u := w.newUser(t, name)
	p := w.newNarrowPhone(t, shots, "zh-CN,zh;q=0.9")
	step(t, p, "enroll with certificates", func(t *testing.T) {
		p.visit(u.link)
		p.enrollOnScreens("", pinA, true, false)
		p.waitView("home")
	})
	sl, err := w.operator().AddSeal(w.ctx(), operator.SealRequest{Owner: u.id, Name: "某某建设有限公司 合同专用章", Kind: "contract",
		ImagePNG: pic, WidthMM: 40, HeightMM: 40, Issuer: "sm2"})
	if err != nil {
		t.Fatal(err)
	}
	app := w.addApp("政府采购平台", "https://zfcg.example")
	return p, sl, &portal.Client{BaseURL: w.ts.URL, AppKey: app.APIKey, Origin: "https://zfcg.example"}
}
