package browser_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The phone web app's tests drive it in Chromium as a phone: a 390×844
// touch screen (device pixel ratio 2), an Android Chrome user agent, and a
// language the app must follow. Each phone is a browser context of its own
// (its own IndexedDB: its own device key).

const (
	phoneUA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) " +
		"Chrome/156.0.0.0 Mobile Safari/537.36"
	phoneW, phoneH = 390, 844
	// phoneTimeout guards one phone's whole story (several flows in a
	// row on a slow shared machine); deskTimeout one desktop page's
	// flows. Failure guards only.
	phoneTimeout = 12 * time.Minute
	deskTimeout  = 5 * time.Minute
)

// handset is one phone's browser tab.
type handset struct {
	*tab
	name string // for screenshots

	reqMu    sync.Mutex
	requests []string // every URL the page asked for
}

// newPhone opens a phone: a new browser context with mobile emulation,
// its Accept-Language (and so navigator.languages) set to acceptLang.
func (w *world) newPhone(t *testing.T, name, acceptLang string) *handset {
	t.Helper()
	tb := w.newTabIn(browserCtx, phoneTimeout, chromedp.WithNewBrowserContext())
	tb.t = t
	p := &handset{tab: tb, name: name}
	p.emulate(acceptLang)
	p.record()
	return p
}

// newNarrowPhone is newPhone on a 320 px wide screen (a small phone at
// twice the density), where long words and names must still fit.
func (w *world) newNarrowPhone(t *testing.T, name, acceptLang string) *handset {
	t.Helper()
	p := w.newPhone(t, name, acceptLang)
	if err := chromedp.Do(p.ctx, chromedp.EmulateViewport(320, 640,
		chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)); err != nil {
		t.Fatal(err)
	}
	return p
}

// record notes every request the tab sends (the app must reach nothing
// but the gateway).
func (p *handset) record() {
	reqs := chromedp.Events(p.ctx, network.RequestWillBeSent)
	go func() {
		for ev, err := range reqs {
			if err != nil {
				return
			}
			p.reqMu.Lock()
			p.requests = append(p.requests, ev.Request.URL)
			p.reqMu.Unlock()
		}
	}()
}

// onlyGateway fails the test if the tab asked any origin but the
// gateway's for anything.
func (p *handset) onlyGateway() {
	p.t.Helper()
	p.reqMu.Lock()
	defer p.reqMu.Unlock()
	if len(p.requests) == 0 {
		p.t.Error("no request recorded")
	}
	for _, u := range p.requests {
		if !strings.HasPrefix(u, p.w.url+"/") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "blob:") {
			p.t.Errorf("the page asked %s for something", u)
		}
	}
}

// sameBrowser opens another tab of the same phone (the same browser
// context: the same IndexedDB and device key).
func (p *handset) sameBrowser(t *testing.T, name, acceptLang string) *handset {
	t.Helper()
	tb := p.w.newTabIn(p.ctx, phoneTimeout)
	tb.t = t
	q := &handset{tab: tb, name: name}
	q.emulate(acceptLang)
	q.record()
	return q
}

func (p *handset) emulate(acceptLang string) {
	p.t.Helper()
	if _, err := chromedp.Call(p.ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
		UserAgent: phoneUA, AcceptLanguage: acceptLang, Platform: "Linux armv8l",
	}); err != nil {
		p.t.Fatal(err)
	}
	// Reduced motion: the app then skips its animations, so that a tap
	// never lands on a sheet still sliding in.
	if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}},
	}); err != nil {
		p.t.Fatal(err)
	}
	if err := chromedp.Do(p.ctx, chromedp.EmulateViewport(phoneW, phoneH,
		chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)); err != nil {
		p.t.Fatal(err)
	}
}

// use makes the phone report to t (a subtest) from now on.
func (p *handset) use(t *testing.T) { p.t = t }

// visit opens url (absolute, or a path under the gateway) and waits for
// the app to be ready.
func (p *handset) visit(url string) {
	p.t.Helper()
	if strings.HasPrefix(url, "/") {
		url = p.w.url + url
	}
	if err := chromedp.Do(p.ctx, chromedp.Navigate(url)); err != nil {
		p.t.Fatalf("navigate %s: %v", url, err)
	}
	p.wait(`document.body.dataset.ready === '1'`, "the app to start")
}

// waitLong is wait with a longer guard, for a wait that includes a
// session's lifetime.
func (p *handset) waitLong(cond, what string, guard time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(guard)
	for {
		ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`!!(`+cond+`)`))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || p.ctx.Err() != nil {
			p.t.Fatalf("waiting %s for %s: %v\npage: %s", guard, what, err, p.state())
		}
		time.Sleep(200 * time.Millisecond) // polling interval, not a synchronisation
	}
}

// waitView waits for screen v and for no request in flight.
func (p *handset) waitView(v string) {
	p.t.Helper()
	p.wait(`document.body.dataset.view === `+jsString(v)+` && !document.body.dataset.busy`, "screen "+v)
}

// tap taps the element of data-t name (or a CSS selector starting with
// [ . # or containing a space) where the user would: at its centre, once
// it is on screen and nothing covers it.
func (p *handset) tap(name string) {
	p.t.Helper()
	s := jsString(sel(name))
	p.wait(`(function () {
  var e = document.querySelector(`+s+`);
  if (!e || e.disabled) { return false; }
  e.scrollIntoView({block: 'nearest'});
  var r = e.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
  if (r.width === 0 || y < 0 || y > innerHeight || x < 0 || x > innerWidth) { return false; }
  var hit = document.elementFromPoint(x, y);
  return !!hit && (hit === e || e.contains(hit));
})()`, "a tappable "+sel(name))
	xy := eval[[]float64](p.tab, `(function () { var r = document.querySelector(`+s+`).getBoundingClientRect();
  return [r.left + r.width / 2, r.top + r.height / 2]; })()`)
	if err := chromedp.Do(p.ctx, chromedp.MouseClickXY(xy[0], xy[1])); err != nil {
		p.t.Fatalf("tap %s: %v", name, err)
	}
}

func sel(name string) string {
	if strings.ContainsAny(name[:1], "[.#") || strings.Contains(name, " ") {
		return name
	}
	return "[data-t=" + jsString(name) + "]"
}

// has reports whether an element of data-t name is on the page.
func (p *handset) has(name string) bool {
	return eval[bool](p.tab, `document.querySelector(`+jsString(sel(name))+`) !== null`)
}

// txt is the text of the element of data-t name.
func (p *handset) txt(name string) string { return p.text(sel(name)) }

// waitSheet waits for the PIN keypad.
func (p *handset) waitSheet() {
	p.t.Helper()
	// The sheet slides in: a tap during the animation could miss its key.
	p.wait(`document.body.dataset.sheet === 'pin' && !document.querySelector('[data-t=pin-sheet] .spinner') &&
  document.querySelector('[data-t=pin-sheet] .sheet').getAnimations().every(function (a) { return a.playState === 'finished'; })`, "the PIN keypad")
}

// enterPIN types pin on the app's keypad and presses OK.
func (p *handset) enterPIN(pin string) {
	p.t.Helper()
	p.waitSheet()
	for _, d := range pin {
		p.tap(`[data-t=pin-sheet] [data-key="` + string(d) + `"]`)
	}
	if n := eval[string](p.tab, `document.querySelector('[data-t=pin-dots]').dataset.count`); n != fmt.Sprint(len(pin)) {
		p.t.Fatalf("the keypad shows %s digits after %d taps", n, len(pin))
	}
	p.tap(`[data-t=pin-ok]`)
}

// switchLang taps the language switch of the screen (name: its data-t)
// unless the app is in lang already (zh-CN or en), and waits for the app
// in lang.
func (p *handset) switchLang(name, lang string) {
	p.t.Helper()
	if eval[string](p.tab, `document.documentElement.lang`) == lang {
		return
	}
	p.tap(name)
	p.wait(`document.documentElement.lang === `+jsString(lang), "the app in "+lang)
}

// pinMessage waits for the keypad's message (after a refused PIN).
func (p *handset) pinMessage() string {
	p.t.Helper()
	p.wait(`document.body.dataset.sheet === 'pin' && document.querySelector('[data-t=pin-message]').textContent !== '' && !document.body.dataset.busy`, "the keypad's message")
	return p.txt("pin-message")
}

// shot saves a screenshot of what the phone shows (the visible screen:
// what the user sees) under the test's artifacts.
func (p *handset) shot(name string) {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatal(err)
	}
	path := filepath.Join(p.t.ArtifactDir(), p.name+"-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	if dir := os.Getenv("UKEYGATE_SHOTS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, p.name+"-"+name+".png"), png, 0o644)
	}
	p.t.Logf("screenshot %s", path)
}

// message is the sentence an outcome screen shows.
func (p *handset) message() string { return p.txt("message") }

// device is what the app keeps in IndexedDB, read by the page itself.
type storedDevice struct {
	DeviceID    string `json:"deviceId"`
	UserName    string `json:"userName"`
	Type        string `json:"type"`
	Extractable bool   `json:"extractable"`
	Alg         string `json:"alg"`
	Curve       string `json:"curve"`
	Usages      []string
}

func (p *handset) storedDevice() storedDevice {
	p.t.Helper()
	raw := eval[string](p.tab, `new Promise(function (resolve, reject) {
  var r = indexedDB.open('ukeygate');
  r.onerror = function () { reject(r.error); };
  r.onsuccess = function () {
    var tx = r.result.transaction('kv', 'readonly');
    var g = tx.objectStore('kv').get('device:/');
    g.onsuccess = function () {
      var d = g.result;
      resolve(JSON.stringify(d ? {deviceId: d.deviceId, userName: d.userName, type: d.privateKey.type,
        extractable: d.privateKey.extractable, alg: d.privateKey.algorithm.name, curve: d.privateKey.algorithm.namedCurve,
        usages: d.privateKey.usages} : {}));
    };
  };
})`)
	var d storedDevice
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		p.t.Fatal(err)
	}
	return d
}

// axe runs the vendored axe-core (testdata/axe) on the page and fails the
// test on any WCAG 2.0/2.1 A or AA violation.
func (p *handset) axe(screen string) {
	p.t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](string(src)+"\n;typeof axe === 'object'")); err != nil {
		p.t.Fatalf("loading axe-core: %v", err)
	}
	raw := eval[string](p.tab, `axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
  resultTypes: ['violations']}).then(function (r) {
  return JSON.stringify({n: r.passes.length, v: r.violations.map(function (v) {
    return {id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(function (n) { return n.target.join(' ') + ': ' + n.failureSummary; })};
  })});
})`)
	var res struct {
		N int `json:"n"`
		V []struct {
			ID, Impact, Help string
			Nodes            []string
		} `json:"v"`
	}
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		p.t.Fatal(err)
	}
	for _, v := range res.V {
		p.t.Errorf("axe on %s: %s (%s): %s\n  %s", screen, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
	}
	if res.N == 0 && len(res.V) == 0 {
		p.t.Errorf("axe on %s checked nothing", screen)
	}
}
