package testkit

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// EtcdCounters are the etcd server's own counts of what its clients cost
// it, read from its /metrics (etcd 3.4 names).
type EtcdCounters struct {
	// Proposals committed through raft: every write transaction (also one
	// whose comparisons fail), lease grant and lease revocation.
	Proposals float64
	// Ranges: key reads inside etcd (each Get and List, each comparison
	// of a transaction and each read in one).
	Ranges float64
	// Txns: read-only transactions.
	Txns float64
	// RangeRPCs and TxnRPCs: the client's round trips (Get/List calls, and
	// transactions of any kind).
	RangeRPCs, TxnRPCs float64
	// LeaseGrants and LeaseRevokes (an ended lease is revoked by the leader).
	LeaseGrants, LeaseRevokes float64
	// CPUSeconds is the CPU time the etcd process has used.
	CPUSeconds float64
}

// Sub returns c − before, field by field.
func (c EtcdCounters) Sub(before EtcdCounters) EtcdCounters {
	return EtcdCounters{
		Proposals:    c.Proposals - before.Proposals,
		Ranges:       c.Ranges - before.Ranges,
		Txns:         c.Txns - before.Txns,
		RangeRPCs:    c.RangeRPCs - before.RangeRPCs,
		TxnRPCs:      c.TxnRPCs - before.TxnRPCs,
		LeaseGrants:  c.LeaseGrants - before.LeaseGrants,
		LeaseRevokes: c.LeaseRevokes - before.LeaseRevokes,
		CPUSeconds:   c.CPUSeconds - before.CPUSeconds,
	}
}

// Per divides every count by n (e.g. per session).
func (c EtcdCounters) Per(n int) EtcdCounters {
	f := float64(n)
	return EtcdCounters{
		Proposals: c.Proposals / f, Ranges: c.Ranges / f, Txns: c.Txns / f,
		RangeRPCs: c.RangeRPCs / f, TxnRPCs: c.TxnRPCs / f,
		LeaseGrants: c.LeaseGrants / f, LeaseRevokes: c.LeaseRevokes / f,
		CPUSeconds: c.CPUSeconds / f,
	}
}

func (c EtcdCounters) String() string {
	return fmt.Sprintf("%.2f proposals, %.2f Range calls, %.2f Txn calls, %.2f key reads in etcd, %.2f lease grants, %.2f lease revocations, %.2f ms etcd CPU",
		c.Proposals, c.RangeRPCs, c.TxnRPCs, c.Ranges, c.LeaseGrants, c.LeaseRevokes, c.CPUSeconds*1000)
}

// ReadEtcdCounters reads the counters of the etcd at clientURL.
func ReadEtcdCounters(t testing.TB, clientURL string) EtcdCounters {
	t.Helper()
	resp, err := http.Get(clientURL + "/metrics")
	if err != nil {
		t.Fatalf("etcd metrics: %v", err)
	}
	defer resp.Body.Close()
	want := map[string]*float64{}
	var c EtcdCounters
	want["etcd_server_proposals_committed_total"] = &c.Proposals
	want["etcd_mvcc_range_total"] = &c.Ranges
	want["etcd_mvcc_txn_total"] = &c.Txns
	want["etcd_debugging_lease_granted_total"] = &c.LeaseGrants
	want["etcd_debugging_lease_revoked_total"] = &c.LeaseRevokes
	want["process_cpu_seconds_total"] = &c.CPUSeconds
	found := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if rest, isRPC := strings.CutPrefix(name, "grpc_server_started_total{"); ok && isRPC {
			var dst *float64
			switch {
			case strings.Contains(rest, `grpc_method="Range"`):
				dst = &c.RangeRPCs
			case strings.Contains(rest, `grpc_method="Txn"`):
				dst = &c.TxnRPCs
			default:
				continue
			}
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("etcd metric %s: %v", name, err)
			}
			*dst += v
			continue
		}
		if p := want[name]; ok && p != nil {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("etcd metric %s: %v", name, err)
			}
			*p = v
			found++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("etcd metrics: %v", err)
	}
	if found != len(want) {
		t.Fatalf("etcd metrics: found %d of the %d counters (another etcd version?)", found, len(want))
	}
	return c
}
