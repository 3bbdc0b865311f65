package pdfcorpus

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Contract's keywords: each once in the document, on its last page.
const (
	// KeywordZH is where the supplier seals, in Chinese.
	KeywordZH = "乙方（盖章）"
	// KeywordEN is the same place in English.
	KeywordEN = "Signature of the Supplier"
)

// ContractHTML is a procurement contract of rows priced items (a table
// that runs over several pages), in Chinese and English, with the
// signature block on a page of its own at the end. The text is set in
// the machine's CJK font (fonts-wqy-zenhei) and serif for the English
// clauses, black on white (the seal tests look for red pixels).
func ContractHTML(rows int) string {
	var b strings.Builder
	b.WriteString(`<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>政府采购合同</title><style>
@page { size: A4; margin: 20mm 18mm; }
body { font-family: "WenQuanYi Zen Hei", sans-serif; font-size: 11pt; color: #000; }
h1 { font-size: 18pt; text-align: center; }
.en { font-family: "DejaVu Serif", serif; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #000; padding: 3px 6px; }
td.n { text-align: right; }
.sign { page-break-before: always; }
</style></head><body>
<h1>政府采购合同 Government Procurement Contract</h1>
<p>合同编号：ZC-2026-017 Contract No. ZC-2026-017</p>
<p>甲方（采购人）：某某市公共资源交易中心 Buyer: Municipal Public Resources Trading Centre</p>
<p>乙方（供应商）：某某建设有限公司 Supplier: Example Construction Co., Ltd.</p>
<p class="en">The Buyer and the Supplier agree to the terms below. The “quoted” prices are firm and final — no further discount.</p>
<table><thead><tr><th>序号 No.</th><th>货物名称 Goods</th><th>数量 Qty</th><th>单价 Unit price</th></tr></thead><tbody>
`)
	goods := []string{"服务器 Server", "交换机 Switch", "防火墙 Firewall", "存储阵列 Storage", "不间断电源 UPS", "机柜 Rack"}
	for i := 1; i <= rows; i++ {
		fmt.Fprintf(&b, "<tr><td>%d</td><td>%s</td><td class=n>%d</td><td class=n>%d,%03d.00</td></tr>\n", i, goods[i%len(goods)], 1+i%7, 1+i%9, (i*137)%1000)
	}
	b.WriteString(`</tbody></table>
<p>第九条 质量保证：乙方保证所供货物是全新的、未使用过的。</p>
<p class="en">Article 9 Warranty: the Supplier warrants that the goods are new and unused.</p>
<div class="sign">
<p>第十条 其他 Article 10 Miscellaneous</p>
<p>本合同一式四份，双方各执两份。</p>
<p>甲方（盖章）：某某市公共资源交易中心</p>
<p>` + KeywordZH + `：某某建设有限公司</p>
<p class="en">` + KeywordEN + ` (seal): Example Construction Co., Ltd.</p>
<p>日期：2026年12月5日 Date: 5 December 2026</p>
</div></body></html>
`)
	return b.String()
}

// PrintToPDF prints html to PDF in a new tab of the browser of ctx (a
// chromedp context), as the page's print to PDF does: A4, no header or
// footer, the page's own @page size. The page is served over loopback
// with an explicit text/html type.
func PrintToPDF(ctx context.Context, html string) ([]byte, error) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, html)
	}))
	defer srv.Close()
	tab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL)); err != nil {
		return nil, fmt.Errorf("pdfcorpus: open the page: %w", err)
	}
	yes := true
	pdf, err := chromedp.Run(tab, func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		r, err := cdp.Call(ctx, t, page.PrintToPDF, page.PrintToPDFParams{PaperWidth: 210 / 25.4, PaperHeight: 297 / 25.4, PreferCSSPageSize: &yes})
		return r.Data, err
	})
	if err != nil {
		return nil, fmt.Errorf("pdfcorpus: print to PDF: %w", err)
	}
	return pdf, nil
}
