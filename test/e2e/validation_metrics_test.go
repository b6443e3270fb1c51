package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The Validation stage's Metrics gate, end to end. The webapp chart's pods
// are KWOK's and answer nothing, so the metrics endpoint is a real HTTP
// server this test starts, reached the way the operator reaches any
// Service: through the API server's service proxy, here to a Service without
// a selector whose endpoints point at the server (serveBehindService, which
// says why it takes a Pod, and why not a loopback address). Each resource acts as a ServiceAccount whose
// Role is what docs/security.md asks for. The tests read what a user reads:
// the Metrics gate, the Validated, Ready and Stalled conditions, the verdict
// and the Events.

// metricsBody is an exposition as the Go client writes it, with a histogram.
const metricsBody = `# HELP app_requests_total Requests served.
# TYPE app_requests_total counter
app_requests_total{code="200",path="/api/v1/items"} 1027
app_requests_total{code="500",path="/api/v1/items"} 3
# HELP app_request_duration_seconds Request latency.
# TYPE app_request_duration_seconds histogram
app_request_duration_seconds_bucket{le="0.1"} 950
app_request_duration_seconds_bucket{le="+Inf"} 1030
app_request_duration_seconds_sum 61.5
app_request_duration_seconds_count 1030
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 12
`

// metricsHandler serves /metrics (metricsBody) and /login (an HTML page).
func metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		fmt.Fprint(w, metricsBody)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!DOCTYPE html>\n<html><body><form>Sign in</form></body></html>\n")
	})
	return mux
}

// metricsRules: what a resource's ServiceAccount needs for the webapp chart
// (deployerRules) and for the Metrics gate: the service proxy, and reading
// the monitors and the release's Services and workloads.
var metricsRules = append(append([]rbacv1.PolicyRule{}, deployerRules...),
	rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"services/proxy"}, Verbs: []string{"get"}},
	rbacv1.PolicyRule{APIGroups: []string{"monitoring.coreos.com"}, Resources: []string{"servicemonitors", "podmonitors"},
		Verbs: []string{"list"}})

// metricsP4D is the webapp chart as ServiceAccount deployer, with spec.validation.metrics.
func metricsP4D(t testing.TB, ns, name string, metrics map[string]any) *unstructured.Unstructured {
	obj := kubeP4D(t, ns, name, "0.1.0", nil)
	spec := obj.Object["spec"].(map[string]any)
	spec["serviceAccountName"] = "deployer"
	spec["validation"] = map[string]any{"metrics": metrics}
	return obj
}

// waitMetricsGate waits until the Metrics gate has status and reason and
// its message contains each of contains (the message may change while the
// reason stays, as a re-check finds something else missing).
func waitMetricsGate(t testing.TB, ctx context.Context, ns, name, status, reason string, timeout time.Duration,
	contains ...string) *unstructured.Unstructured {
	t.Helper()
	var obj *unstructured.Unstructured
	what := fmt.Sprintf("%s/%s Metrics gate %s (%s) saying %q", ns, name, status, reason, contains)
	eventually(t, timeout, what, func() (bool, string, error) {
		var err error
		if obj, err = getP4D(ctx, ns, name); err != nil {
			return false, "", err
		}
		g := validationGate(obj, "Metrics")
		ok := g != nil && g["status"] == status && g["reason"] == reason
		for _, want := range contains {
			ok = ok && strings.Contains(fmt.Sprint(g["message"]), want)
		}
		return ok, fmt.Sprintf("gate %v; Validated %v", g, condition(obj, "Validated")), nil
	})
	return obj
}

// expectMetricsReady checks what a user reads of a resource that passed:
// Ready True, the SUCCESSFUL verdict, and the Metrics gate's sentence in the
// Validated condition's message.
func expectMetricsReady(t testing.TB, ctx context.Context, ns, name string, contains string) {
	t.Helper()
	obj := waitCondition(t, ctx, ns, name, "Ready", "True", "Succeeded", 60*time.Second)
	if v, _, _ := unstructured.NestedString(obj.Object, "status", "verdict"); v != "SUCCESSFUL" {
		t.Errorf("%s: status.verdict = %q, want SUCCESSFUL", name, v)
	}
	c := condition(obj, "Validated")
	if c == nil || c["status"] != "True" {
		t.Errorf("%s: Validated = %v, want True", name, c)
	} else if msg := fmt.Sprint(c["message"]); !strings.Contains(msg, "Metrics: ") || !strings.Contains(msg, contains) {
		t.Errorf("%s: Validated message lacks the Metrics gate's %q: %q", name, contains, msg)
	}
	out, err := kubectl(ctx, "wait", "--for=condition=Ready", "--timeout=10s", "-n", ns, "p4d/"+name)
	if err != nil {
		t.Errorf("kubectl wait --for=condition=Ready p4d/%s: %v\n%s", name, err, out)
	}
}

// expectMetricsFailed checks what a user reads of a resource the Metrics gate
// failed: Validated and Ready False with reason, Stalled with
// stalledReason, the FAILED verdict, a Warning Event.
func expectMetricsFailed(t testing.TB, ctx context.Context, ns, name, reason, stalledReason string) {
	t.Helper()
	obj := waitCondition(t, ctx, ns, name, "Stalled", "True", stalledReason, 60*time.Second)
	if stalledReason == "EscalatedToUser" {
		expectEscalated(t, ctx, ns, name, reason)
	}
	if c := condition(obj, "Validated"); c == nil || c["status"] != "False" || c["reason"] != reason {
		t.Errorf("%s: Validated = %v, want False/%s", name, c, reason)
	}
	if c := condition(obj, "Ready"); c == nil || c["status"] != "False" {
		t.Errorf("%s: Ready = %v, want False", name, c)
	}
	if v, _, _ := unstructured.NestedString(obj.Object, "status", "verdict"); v != "FAILED" {
		t.Errorf("%s: status.verdict = %q, want FAILED", name, v)
	}
	waitEvent(t, ctx, ns, name, "Warning", reason, "")
}

// The workload's metrics endpoint, read through the service proxy: every
// named series there (a histogram's by its family name) passes; a series it
// lacks fails with MetricsNotExposed naming it, and so does a page that is
// not the Prometheus text format; with no retry left, the resource is
// Stalled until a new generation.
func TestValidationMetricsEndpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-metrics")
	serveBehindService(t, ctx, ns, "metrics-backend", metricsHandler())
	eventually(t, 30*time.Second, "the service proxy to reach metrics-backend", func() (bool, string, error) {
		body, err := kube.CoreV1().Services(ns).ProxyGet("http", "metrics-backend", "80", "/metrics", nil).DoRaw(ctx)
		return err == nil && strings.Contains(string(body), "go_goroutines"), fmt.Sprint(err), nil
	})
	account(t, ctx, ns, "deployer", metricsRules)
	kubeOperator(t, ctx)

	endpoint := func(path string, series ...string) map[string]any {
		s := []any{}
		for _, x := range series {
			s = append(s, x)
		}
		return map[string]any{"endpoint": map[string]any{"service": "metrics-backend", "port": 80, "path": path, "series": s}}
	}
	createP4D(t, ctx, metricsP4D(t, ns, "exposed", endpoint("/metrics", "app_requests_total", "app_request_duration_seconds")))
	createP4D(t, ctx, metricsP4D(t, ns, "missing", endpoint("/metrics", "app_requests_total", "app_cache_hits_total")))
	createP4D(t, ctx, metricsP4D(t, ns, "html", endpoint("/login")))

	waitMetricsGate(t, ctx, ns, "exposed", "True", "MetricsActive", 3*time.Minute,
		"the metrics endpoint metrics-backend:80/metrics exposes app_requests_total and app_request_duration_seconds")
	expectMetricsReady(t, ctx, ns, "exposed", "exposes app_requests_total and app_request_duration_seconds")

	waitMetricsGate(t, ctx, ns, "missing", "False", "MetricsNotExposed", 3*time.Minute,
		"does not expose app_cache_hits_total", "1 of 2 named series missing")
	expectMetricsFailed(t, ctx, ns, "missing", "MetricsNotExposed", "RegenerationRequired")

	waitMetricsGate(t, ctx, ns, "html", "False", "MetricsNotExposed", 3*time.Minute,
		"does not answer in the Prometheus text format: line 1 is not a Prometheus sample", "<!DOCTYPE html>")
	expectMetricsFailed(t, ctx, ns, "html", "MetricsNotExposed", "RegenerationRequired")
}

// startPrometheus runs Debian's prometheus scraping target every second as
// job, on a free port of its own with its data in a temporary directory,
// until the test ends; it returns its URL once it is ready.
func startPrometheus(t testing.TB, ctx context.Context, job, target string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus is not installed (hack/deps installs Debian's): %v", err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	writeFile(t, cfg, fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"+
		"scrape_configs:\n- job_name: %q\n  static_configs:\n  - targets: [%q]\n", job, target))
	port := freePort(t)
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+port)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("prometheus log:\n%s", tail(string(b), 40))
		}
	})
	url := "http://127.0.0.1:" + port
	eventually(t, 60*time.Second, "prometheus to be ready", func() (bool, string, error) {
		code, body, err := httpGet(url + "/-/ready")
		return err == nil && code == 200, fmt.Sprint(code, " ", body, " ", err), nil
	})
	return url
}

// A Prometheus server that scrapes the workload reports its target up: the
// gate passes once the query's every sample is 1. A Prometheus that cannot
// be reached is not the application's fault: PrometheusUnavailable, Stalled
// at once (a person must act), re-checked.
func TestValidationMetricsPrometheus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-metrics-prom")
	server := serveBehindService(t, ctx, ns, "metrics-backend", metricsHandler())
	job := "phase4-" + ns
	prom := startPrometheus(t, ctx, job, strings.TrimPrefix(server, "http://"))
	account(t, ctx, ns, "deployer", metricsRules)
	kubeOperator(t, ctx)

	query := fmt.Sprintf("up{job=%q}", job)
	createP4D(t, ctx, metricsP4D(t, ns, "scraped", map[string]any{
		"prometheus": map[string]any{"url": prom + "/", "query": query}}))
	closed := "http://127.0.0.1:" + freePort(t)
	createP4D(t, ctx, metricsP4D(t, ns, "no-prom", map[string]any{
		"prometheus": map[string]any{"url": closed}}))

	waitMetricsGate(t, ctx, ns, "scraped", "True", "MetricsActive", 3*time.Minute,
		fmt.Sprintf("Prometheus at %s/ reports every sample of %s as 1 (1 series)", prom, query))
	expectMetricsReady(t, ctx, ns, "scraped", "reports every sample of "+query+" as 1")

	waitMetricsGate(t, ctx, ns, "no-prom", "False", "PrometheusUnavailable", 3*time.Minute,
		"Prometheus at "+closed+" cannot be reached")
	expectMetricsFailed(t, ctx, ns, "no-prom", "PrometheusUnavailable", "EscalatedToUser")
	if msg := fmt.Sprint(condition(getP4DOrFail(t, ctx, ns, "no-prom"), "Stalled")["message"]); !strings.Contains(msg, "cannot be reached") {
		t.Errorf("no-prom: Stalled message lacks why: %q", msg)
	}
}

var serviceMonitorGVR = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "servicemonitors"}

// A resource that requires a monitor: without the Prometheus Operator's CRDs
// it is NoMonitor saying so; with them but no ServiceMonitor selecting the
// release, NoMonitor saying what was looked for; once a ServiceMonitor
// selects the release's Service, the re-check heals it without a new
// generation.
func TestValidationMetricsMonitor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	crd := "servicemonitors.monitoring.coreos.com"
	removeCRD := func() {
		if _, err := kubectl(context.Background(), "delete", "crd", crd, "--ignore-not-found", "--wait=true", "--timeout=60s"); err != nil {
			t.Errorf("delete CRD %s: %v", crd, err)
		}
	}
	removeCRD() // a run before this one may have left it
	t.Cleanup(removeCRD)
	ns := newNamespace(t, ctx, "e2e-metrics-mon")
	account(t, ctx, ns, "deployer", metricsRules)
	kubeOperator(t, ctx)

	createP4D(t, ctx, metricsP4D(t, ns, "watched", map[string]any{"monitor": true}))
	waitMetricsGate(t, ctx, ns, "watched", "False", "NoMonitor", 3*time.Minute,
		"the Prometheus Operator's CRDs are not installed")
	expectMetricsFailed(t, ctx, ns, "watched", "NoMonitor", "EscalatedToUser")

	if out, err := kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(repoRoot(), "test", "e2e", "testdata", "servicemonitors-crd.yaml")); err != nil {
		t.Fatalf("install the ServiceMonitor CRD: %v\n%s", err, out)
	}
	if out, err := kubectl(ctx, "wait", "--for=condition=Established", "--timeout=60s", "crd/"+crd); err != nil {
		t.Fatalf("wait for the ServiceMonitor CRD: %v\n%s", err, out)
	}
	waitMetricsGate(t, ctx, ns, "watched", "False", "NoMonitor", time.Minute,
		"namespace "+ns+" has no ServiceMonitor: create one that selects the release's Service watched-webapp")
	// One that selects something else changes nothing.
	other := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
		"metadata": map[string]any{"name": "other", "namespace": ns},
		"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/instance": "other"}},
			"endpoints": []any{map[string]any{"port": "http"}}},
	}}
	if _, err := dyn.Resource(serviceMonitorGVR).Namespace(ns).Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ServiceMonitor other: %v", err)
	}
	waitMetricsGate(t, ctx, ns, "watched", "False", "NoMonitor", time.Minute,
		"none of the 1 ServiceMonitor(s) in namespace "+ns+" selects the release's Service watched-webapp")

	sm := other.DeepCopy()
	sm.SetName("watched")
	_ = unstructured.SetNestedField(sm.Object, map[string]any{"matchLabels": map[string]any{
		"app.kubernetes.io/name": "webapp", "app.kubernetes.io/instance": "watched"}}, "spec", "selector")
	if _, err := dyn.Resource(serviceMonitorGVR).Namespace(ns).Create(ctx, sm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ServiceMonitor watched: %v", err)
	}
	waitMetricsGate(t, ctx, ns, "watched", "True", "MetricsActive", time.Minute,
		"ServiceMonitor watched selects Service watched-webapp")
	expectMetricsReady(t, ctx, ns, "watched", "ServiceMonitor watched selects Service watched-webapp")
	if obj := getP4DOrFail(t, ctx, ns, "watched"); obj.GetGeneration() != 1 {
		t.Errorf("generation %d: it healed by a re-check, not a new generation", obj.GetGeneration())
	}
	if _, err := kube.CoreV1().Services(ns).Get(ctx, "watched-webapp", metav1.GetOptions{}); apierrors.IsNotFound(err) {
		t.Errorf("the release's Service watched-webapp is gone")
	}
}
