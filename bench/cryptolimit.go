package bench

import (
	"bytes"
	"crypto"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"

	gmcrypto "github.com/ukeygate/ukeygate/crypto"
	"github.com/ukeygate/ukeygate/protocol"
)

// The crypto limit of a flow is the rate at which this machine could run
// nothing but the flow's cryptography, every core busy: per session, the
// two device-signature verifications (scan and confirm), the PIN key
// derivation (at the gateway's cost: the security margin), the unwrap of
// the credential key, its parse and one signature. A run's Throughput
// divided by it says how much the gateway spends beyond the crypto.
//
// CryptoWork does exactly those steps once; MeasureCryptoLimit runs it on
// every CPU at once and counts what they complete (and, for reference,
// times it on one goroutine: scaling that by the CPUs assumes the cores
// scale perfectly; on the quiet 2-core VM of docs/benchmarks.md the two
// agree within 1 %, with anything else running the scaled one is higher);
// BenchmarkCryptoLimit measures the same with the testing package.

// CryptoWork is the cryptography of one session of a flow, ready to run.
type CryptoWork struct {
	devKey  crypto.Signer
	devReq  *http.Request
	devBody []byte
	master  []byte
	salt    []byte
	pin     string
	wrapped []byte
	ad      []byte
	msg     []byte
}

// NewCryptoWork prepares the crypto of a session of alg ("SM2", "RSA"):
// a device key and a signed request, a PIN-wrapped credential key and a
// login challenge to sign.
func NewCryptoWork(alg string) (*CryptoWork, error) {
	dev, err := gmcrypto.GenerateKey(gmcrypto.AlgSM2, 0)
	if err != nil {
		return nil, err
	}
	bits := 0
	if alg == AlgRSA {
		bits = 2048
	}
	key, err := gmcrypto.GenerateKey(gmcrypto.Alg(alg), bits)
	if err != nil {
		return nil, err
	}
	der, err := gmcrypto.MarshalPrivateKey(key)
	if err != nil {
		return nil, err
	}
	master, err := gmcrypto.RandomBytes(32)
	if err != nil {
		return nil, err
	}
	salt, err := gmcrypto.RandomBytes(gmcrypto.MinSaltLen)
	if err != nil {
		return nil, err
	}
	w := &CryptoWork{devKey: dev, master: master, salt: salt, pin: "246813", ad: []byte("credentials/cred_bench"),
		msg: bytes.Repeat([]byte("ukeygate login challenge "), 8)}
	pk, err := gmcrypto.DerivePINKey(master, salt, w.pin)
	if err != nil {
		return nil, err
	}
	defer gmcrypto.Zero(pk)
	if w.wrapped, err = gmcrypto.Wrap(pk, der, w.ad); err != nil {
		return nil, err
	}
	w.devBody = []byte(`{"credential":"cred_bench","pin":"246813","code":"42"}`)
	w.devReq, err = http.NewRequest(http.MethodPost, "http://gw.test/v1/sessions/s1/confirm", bytes.NewReader(w.devBody))
	if err != nil {
		return nil, err
	}
	if err := protocol.SignRequest(w.devReq, w.devBody, "dev_bench", dev, time.Now()); err != nil {
		return nil, err
	}
	return w, nil
}

// Run does one session's cryptography.
func (w *CryptoWork) Run() error {
	for range 2 { // scan and confirm are signed device requests
		h, err := protocol.ParseDeviceHeaders(w.devReq.Header)
		if err != nil {
			return err
		}
		if err := h.Verify(w.devKey.Public(), w.devReq.Method, w.devReq.URL.RequestURI(), w.devBody); err != nil {
			return err
		}
	}
	pk, err := gmcrypto.DerivePINKey(w.master, w.salt, w.pin)
	if err != nil {
		return err
	}
	der, err := gmcrypto.Unwrap(pk, w.wrapped, w.ad)
	gmcrypto.Zero(pk)
	if err != nil {
		return err
	}
	key, err := gmcrypto.ParsePrivateKey(der)
	gmcrypto.Zero(der)
	if err != nil {
		return err
	}
	defer gmcrypto.ZeroKey(key)
	_, err = gmcrypto.Sign(key, w.msg, nil)
	return err
}

// CryptoLimit is a flow's crypto limit as measured by MeasureCryptoLimit.
type CryptoLimit struct {
	// PerSession is the time of one session's crypto on one core while
	// every core runs it (CPUs / SessionsPerSecond).
	PerSession Duration `json:"per_session_ms"`
	// CPUs is the number of CPUs that ran it at once.
	CPUs int `json:"cpus"`
	// SessionsPerSecond is the sessions' crypto completed per second with
	// every core busy: the limit.
	SessionsPerSecond float64 `json:"sessions_per_second"`
	// OneCore is the time of one session's crypto with one core busy;
	// OneCoreScaled is CPUs / OneCore, the limit if the cores scaled
	// perfectly (what this field's limit was before round 9: higher than
	// the measured one where the cores share caches, power or a host).
	OneCore       Duration `json:"one_core_ms"`
	OneCoreScaled float64  `json:"one_core_scaled_per_second"`
	// Timed lists each timing's limit (sessions/s) when the figures above
	// are the mean of several (before and after a long load).
	Timed []float64 `json:"timed_per_second,omitempty"`
}

// meanLimit is the mean of two timings of the same flow's limit.
func meanLimit(a, b CryptoLimit) CryptoLimit {
	rate := (a.SessionsPerSecond + b.SessionsPerSecond) / 2
	one := (time.Duration(a.OneCore) + time.Duration(b.OneCore)) / 2
	l := newLimit(a.CPUs, rate, one)
	l.Timed = []float64{a.SessionsPerSecond, b.SessionsPerSecond}
	return l
}

// MeasureCryptoLimit times CryptoWork of alg on one goroutine for about
// d/2 (at least 5 sessions), then on runtime.NumCPU goroutines at once
// for about d: the limit is what every core together completes.
func MeasureCryptoLimit(alg string, d time.Duration) (CryptoLimit, error) {
	cpus := runtime.NumCPU()
	works := make([]*CryptoWork, cpus)
	for i := range works {
		w, err := NewCryptoWork(alg)
		if err != nil {
			return CryptoLimit{}, fmt.Errorf("crypto limit: %w", err)
		}
		if err := w.Run(); err != nil { // warm up
			return CryptoLimit{}, fmt.Errorf("crypto limit: %w", err)
		}
		works[i] = w
	}
	// One core.
	n, start := 0, time.Now()
	for n < 5 || time.Since(start) < d/2 {
		if err := works[0].Run(); err != nil {
			return CryptoLimit{}, fmt.Errorf("crypto limit: %w", err)
		}
		n++
	}
	one := time.Since(start) / time.Duration(n)
	// Every core at once.
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
		first error
	)
	start = time.Now()
	for _, w := range works {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := 0
			var err error
			for k < 5 || time.Since(start) < d {
				if err = w.Run(); err != nil {
					break
				}
				k++
			}
			mu.Lock()
			total += k
			if err != nil && first == nil {
				first = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if first != nil {
		return CryptoLimit{}, fmt.Errorf("crypto limit: %w", first)
	}
	rate := float64(total) / elapsed.Seconds()
	return newLimit(cpus, rate, one), nil
}

// newLimit is the limit of rate sessions/s on cpus CPUs at once, with the
// one-core time one.
func newLimit(cpus int, rate float64, one time.Duration) CryptoLimit {
	return CryptoLimit{
		PerSession: Duration(time.Duration(float64(cpus) / rate * float64(time.Second))), CPUs: cpus, SessionsPerSecond: rate,
		OneCore: Duration(one), OneCoreScaled: float64(cpus) / one.Seconds(),
	}
}
