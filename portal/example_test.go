package portal_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ukeygate/ukeygate/portal"
)

// A portal backend's login: create the session, let the browser widget show
// it, wait for the user (here from the backend), and verify the result
// before trusting it.
func Example_login() {
	gw := &portal.Client{BaseURL: "https://ukey.example.com", AppKey: os.Getenv("UKEYGATE_APP_KEY")}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	s, err := gw.CreateSession(ctx, portal.SessionRequest{
		Kind:    portal.KindLogin,
		Display: portal.Display{Title: "登录 阳光采购平台", Summary: "扫码登录"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Hand s (id, code, qr, watch) to the widget as JSON here.
	ev, err := gw.Wait(ctx, s)
	if err != nil || ev.State != portal.StateCompleted {
		fmt.Println("no login:", err)
		return
	}
	res, err := ev.Login()
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := portal.VerifyLogin(res, portal.LoginExpect{Session: s.ID, App: "app-bids", Origin: "https://bid.example.com"})
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	vr, err := gw.Verify(ctx, portal.VerifyRequest{Data: res.Challenge, Signature: res.Signature, CertificatePEM: res.CertificatePEM})
	if err != nil || !vr.Valid {
		fmt.Println("certificate not accepted")
		return
	}
	fmt.Println("welcome,", v.Certificate.Subject.CommonName)
}
