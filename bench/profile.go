package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// Categories of a CPU profile's samples (ProfileReport), in table order.
const (
	CatKDF     = "kdf"        // the PIN key derivation (PBKDF2-HMAC-SM3)
	CatCrypto  = "crypto"     // other cryptography: SM2/RSA sign, verify, unwrap, key and certificate parsing, big numbers
	CatStorage = "storage"    // bbolt, the etcd client (gRPC, protobuf), package storage and the vault's sealing
	CatHTTP    = "http"       // net/http, gorilla/websocket, crypto/tls
	CatJSON    = "json"       // encoding/json
	CatLog     = "logging"    // log/slog, log, zap
	CatRuntime = "gc_runtime" // allocation, garbage collection, scavenger, scheduler, stack growth, the profiler
	CatOther   = "other"      // application code and everything else
)

// ProfileCategories lists the categories in the order reports show them.
var ProfileCategories = []string{CatKDF, CatCrypto, CatStorage, CatHTTP, CatJSON, CatLog, CatRuntime, CatOther}

// The classifier. A sample's stack is walked from the leaf (the running
// function) towards the root; the first frame that belongs to a category
// decides, and frames that are plumbing belong to none ("neutral": the
// rest of the standard library such as runtime helpers, sync, syscalls,
// net, bufio, fmt; the hash and block-cipher primitives SM3, SHA-2, HMAC,
// SM4, AES and GCM; the x/net, x/sys and x/text modules; our own
// MarshalJSON-style methods), so they take the category of the code that
// called them. A stack with no deciding frame is "other".
//
// Why neither a pure leaf rule nor the outermost frame: SM3 is the leaf of
// the PIN KDF, of SM2's message hashing and of the audit chain, and SM4 of
// both the key unwrap and the vault's sealing, so the leaf alone cannot
// tell them apart; and net/http's connection goroutine is the root of every
// handler, so the outermost frame would call everything HTTP. Walking up
// to the first recognised frame attributes hashing and ciphers to the
// operation that asked for them, and leaves HTTP only what net/http and
// the websocket library do themselves. Our own packages other than crypto,
// storage and vault decide "other" (the application's own work: handlers,
// the session state machine, audit, policy checks), so a hash the audit
// log computes is not counted as crypto.

// neutralPrefixes are packages whose frames decide nothing (see above).
var neutralPrefixes = []string{
	"github.com/emmansun/gmsm/sm3", "github.com/emmansun/gmsm/sm4", "github.com/emmansun/gmsm/cipher",
	"github.com/emmansun/gmsm/padding", "github.com/emmansun/gmsm/internal/sm3", "github.com/emmansun/gmsm/internal/sm4",
	"github.com/emmansun/gmsm/internal/subtle", "github.com/emmansun/gmsm/internal/alias",
	"github.com/emmansun/gmsm/internal/byteorder", "github.com/emmansun/gmsm/internal/deps",
	"crypto/sha1", "crypto/sha256", "crypto/sha512", "crypto/sha3", "crypto/md5", "crypto/hmac",
	"crypto/cipher", "crypto/aes", "crypto/subtle",
	"crypto/internal/fips140/sha256", "crypto/internal/fips140/sha512", "crypto/internal/fips140/sha3",
	"crypto/internal/fips140/hmac", "crypto/internal/fips140/aes", "crypto/internal/fips140/subtle",
	"crypto/internal/fips140deps", "crypto/internal/boring", "crypto/internal/impl", "crypto/internal/fips140only",
	"golang.org/x/net", "golang.org/x/sys", "golang.org/x/text", "golang.org/x/sync",
}

// categoryPrefixes map package path prefixes to categories; the longest
// matching prefix wins (crypto/tls over crypto/).
var categoryPrefixes = map[string]string{
	// KDF: the standard PBKDF2 that DerivePINKey ran until round 10 (and
	// the older x/crypto one), for profiles of older servers.
	"crypto/pbkdf2":                        CatKDF,
	"crypto/internal/fips140/pbkdf2":       CatKDF,
	"golang.org/x/crypto/pbkdf2":           CatKDF,
	"runtime/pprof":                        CatRuntime,
	"github.com/emmansun/gmsm":             CatCrypto,
	"github.com/tjfoc/gmsm":                CatCrypto,
	"filippo.io/bigmod":                    CatCrypto,
	"crypto":                               CatCrypto, // the standard library's crypto/… less the neutral ones
	"math/big":                             CatCrypto,
	"encoding/asn1":                        CatCrypto,
	"golang.org/x/crypto":                  CatCrypto,
	"github.com/ukeygate/ukeygate/crypto":  CatCrypto,
	"go.etcd.io/bbolt":                     CatStorage,
	"go.etcd.io/etcd":                      CatStorage,
	"google.golang.org/grpc":               CatStorage,
	"google.golang.org/protobuf":           CatStorage,
	"github.com/golang/protobuf":           CatStorage,
	"github.com/ukeygate/ukeygate/storage": CatStorage,
	"github.com/ukeygate/ukeygate/vault":   CatStorage,
	"net/http":                             CatHTTP,
	"crypto/tls":                           CatHTTP,
	"github.com/gorilla/websocket":         CatHTTP,
	"encoding/json":                        CatJSON,
	"github.com/go-json-experiment/json":   CatJSON,
	"log":                                  CatLog,
	"go.uber.org/zap":                      CatLog,
}

// kdfFuncs are functions that are the KDF whatever their package: the
// PIN derivation and its own PBKDF2 (with its closures and helpers).
var kdfFuncs = []string{
	"github.com/ukeygate/ukeygate/crypto.DerivePINKey", "github.com/ukeygate/ukeygate/crypto.pbkdf2HMACSM3",
	"github.com/ukeygate/ukeygate/crypto.keyedSM3", "github.com/ukeygate/ukeygate/crypto.restoreSM3",
	"github.com/ukeygate/ukeygate/crypto.wipeSM3",
}

// runtimeFuncs are the runtime functions that decide gc_runtime (other
// runtime frames, such as memmove, map and channel operations, are
// neutral and count for their caller). Prefixes of the name after
// "runtime.".
var runtimeFuncs = []string{
	"mallocgc", "gc", "bgsweep", "bgscavenge", "sweepone", "scanobject", "scanblock", "scanObject", "scanstack", "scanframeworker",
	"scanSpan", "markroot", "greyobject", "tryDeferToSpanScan", "wbBufFlush", "bulkBarrier",
	"(*gcWork)", "(*gcControllerState)", "(*scavengerState)", "(*mheap)", "(*mcache)", "(*mcentral)",
	"(*mspan)", "(*pageAlloc)", "(*sweepLocked)", "(*spanQueue)", "(*spanInlineMarkBits)", "(*gcBits)",
	"schedule", "findRunnable", "park_m", "goschedImpl", "gopreempt_m", "preemptPark", "newstack", "morestack",
	"copystack", "mstart", "sysmon", "stopTheWorld", "startTheWorld", "forEachP", "_",
}

// splitFunc splits a symbol such as "net/http.(*conn).serve" or
// "crypto/internal/fips140/pbkdf2.Key[...]" into its package path and the
// rest.
func splitFunc(name string) (pkg, fn string) {
	base := name
	if i := strings.IndexByte(base, '['); i >= 0 {
		base = base[:i] // type parameters may hold paths of their own
	}
	slash := strings.LastIndexByte(base, '/')
	dot := strings.IndexByte(base[slash+1:], '.')
	if dot < 0 {
		return base, ""
	}
	return base[:slash+1+dot], name[slash+1+dot+1:]
}

// hasPathPrefix reports whether pkg is prefix or a package under it.
func hasPathPrefix(pkg, prefix string) bool {
	return pkg == prefix || strings.HasPrefix(pkg, prefix+"/")
}

// FrameCategory is the category a single frame (a function's full symbol
// name) decides, or "" when it is neutral.
func FrameCategory(name string) string {
	for _, f := range kdfFuncs {
		if name == f || strings.HasPrefix(name, f+".") {
			return CatKDF
		}
	}
	pkg, fn := splitFunc(name)
	if pkg == "runtime" {
		for _, p := range runtimeFuncs {
			if strings.HasPrefix(fn, p) {
				return CatRuntime
			}
		}
		return ""
	}
	for _, p := range neutralPrefixes {
		if hasPathPrefix(pkg, p) {
			return ""
		}
	}
	best, cat := "", ""
	for p, c := range categoryPrefixes {
		if len(p) > len(best) && hasPathPrefix(pkg, p) {
			best, cat = p, c
		}
	}
	if cat != "" {
		return cat
	}
	if i := strings.LastIndexByte(fn, '.'); strings.HasPrefix(pkg, "github.com/ukeygate/ukeygate") {
		switch m := fn[i+1:]; m {
		case "MarshalJSON", "UnmarshalJSON", "MarshalText", "UnmarshalText":
			return "" // called by encoding/json: counted for its caller
		}
		return CatOther
	}
	first, _, _ := strings.Cut(pkg, "/")
	if !strings.Contains(first, ".") {
		return "" // the rest of the standard library is plumbing
	}
	return CatOther // other modules: QR codes, metrics, PDF, images, …
}

// ClassifyStack returns the category of a stack given leaf first (the
// first deciding frame; CatOther when none decides).
func ClassifyStack(funcs []string) string {
	c, _ := classify(funcs)
	return c
}

// classify is ClassifyStack that also returns the deciding frame ("" when
// none decided).
func classify(funcs []string) (cat, frame string) {
	for _, f := range funcs {
		if c := FrameCategory(f); c != "" {
			return c, f
		}
	}
	return CatOther, ""
}

// FrameShare is the CPU of the samples one frame decided.
type FrameShare struct {
	Frame      string  `json:"frame"`
	Samples    int64   `json:"samples"`
	PerSession float64 `json:"ms_per_session"`
}

// topFrames is how many deciding frames each category lists.
const topFrames = 5

// ProfileShare is one category's part of a CPU profile.
type ProfileShare struct {
	Category string `json:"category"`
	Samples  int64  `json:"samples"`
	// CPU is the category's CPU time in the profile.
	CPU Duration `json:"cpu_ms"`
	// PerSession is CPU divided by the sessions completed in the window,
	// in milliseconds.
	PerSession float64 `json:"ms_per_session"`
	// Share is CPU divided by the profile's whole CPU time.
	Share float64 `json:"share"`
	// Top are the frames that decided most of the category's samples
	// (at most 5, most CPU first; "(none)" for stacks where no frame
	// decided).
	Top []FrameShare `json:"top,omitempty"`
}

// ProfileReport is a server CPU profile taken over a steady run,
// classified (ClassifyStack) and divided by the sessions completed while
// it was taken.
type ProfileReport struct {
	// Window is the profile's own duration; Sessions the sessions that
	// completed inside it.
	Window   Duration `json:"window_ms"`
	Sessions int      `json:"sessions"`
	Samples  int64    `json:"samples"`
	// CPU is the whole profile's CPU time; PerSession it divided by
	// Sessions, in ms.
	CPU        Duration       `json:"cpu_ms"`
	PerSession float64        `json:"ms_per_session"`
	Categories []ProfileShare `json:"categories"`
}

// Category returns the named category's share (zero if absent).
func (r *ProfileReport) Category(name string) ProfileShare {
	for _, c := range r.Categories {
		if c.Category == name {
			return c
		}
	}
	return ProfileShare{Category: name}
}

// ClassifyProfile sorts every sample of a Go CPU profile into a category
// and divides the CPU time by sessions (0 leaves the per-session figures
// at 0). It refuses a profile that is not a CPU profile.
func ClassifyProfile(p *profile.Profile, sessions int) (*ProfileReport, error) {
	vi := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" && st.Unit == "nanoseconds" {
			vi = i
		}
	}
	if vi < 0 {
		return nil, fmt.Errorf("%w: not a CPU profile (no cpu/nanoseconds sample type)", ErrProfile)
	}
	count := -1
	for i, st := range p.SampleType {
		if st.Type == "samples" && st.Unit == "count" {
			count = i
		}
	}
	idx := map[string]int{}
	for i, c := range ProfileCategories {
		idx[c] = i
	}
	shares := make([]ProfileShare, len(ProfileCategories))
	for i, c := range ProfileCategories {
		shares[i].Category = c
	}
	var total time.Duration
	var samples int64
	var funcs []string
	type frameKey struct {
		cat   int
		frame string
	}
	byFrame := map[frameKey][2]int64{} // samples, CPU
	for _, s := range p.Sample {
		funcs = funcs[:0]
		for _, loc := range s.Location {
			for _, ln := range loc.Line { // innermost inlined function first
				if ln.Function != nil {
					funcs = append(funcs, ln.Function.Name)
				}
			}
		}
		n := int64(1)
		if count >= 0 {
			n = s.Value[count]
		}
		v := time.Duration(s.Value[vi])
		cat, frame := classify(funcs)
		if frame == "" {
			frame = "(none)"
		}
		k := frameKey{idx[cat], frame}
		fv := byFrame[k]
		byFrame[k] = [2]int64{fv[0] + n, fv[1] + int64(v)}
		sh := &shares[idx[cat]]
		sh.Samples += n
		sh.CPU += Duration(v)
		total += v
		samples += n
	}
	r := &ProfileReport{Window: Duration(p.DurationNanos), Sessions: sessions, Samples: samples, CPU: Duration(total)}
	perSession := func(d Duration) float64 {
		if sessions <= 0 {
			return 0
		}
		return float64(d) / float64(time.Millisecond) / float64(sessions)
	}
	r.PerSession = perSession(r.CPU)
	tops := make([][]FrameShare, len(shares))
	cpus := map[frameKey]int64{}
	for k, fv := range byFrame {
		tops[k.cat] = append(tops[k.cat], FrameShare{Frame: k.frame, Samples: fv[0], PerSession: perSession(Duration(fv[1]))})
		cpus[k] = fv[1]
	}
	for i, t := range tops {
		slices.SortFunc(t, func(a, b FrameShare) int {
			if c := cmp.Compare(cpus[frameKey{i, b.Frame}], cpus[frameKey{i, a.Frame}]); c != 0 {
				return c
			}
			return strings.Compare(a.Frame, b.Frame)
		})
		shares[i].Top = t[:min(len(t), topFrames)]
	}
	for i := range shares {
		shares[i].PerSession = perSession(shares[i].CPU)
		if total > 0 {
			shares[i].Share = float64(shares[i].CPU) / float64(total)
		}
	}
	r.Categories = shares
	return r, nil
}

// maxProfileBytes bounds a fetched profile.
const maxProfileBytes = 256 << 20

// ProfileURL is the /debug/pprof/profile URL of base for a profile of
// seconds: base may be the pprof listener's root ("http://127.0.0.1:6060")
// or the profile URL itself; its seconds parameter is replaced.
func ProfileURL(base string, seconds int) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return "", fmt.Errorf("%w: cpuprofile_from: %q is not an http(s) URL without credentials", ErrInvalidConfig, base)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/debug/pprof/profile"
	}
	q := u.Query()
	q.Set("seconds", strconv.Itoa(seconds))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// FetchCPUProfile asks a profile URL (ProfileURL) for a CPU profile and
// returns its raw bytes (gzipped protobuf, as net/http/pprof writes it)
// and the parsed profile. It answers after the profile's seconds.
func FetchCPUProfile(ctx context.Context, profileURL string) ([]byte, *profile.Profile, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, profileURL, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrProfile, err)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrProfile, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxProfileBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: reading %s: %w", ErrProfile, profileURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%w: %s answered %s: %.200s", ErrProfile, profileURL, resp.Status, raw)
	}
	if len(raw) > maxProfileBytes {
		return nil, nil, fmt.Errorf("%w: %s: profile larger than %d bytes", ErrProfile, profileURL, maxProfileBytes)
	}
	p, err := profile.ParseData(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrProfile, profileURL, err)
	}
	return raw, p, nil
}

// WriteText prints the classified profile as a table.
func (r *ProfileReport) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "server CPU profile: %d samples, %.1f s of CPU in a %.1f s window, %d sessions completed in it: %.2f ms of CPU per session\n",
		r.Samples, time.Duration(r.CPU).Seconds(), time.Duration(r.Window).Seconds(), r.Sessions, r.PerSession)
	fmt.Fprintf(w, "  %-11s %8s %10s %7s\n", "category", "samples", "ms/session", "share")
	for _, c := range r.Categories {
		fmt.Fprintf(w, "  %-11s %8d %10.3f %6.1f%%\n", c.Category, c.Samples, c.PerSession, 100*c.Share)
	}
	_, err := fmt.Fprintln(w, "  (each sample counts for the first category walking its stack from the leaf up; docs/benchmarks.md)")
	return err
}

// WriteTop prints, for each category with samples, the frames that
// decided most of them.
func (r *ProfileReport) WriteTop(w io.Writer) error {
	for _, c := range r.Categories {
		if c.Samples == 0 {
			continue
		}
		fmt.Fprintf(w, "%s (%d samples):\n", c.Category, c.Samples)
		for _, f := range c.Top {
			if _, err := fmt.Fprintf(w, "  %8d %10.3f ms/session  %s\n", f.Samples, f.PerSession, f.Frame); err != nil {
				return err
			}
		}
	}
	return nil
}
