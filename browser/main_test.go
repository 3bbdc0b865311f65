package browser_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "rewrite docs/img/demo-login.png from TestLogin")

// Timeouts: failure guards only, generous for a slow shared machine.
const (
	tabTimeout  = 90 * time.Second // one test's tab
	waitTimeout = 30 * time.Second // one wait for a page state
)

// browserCtx is the one browser of the package (each test opens its own
// tab in its own browser context); nil when noBrowser says why not.
var (
	browserCtx context.Context
	noBrowser  string
	// cameraFile is the browser's fake camera: a Y4M video it reads each
	// time a page opens the camera (phone_camera_test.go writes it).
	cameraFile string
)

// chromiumPaths are where Debian puts Chromium; the first skips the
// /usr/bin wrapper script.
var chromiumPaths = []string{"/usr/lib/chromium/chromium", "/usr/bin/chromium"}

func findChromium() string {
	if p := os.Getenv("UKEYGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range chromiumPaths {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// parallel is how many tests (and phone stories) run at once unless
// -parallel says otherwise: they wait on the browser and the gateway (other
// processes and goroutines), not on this test process's CPU, so more than
// GOMAXPROCS of them overlap their waits. Six rather than four: the
// package takes as long as its last long phone story (TestPhoneApp's,
// TestPhoneCosign, TestPhoneRegistration's), and with four slots some of
// them started only after a round of short tests. The test whose timing matters
// (TestWidgetCrossOriginErrors: how soon the widget gives up) runs before
// the others, its two cases beside each other only.
const parallel = 6

func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		if err := flag.Set("test.parallel", fmt.Sprint(parallel)); err != nil {
			fmt.Fprintln(os.Stderr, "browser:", err)
			os.Exit(1)
		}
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	exe := findChromium()
	if exe == "" {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "browser: chromium is required in CI (apt-get install chromium)")
			return 1
		}
		noBrowser = "chromium not installed (apt-get install chromium)"
		return m.Run()
	}
	// Chromium leaves files in TMPDIR and its profile in the user data
	// dir: give it scratch folders of its own.
	scratch, err := os.MkdirTemp("", "ukeygate-browser-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "browser:", err)
		return 1
	}
	defer os.RemoveAll(scratch)
	profile, tmp := scratch+"/profile", scratch+"/tmp"
	for _, d := range []string{profile, tmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			fmt.Fprintln(os.Stderr, "browser:", err)
			return 1
		}
	}
	cameraFile = scratch + "/camera.y4m"
	if err := writeBlankY4M(cameraFile); err != nil {
		fmt.Fprintln(os.Stderr, "browser:", err)
		return 1
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// The phone web app's camera: no permission prompt, frames from
		// cameraFile.
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-video-capture", cameraFile),
		chromedp.WindowSize(1280, 900),
		chromedp.Env("TMPDIR="+tmp),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	// The first Do starts the browser, tied to ctx (not to a timeout: the
	// browser must outlive it; go test -timeout guards a hang).
	if err := chromedp.Do(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "browser: starting %s: %v\n", exe, err)
		return 1
	}
	browserCtx = ctx
	return m.Run()
}
