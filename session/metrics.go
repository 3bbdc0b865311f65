package session

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Service's Prometheus collectors; a nil *metrics (no
// Registerer) records nothing.
//
//	ukeygate_sessions_created_total{kind}
//	ukeygate_sessions_finished_total{kind,state,reason}  state: completed, rejected, failed, expired, cancelled
//	ukeygate_session_push_latency_seconds{state}         commit of an event → handed to a watcher
//	ukeygate_session_watchers                            open watchers on this node
//	ukeygate_session_watchers_dropped_total              watchers dropped for falling behind (0 since the hub coalesces into one slot; kept for dashboards)
type metrics struct {
	createdC  *prometheus.CounterVec
	finishedC *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	watchers  prometheus.Gauge
	droppedC  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		createdC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ukeygate_sessions_created_total",
			Help: "Scan sessions created, by kind.",
		}, []string{"kind"}),
		finishedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ukeygate_sessions_finished_total",
			Help: "Scan sessions that reached an end state, by kind, end state and failure reason.",
		}, []string{"kind", "state", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ukeygate_session_push_latency_seconds",
			Help:    "Time from the commit of a session event (e.g. the confirm) to its hand-over to a watcher on this node.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"state"}),
		watchers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ukeygate_session_watchers",
			Help: "Open session watchers (websocket and long-poll) on this node.",
		}),
		droppedC: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ukeygate_session_watchers_dropped_total",
			Help: "Session watchers dropped because they fell behind.",
		}),
	}
	var done []prometheus.Collector
	for _, c := range []prometheus.Collector{m.createdC, m.finishedC, m.latency, m.watchers, m.droppedC} {
		if err := reg.Register(c); err != nil {
			for _, d := range done {
				reg.Unregister(d)
			}
			return nil, fmt.Errorf("%w: session metrics: %w", ErrInvalidConfig, err)
		}
		done = append(done, c)
	}
	return m, nil
}

func (m *metrics) created(k Kind) {
	if m != nil {
		m.createdC.WithLabelValues(string(k)).Inc()
	}
}

func (m *metrics) finished(k Kind, s State, reason string) {
	if m != nil {
		m.finishedC.WithLabelValues(string(k), string(s), reason).Inc()
	}
}

func (m *metrics) pushed(s State, d time.Duration) {
	if m != nil {
		m.latency.WithLabelValues(string(s)).Observe(max(d, 0).Seconds())
	}
}

func (m *metrics) watcherOpened() {
	if m != nil {
		m.watchers.Inc()
	}
}

func (m *metrics) watcherClosed() {
	if m != nil {
		m.watchers.Dec()
	}
}

func (m *metrics) dropped() {
	if m != nil {
		m.droppedC.Inc()
	}
}
