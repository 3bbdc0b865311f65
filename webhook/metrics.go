package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the Service; a nil *metrics records nothing.
//
//	ukeygate_webhook_deliveries_queued              pending deliveries (the whole outbox, read at scrape)
//	ukeygate_webhook_oldest_pending_age_seconds     age of the oldest pending delivery (0: none)
//	ukeygate_webhook_deliveries_delivered_total     acknowledged by this node's attempts
//	ukeygate_webhook_deliveries_failed_total        given up by this node
//	ukeygate_webhook_attempts_total{outcome}        ok, http_error, timeout, refused, not_allowed, error
//	ukeygate_webhook_sender                         1 on the node that sends
type metrics struct {
	deliveredC prometheus.Counter
	failedC    prometheus.Counter
	attempts   *prometheus.CounterVec
	sender     prometheus.Gauge
}

// outbox is the scrape-time collector of the queue's size and age.
type outbox struct {
	s      *Service
	queued *prometheus.Desc
	oldest *prometheus.Desc
}

func (o *outbox) Describe(ch chan<- *prometheus.Desc) { ch <- o.queued; ch <- o.oldest }

func (o *outbox) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(o.s.ctx, 2*time.Second)
	defer cancel()
	kvs, _, err := o.s.store.List(ctx, pendingPrefix)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(o.queued, err)
		ch <- prometheus.NewInvalidMetric(o.oldest, err)
		return
	}
	age := 0.0
	now := o.s.now()
	for _, kv := range kvs {
		if ref, err := decode[pendingRef](kv); err == nil {
			age = max(age, now.Sub(ref.CreatedAt).Seconds())
		}
	}
	ch <- prometheus.MustNewConstMetric(o.queued, prometheus.GaugeValue, float64(len(kvs)))
	ch <- prometheus.MustNewConstMetric(o.oldest, prometheus.GaugeValue, age)
}

func newMetrics(reg prometheus.Registerer, s *Service) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		deliveredC: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ukeygate_webhook_deliveries_delivered_total",
			Help: "Webhook deliveries acknowledged (2xx) by this node's attempts.",
		}),
		failedC: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ukeygate_webhook_deliveries_failed_total",
			Help: "Webhook deliveries given up by this node (retry period over, or webhook removed).",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ukeygate_webhook_attempts_total",
			Help: "Webhook delivery attempts of this node, by outcome.",
		}, []string{"outcome"}),
		sender: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ukeygate_webhook_sender",
			Help: "1 when this node holds the webhook sender lease.",
		}),
	}
	ob := &outbox{s: s,
		queued: prometheus.NewDesc("ukeygate_webhook_deliveries_queued", "Webhook deliveries pending in the outbox (all nodes).", nil, nil),
		oldest: prometheus.NewDesc("ukeygate_webhook_oldest_pending_age_seconds", "Age of the oldest pending webhook delivery (0 when none).", nil, nil),
	}
	var done []prometheus.Collector
	for _, c := range []prometheus.Collector{m.deliveredC, m.failedC, m.attempts, m.sender, ob} {
		if err := reg.Register(c); err != nil {
			for _, d := range done {
				reg.Unregister(d)
			}
			return nil, fmt.Errorf("%w: webhook metrics: %w", ErrInvalidConfig, err)
		}
		done = append(done, c)
	}
	return m, nil
}

func (m *metrics) delivered() {
	if m != nil {
		m.deliveredC.Inc()
	}
}

func (m *metrics) failed() {
	if m != nil {
		m.failedC.Inc()
	}
}

func (m *metrics) setSender(on bool) {
	if m != nil {
		v := 0.0
		if on {
			v = 1
		}
		m.sender.Set(v)
	}
}

func (m *metrics) attempt(status int, errText string) {
	if m == nil {
		return
	}
	outcome := "error"
	switch {
	case status >= 200 && status < 300:
		outcome = "ok"
	case status != 0:
		outcome = "http_error"
	case errText == outcomeTimeout:
		outcome = "timeout"
	case errText == outcomeRefused:
		outcome = "refused"
	case errText == outcomeTarget:
		outcome = "not_allowed"
	}
	m.attempts.WithLabelValues(outcome).Inc()
}
