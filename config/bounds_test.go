package config_test

import (
	"testing"

	"github.com/ukeygate/ukeygate/api"
	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/session"
)

// TestBoundsAgree: the bounds config checks are the ones the packages
// enforce (config imports neither, so a drift would let a file pass here
// and fail at start, or the other way round), and the defaults agree.
func TestBoundsAgree(t *testing.T) {
	sd := session.DefaultConfig()
	cd := config.Default()
	for _, c := range []struct {
		name      string
		got, want int64
	}{
		{"MaxPollWait", int64(config.MaxPollWait), int64(api.MaxPollWait)},
		{"MinSessionRetention", int64(config.MinSessionRetention), int64(session.MinRetention)},
		{"MaxSessionRetention", int64(config.MaxSessionRetention), int64(session.MaxRetention)},
		{"MinMaxDataBytes", config.MinMaxDataBytes, session.MinMaxDataBytes},
		{"MaxMaxDataBytes", config.MaxMaxDataBytes, session.MaxMaxDataBytes},
		{"default session.retention", int64(cd.Session.Retention), int64(sd.Retention)},
		{"default session.max_data_bytes", cd.Session.MaxDataBytes, int64(sd.MaxDataBytes)},
	} {
		if c.got != c.want {
			t.Errorf("%s: config says %d, the package %d", c.name, c.got, c.want)
		}
	}
	// Every value config accepts, the session package accepts too.
	for _, n := range []int64{config.MinMaxDataBytes, config.MaxMaxDataBytes} {
		s := session.DefaultConfig()
		s.MaxDataBytes = int(n)
		s.Retention = config.MaxSessionRetention
		s.ResultKey = nil
		if err := s.Validate(); err != nil {
			t.Errorf("max_data_bytes %d, retention %s: config accepts, session refuses: %v", n, s.Retention, err)
		}
	}
}
