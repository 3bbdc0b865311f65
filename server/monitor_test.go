package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ukeygate/ukeygate/config"
	"github.com/ukeygate/ukeygate/protocol"
	"github.com/ukeygate/ukeygate/server/servertest"
)

// TestMonitoringMetrics: a node samples the CA's state into /metrics: an
// issuer's certificate end, a registration waiting for the RA and since
// when, the audit log's entries not yet archived and since when the
// oldest has waited, and each source's last success; nothing failed.
func TestMonitoringMetrics(t *testing.T) {
	start := time.Now()
	ts := servertest.Start(t, func(c *config.Config) { c.Monitoring.Interval = time.Second })
	raw := addIssuer(t, ts)
	var iss struct {
		NotAfter time.Time `json:"not_after"`
	}
	if err := json.Unmarshal(raw, &iss); err != nil || iss.NotAfter.IsZero() {
		t.Fatalf("issuer answer %s: %v", raw, err)
	}
	before := time.Now()
	st, raw := call(t, "POST", ts.URL+"/v1/register", "", protocol.RegisterRequest{Kind: "person", Name: "张三",
		IDNumber: "440524188001010014", Phone: "13900001111", Consent: protocol.Consent{PolicyVersion: ts.Config.Registration.PolicyVersion}})
	if st != 201 {
		t.Fatalf("register: %d %s", st, raw)
	}

	want := map[string]func(float64) bool{
		`ukeygate_issuer_not_after_timestamp_seconds{issuer="sm2"}`: func(v float64) bool { return int64(v) == iss.NotAfter.Unix() },
		`ukeygate_registrations_pending`:                            func(v float64) bool { return v == 1 },
		`ukeygate_registrations_pending_oldest_timestamp_seconds`: func(v float64) bool {
			return v >= float64(before.Add(-time.Second).Unix()) && v <= float64(time.Now().Unix()+1)
		},
		`ukeygate_escrow_recoveries_open`:               func(v float64) bool { return v == 0 },
		`ukeygate_credentials_expiring`:                 func(v float64) bool { return v == 0 },
		`ukeygate_audit_unarchived_entries`:             func(v float64) bool { return v >= 1 }, // the issuer's and the registration's entries
		`ukeygate_audit_last_archive_timestamp_seconds`: func(v float64) bool { return v == 0 },
		`ukeygate_audit_oldest_unarchived_timestamp_seconds`: func(v float64) bool { // the first entry, never archived
			return v >= float64(start.Add(-time.Second).Unix()) && v <= float64(time.Now().Unix()+1)
		},
		`ukeygate_monitor_errors_total{source="issuers"}`:                       func(v float64) bool { return v == 0 },
		`ukeygate_monitor_errors_total{source="audit"}`:                         func(v float64) bool { return v == 0 },
		`ukeygate_monitor_last_success_timestamp_seconds{source="credentials"}`: func(v float64) bool { return v > 0 },
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		bad := ""
		for sample, ok := range want {
			if v := metricSample(t, ts, sample); v < 0 || !ok(v) {
				bad = fmt.Sprintf("%s = %v", sample, v)
				break
			}
		}
		if bad == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics after 60 s: %s (-1: absent)", bad)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// addIssuer registers a generated SM2 issuer "sm2" and returns the answer.
func addIssuer(t *testing.T, ts *servertest.TS) []byte {
	t.Helper()
	st, raw := call(t, "POST", ts.URL+"/v1/admin/issuers", ts.AdminToken, map[string]any{
		"id": "sm2", "name": "SM2 根 CA", "mode": "internal", "alg": "SM2", "generate": true,
		"subject": map[string]string{"common_name": "ukeygate SM2 Monitor Root", "country": "CN"},
		"profile": map[string]any{"algs": []string{"SM2"}}})
	if st != 201 {
		t.Fatalf("issuer: %d %s", st, raw)
	}
	return raw
}

// TestAlertRules: docs/alerts.yml is a rule file of named alerts, each
// with a severity and a summary, every ukeygate_ metric its expressions
// name is on a running node's /metrics, and docs/operations.md's alert
// table lists exactly its alerts; UkeygateServerErrors leaves the code a
// parked long-poll is counted with out of its ratio. Its unit tests
// (docs/alerts_test.yml, run by TestAlertRulesPromtool) use only series
// a node exports, with its labels, and make every alert fire and not
// fire (checkAlertTests).
func TestAlertRules(t *testing.T) {
	raw, err := os.ReadFile("../docs/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("docs/alerts.yml: %v", err)
	}
	ts := servertest.Start(t, func(c *config.Config) { c.Monitoring.Interval = time.Second })
	addIssuer(t, ts) // an issuer's gauge, and a request counted
	metricName := regexp.MustCompile(`\bukeygate_[a-z_]+`)
	var scrape string
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(scrape, `ukeygate_issuer_not_after_timestamp_seconds{issuer="sm2"}`) {
		if time.Now().After(deadline) {
			t.Fatal("no monitoring sample 60 s after the start")
		}
		time.Sleep(50 * time.Millisecond)
		_, body := call(t, "GET", ts.URL+"/metrics", "", nil)
		scrape = string(body)
	}
	exported := map[string]bool{}
	labelsOf := map[string]map[string]bool{} // label names on each metric's samples
	for _, line := range strings.Split(scrape, "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			exported[strings.Fields(name)[0]] = true
		} else if i := strings.LastIndexByte(line, ' '); i < 0 || strings.HasPrefix(line, "#") {
			continue
		} else if name, labels, ok := parseSeries(line[:i]); ok {
			if labelsOf[name] == nil {
				labelsOf[name] = map[string]bool{}
			}
			for l := range labels {
				labelsOf[name][l] = true
			}
		}
	}
	checkAlertTests(t, exported, labelsOf)
	ops, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(ops)
	if i := strings.Index(section, "## Monitoring and alerts"); i < 0 {
		t.Fatal(`docs/operations.md has no "Monitoring and alerts" section`)
	} else {
		section = section[i:]
		if j := strings.Index(section[3:], "\n## "); j >= 0 {
			section = section[:j+3]
		}
	}
	seen := map[string]bool{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			switch {
			case r.Alert == "" || r.Expr == "":
				t.Errorf("group %s: a rule without an alert name or expression: %+v", g.Name, r)
			case seen[r.Alert]:
				t.Errorf("alert %s twice", r.Alert)
			case r.Labels["severity"] != "warning" && r.Labels["severity"] != "critical":
				t.Errorf("alert %s: severity %q", r.Alert, r.Labels["severity"])
			case r.Annotations["summary"] == "":
				t.Errorf("alert %s: no summary", r.Alert)
			}
			seen[r.Alert] = true
			if _, err := time.ParseDuration(r.For); r.For != "" && err != nil {
				t.Errorf("alert %s: for %q", r.Alert, r.For)
			}
			// A parked long-poll is counted with the status of a hijacked
			// connection (statusWriter, repollGate): not an answer, so
			// not in the error ratio's denominator.
			if parked := `code!="` + strconv.Itoa(http.StatusSwitchingProtocols) + `"`; r.Alert == "UkeygateServerErrors" && !strings.Contains(r.Expr, parked) {
				t.Errorf("alert %s counts parked long-polls: no %s in %s", r.Alert, parked, r.Expr)
			}
			for _, m := range metricName.FindAllString(r.Expr, -1) {
				if !exported[m] {
					t.Errorf("alert %s: %s is not on a node's /metrics", r.Alert, m)
				}
			}
			if !strings.Contains(section, "`"+r.Alert+"`") && !strings.Contains(section, "`"+strings.TrimSuffix(r.Alert, "Soon")+"` / `…Soon`") {
				t.Errorf("alert %s is not in docs/operations.md's alert table", r.Alert)
			}
		}
	}
	for _, name := range regexp.MustCompile("`(Ukeygate[A-Za-z]+)`").FindAllStringSubmatch(section, -1) {
		if !seen[name[1]] {
			t.Errorf("docs/operations.md lists %s, which docs/alerts.yml does not define", name[1])
		}
	}
	if len(seen) < 5 {
		t.Fatalf("only %d alerts read from docs/alerts.yml", len(seen))
	}
}

// alertTests is the part of docs/alerts_test.yml (promtool's rule unit
// tests) the Go tests read.
type alertTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		InputSeries []struct {
			Series string `yaml:"series"`
		} `yaml:"input_series"`
		AlertRuleTests []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels map[string]string `yaml:"exp_labels"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// alertNames returns the alerts docs/alerts.yml defines.
func alertNames(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile("../docs/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatalf("docs/alerts.yml: %v", err)
	}
	names := map[string]bool{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			names[r.Alert] = true
		}
	}
	return names
}

// seriesName matches a series in promtool's notation: a metric name, then
// label="value" pairs in braces.
var (
	seriesName  = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$`)
	seriesLabel = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)`)
)

// parseSeries splits `name{a="b",c="d"}` into the name and its labels.
func parseSeries(s string) (string, map[string]string, bool) {
	m := seriesName.FindStringSubmatch(s)
	if m == nil {
		return "", nil, false
	}
	labels := map[string]string{}
	for rest := m[2]; strings.TrimSpace(rest) != ""; {
		l := seriesLabel.FindStringSubmatch(rest)
		if l == nil {
			return "", nil, false
		}
		labels[l[1]] = l[2]
		rest = rest[len(l[0]):]
	}
	return m[1], labels, true
}

// promUp is the series Prometheus writes itself for every target it
// scrapes (1: the scrape succeeded, 0: it failed), labelled with the
// target's instance and job only.
const promUp = "up"

// checkAlertTests: docs/alerts_test.yml loads docs/alerts.yml, its input
// series are metrics a node exports, with labels the node puts on them
// (besides the instance and job a scrape adds), or Prometheus's own up,
// and every alert has a history where it fires and one where it does
// not.
func checkAlertTests(t *testing.T, exported map[string]bool, labelsOf map[string]map[string]bool) {
	t.Helper()
	raw, err := os.ReadFile("../docs/alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file alertTests
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("docs/alerts_test.yml: %v", err)
	}
	if len(file.RuleFiles) != 1 || file.RuleFiles[0] != "alerts.yml" {
		t.Errorf("docs/alerts_test.yml: rule_files %q, want [alerts.yml]", file.RuleFiles)
	}
	alerts := alertNames(t)
	fires, silent := map[string]bool{}, map[string]bool{}
	for i, test := range file.Tests {
		for _, in := range test.InputSeries {
			name, labels, ok := parseSeries(in.Series)
			switch {
			case !ok:
				t.Errorf("docs/alerts_test.yml test %d: series %q does not parse", i+1, in.Series)
			case name == promUp:
				for l := range labels {
					if l != "instance" && l != "job" {
						t.Errorf("docs/alerts_test.yml test %d: Prometheus's up has no label %q", i+1, l)
					}
				}
				continue
			case !exported[name]:
				t.Errorf("docs/alerts_test.yml test %d: %s is not on a node's /metrics", i+1, name)
			}
			for l := range labels {
				if l != "instance" && l != "job" && !labelsOf[name][l] {
					t.Errorf("docs/alerts_test.yml test %d: %s has no label %q on a node's /metrics", i+1, name, l)
				}
			}
		}
		for _, at := range test.AlertRuleTests {
			if !alerts[at.Alertname] {
				t.Errorf("docs/alerts_test.yml test %d: %s is not an alert of docs/alerts.yml", i+1, at.Alertname)
			}
			if len(at.ExpAlerts) > 0 {
				fires[at.Alertname] = true
			} else {
				silent[at.Alertname] = true
			}
		}
	}
	for a := range alerts {
		if !fires[a] || !silent[a] {
			t.Errorf("docs/alerts_test.yml: alert %s needs a history where it fires (%v) and one where it does not (%v)", a, fires[a], silent[a])
		}
	}
}

// TestAlertRulesPromtool: Prometheus's own promtool finds docs/alerts.yml
// valid with every lint on and nothing to warn about, and runs
// docs/alerts_test.yml: each alert fires, with its labels and
// annotations, in the condition docs/operations.md gives, and stays
// silent in a near miss. Without promtool: skipped, except under CI=true
// (.ci/run installs Debian's prometheus package for it).
func TestAlertRulesPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool is required when CI=true (apt-get install --no-install-recommends prometheus): %v", err)
		}
		t.Skip("promtool not installed (apt-get install --no-install-recommends prometheus): the alert rules are not checked by Prometheus")
	}
	for _, args := range [][]string{
		{"check", "rules", "--lint=all", "--lint-fatal", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, promtool, args...)
		cmd.Dir = "../docs"
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			continue
		}
		// Anything but the file's name and SUCCESS is a warning.
		for _, line := range strings.Split(string(out), "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "Checking ") && !strings.HasPrefix(line, "Unit Testing: ") && !strings.HasPrefix(line, "SUCCESS") {
				t.Errorf("promtool %s: %q\n%s", strings.Join(args, " "), line, out)
				break
			}
		}
	}
}
