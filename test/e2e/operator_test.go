package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const operatorNamespace = "phase4-system"

var (
	accountOnce       sync.Once
	accountKubeconfig string
	accountErr        error
)

// operatorKubeconfig installs the operator's ServiceAccount and RBAC from
// charts/phase4-operator (as the chart ships them) and returns a kubeconfig
// that authenticates as that account with a bound token, so the operator runs
// with least privilege, not as admin. The chart is rendered with
// deployment.enabled=false: only the ServiceAccount and its RBAC, no operator
// pods to take the Lease. Release phase4-operator names the ServiceAccount
// phase4-operator.
func operatorKubeconfig(t testing.TB, ctx context.Context) string {
	t.Helper()
	accountOnce.Do(func() {
		accountErr = func() error {
			if out, err := kubectl(ctx, "create", "namespace", operatorNamespace); err != nil && !strings.Contains(out, "AlreadyExists") {
				return fmt.Errorf("create namespace: %v: %s", err, out)
			}
			rendered, err := run(ctx, helmEnv(), tool("helm"), "template", "phase4-operator",
				filepath.Join(repoRoot(), "charts", "phase4-operator"), "-n", operatorNamespace,
				"--set", "deployment.enabled=false")
			if err != nil {
				return fmt.Errorf("helm template: %v: %s", err, rendered)
			}
			apply := exec.CommandContext(ctx, tool("kubectl"), "apply", "-f", "-")
			apply.Stdin = strings.NewReader(rendered)
			if out, err := apply.CombinedOutput(); err != nil {
				return fmt.Errorf("apply RBAC: %v: %s", err, out)
			}
			token, err := kubectl(ctx, "create", "token", "phase4-operator", "-n", operatorNamespace, "--duration=2h")
			if err != nil {
				return fmt.Errorf("create token: %v: %s", err, token)
			}
			admin, err := clientcmd.LoadFromFile(os.Getenv("KUBECONFIG"))
			if err != nil {
				return err
			}
			cluster := admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
			cfg := clientcmdapi.NewConfig()
			cfg.Clusters["local"] = cluster
			cfg.AuthInfos["phase4-operator"] = &clientcmdapi.AuthInfo{Token: strings.TrimSpace(token)}
			cfg.Contexts["operator"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "phase4-operator"}
			cfg.CurrentContext = "operator"
			dir, err := os.MkdirTemp("", "phase4-e2e-")
			if err != nil {
				return err
			}
			accountKubeconfig = filepath.Join(dir, "operator.kubeconfig")
			return clientcmd.WriteToFile(*cfg, accountKubeconfig)
		}()
	})
	if accountErr != nil {
		t.Fatalf("operator account: %v", accountErr)
	}
	return accountKubeconfig
}

type operator struct {
	cmd     *exec.Cmd
	logs    *bytes.Buffer
	mu      *sync.Mutex
	metrics string // http://127.0.0.1:port
	probes  string
	done    chan error // receives the exit once it has exited
	killed  bool       // kill9 was called: no clean exit is expected
	// pid is the operator's process id when cmd is a launcher that does not
	// pass signals on (unshare; see startImageOperator); nil: cmd's own.
	pid func() (int, error)
}

// signal sends sig to the operator itself (not to a launcher around it).
func (o *operator) signal(sig syscall.Signal) error {
	if o.pid == nil {
		return o.cmd.Process.Signal(sig)
	}
	pid, err := o.pid()
	if err != nil {
		return err
	}
	return syscall.Kill(pid, sig)
}

// kill9 ends the operator with SIGKILL, as a crash would (nothing is released or
// written), and waits until it has exited.
func (o *operator) kill9(t testing.TB) {
	t.Helper()
	o.killed = true
	if err := o.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 the operator: %v", err)
	}
	select {
	case <-o.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the operator did not exit on SIGKILL")
	}
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (o *operator) log() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.logs.String()
}

// startOperator runs build/phase4-operator as the operator's ServiceAccount;
// at cleanup it sends SIGTERM and requires a clean exit 0.
func startOperator(t testing.TB, ctx context.Context, args ...string) *operator {
	t.Helper()
	kc := operatorKubeconfig(t, ctx)
	bin := filepath.Join(repoRoot(), "build", "phase4-operator")
	if p := os.Getenv("P4_OPERATOR"); p != "" {
		bin = p // e.g. a sanitizer build
	}
	o := newOperator(t)
	// Every operator runs the helm hack/deps built, with a cache of its own
	// (a flag given in args comes later and wins).
	base := append([]string{"--kubeconfig", kc, "--helm-binary", helmBinary(t), "--cache-dir", t.TempDir()},
		o.commonArgs()...)
	launchOperator(t, o, exec.Command(bin, append(base, args...)...))
	return o
}

// newOperator is an operator not started yet, with free ports for its endpoints.
func newOperator(t testing.TB) *operator {
	o := &operator{logs: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	o.metrics = "http://127.0.0.1:" + freePort(t)
	o.probes = "http://127.0.0.1:" + freePort(t)
	return o
}

// commonArgs are the flags every test's operator runs with.
func (o *operator) commonArgs() []string {
	return []string{"--log-level", "debug",
		"--metrics-bind-address", strings.TrimPrefix(o.metrics, "http://"),
		"--health-probe-bind-address", strings.TrimPrefix(o.probes, "http://"),
		"--leader-election-namespace", operatorNamespace}
}

// launchOperator starts cmd (the operator, or a launcher that runs it) with
// its output in o's log; at cleanup it sends the operator SIGTERM and
// requires a clean exit 0.
func launchOperator(t testing.TB, o *operator, cmd *exec.Cmd) {
	t.Helper()
	o.cmd = cmd
	// If the test process dies, the operator dies with it (and frees the Lease).
	o.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	o.cmd.Stdout = lockedWriter{o.mu, o.logs}
	o.cmd.Stderr = lockedWriter{o.mu, o.logs}
	if err := o.cmd.Start(); err != nil {
		t.Fatalf("start operator: %v", err)
	}
	exited := make(chan error, 1)
	go func() { err := o.cmd.Wait(); exited <- err; o.done <- err }()
	t.Cleanup(func() {
		_ = o.signal(syscall.SIGTERM) // (a test may have stopped it already)
		select {
		case err := <-exited:
			if err != nil && !o.killed {
				t.Errorf("operator exited with %v after SIGTERM; log:\n%s", err, o.log())
			}
		case <-time.After(20 * time.Second):
			_ = o.cmd.Process.Kill()
			t.Errorf("operator did not exit within 20s of SIGTERM; log:\n%s", o.log())
		}
		if t.Failed() || os.Getenv("P4_E2E_OPERATOR_LOG") != "" { // P4_E2E_OPERATOR_LOG=1: always
			t.Logf("operator log:\n%s", o.log())
		}
	})
}

func getP4D(ctx context.Context, ns, name string) (*unstructured.Unstructured, error) {
	return dyn.Resource(p4dGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
}

func condition(obj *unstructured.Unstructured, typ string) map[string]any {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}

func events(ctx context.Context, ns, name string) ([]corev1.Event, error) {
	list, err := kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.name=" + name + ",involvedObject.kind=Phase4Deployment"})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// waitReconciled waits until the operator has observed generation gen.
func waitReconciled(t testing.TB, ctx context.Context, ns, name string, gen int64) *unstructured.Unstructured {
	t.Helper()
	var obj *unstructured.Unstructured
	eventually(t, time.Minute, fmt.Sprintf("%s/%s to be reconciled at generation %d", ns, name, gen), func() (bool, string, error) {
		var err error
		obj, err = getP4D(ctx, ns, name)
		if err != nil {
			return false, "", err
		}
		observed, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
		return observed == gen && obj.GetGeneration() == gen, fmt.Sprintf("observedGeneration %d, generation %d", observed, obj.GetGeneration()), nil
	})
	return obj
}

// Applying a Phase4Deployment gets it a status and an Event from the operator,
// running as its own least-privilege ServiceAccount; a spec change is
// reconciled again; nothing is written when nothing changed.
func TestFirstReconcile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-reconcile")
	op := startOperator(t, ctx)

	if out, err := kubectl(ctx, "apply", "-n", ns, "-f", filepath.Join(repoRoot(), "examples", "shop.yaml")); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	obj := waitReconciled(t, ctx, ns, "shop", 1)
	if stage, _, _ := unstructured.NestedString(obj.Object, "status", "stage"); stage != "Docker" {
		t.Errorf("status.stage = %q, want Docker", stage)
	}
	ready, reconciling := condition(obj, "Ready"), condition(obj, "Reconciling")
	if ready == nil || ready["status"] != "Unknown" || ready["reason"] != "Progressing" ||
		!strings.HasPrefix(fmt.Sprint(ready["message"]), "Generation 1: checking the Docker stage") {
		t.Errorf("Ready condition = %v", ready)
	}
	if reconciling == nil || reconciling["status"] != "True" || reconciling["reason"] != "Progressing" {
		t.Errorf("Reconciling condition = %v", reconciling)
	}
	eventually(t, 30*time.Second, "a Normal Progressing Event for generation 1", func() (bool, string, error) {
		evs, err := events(ctx, ns, "shop")
		for _, e := range evs {
			if e.Type == "Normal" && e.Reason == "Progressing" && strings.HasPrefix(e.Message, "Generation 1:") &&
				e.Source.Component == "phase4-operator" {
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("%d events", len(evs)), err
	})
	out, err := kubectl(ctx, "get", "p4d", "-n", ns, "shop", "--no-headers")
	if err != nil || !regexp.MustCompile(`^shop\s+Docker\s+Unknown\s+registry\.example\.com/shop/web\s`).MatchString(out) {
		t.Errorf("kubectl get p4d: %v\n%s", err, out)
	}

	// A spec change bumps the generation and is reconciled again.
	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "shop", types.MergePatchType,
		[]byte(`{"spec":{"rollout":{"retries":3}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	obj = waitReconciled(t, ctx, ns, "shop", 2)
	if msg := fmt.Sprint(condition(obj, "Ready")["message"]); !strings.HasPrefix(msg, "Generation 2:") {
		t.Errorf("Ready message after the change = %q", msg)
	}
	eventually(t, 30*time.Second, "an Event for generation 2", func() (bool, string, error) {
		evs, err := events(ctx, ns, "shop")
		for _, e := range evs {
			if strings.HasPrefix(e.Message, "Generation 2:") {
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("%d events", len(evs)), err
	})

	// The Docker stage cannot reach the sample's registry (registry.example.com)
	// from here: it waits that out, retrying with backoff.
	obj = waitCondition(t, ctx, ns, "shop", "DockerReady", "Unknown", "RegistryUnavailable", time.Minute)
	if g := condition(obj, "DockerReady")["observedGeneration"]; fmt.Sprint(g) != "2" {
		t.Errorf("DockerReady observedGeneration = %v, want 2", g)
	}

	// Nothing changed since: the operator writes nothing (no status loop, no
	// Event storm), however often it retries the registry. Absence needs a
	// window to watch; 3 s is several retries.
	rv := obj.GetResourceVersion()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		cur, err := getP4D(ctx, ns, "shop")
		if err != nil {
			t.Fatal(err)
		}
		if cur.GetResourceVersion() != rv {
			t.Fatalf("the resource was written again without a change (resourceVersion %s → %s)", rv, cur.GetResourceVersion())
		}
		time.Sleep(200 * time.Millisecond)
	}
	evs, err := events(ctx, ns, "shop")
	if err != nil {
		t.Fatal(err)
	}
	// One Progressing Event per generation; the sample's registry (registry.example.com)
	// cannot be reached from here, which is one Warning series, not one per retry.
	progressing, warnings := 0, 0
	for _, e := range evs {
		switch {
		case e.Type == "Normal" && e.Reason == "Progressing":
			progressing++
		case e.Type == "Warning" && e.Reason == "RegistryUnavailable":
			warnings++
		default:
			t.Errorf("unexpected Event %s/%s: %s", e.Type, e.Reason, e.Message)
		}
	}
	if progressing != 2 || warnings > 1 {
		t.Errorf("%d Progressing Events for 2 generations (want 2) and %d RegistryUnavailable series (want at most 1): %v",
			progressing, warnings, evs)
	}

	// Deleting the resource is quiet: no error in the operator's log.
	if err := dyn.Resource(p4dGVR).Namespace(ns).Delete(ctx, "shop", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "shop to be gone", func() (bool, string, error) {
		_, err := getP4D(ctx, ns, "shop")
		return err != nil, "still there", nil
	})
	// (Lines about other resources are other tests' leftovers the operator also
	// reconciles, such as a gate failing in a namespace being deleted.)
	for _, l := range strings.Split(op.log(), "\n") {
		if !strings.Contains(l, "level=error") && !strings.Contains(l, "level=warn") {
			continue
		}
		if strings.Contains(l, " key=") && !strings.Contains(l, " key="+ns+"/") {
			continue
		}
		t.Errorf("operator logged a warning or an error: %s", l)
	}
}

func httpGet(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func leaseHolder(ctx context.Context) string {
	l, err := kube.CoordinationV1().Leases(operatorNamespace).Get(ctx, "phase4-operator", metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// metric reads one sample's value from /metrics text.
func metric(text, name string) string {
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == name {
			return f[1]
		}
	}
	return ""
}

// The duration flags whose zero means "at once" take it as the chart writes
// it ("0s") and as a bare 0; other words are refused, naming the flag.
func TestDurationFlagsTakeZero(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bin := filepath.Join(repoRoot(), "build", "phase4-operator")
	for _, flag := range []string{"--status-progress-interval", "--recheck-spread"} {
		for _, v := range []string{"0s", "0", "5s"} {
			if out, err := run(ctx, nil, bin, flag, v, "--help"); err != nil {
				t.Errorf("phase4-operator %s %s: %v\n%s", flag, v, err, out)
			}
		}
		if out, err := run(ctx, nil, bin, flag, "soon", "--help"); err == nil || !strings.Contains(out, "bad value 'soon' for "+flag) {
			t.Errorf("phase4-operator %s soon: %v, want it refused saying why:\n%s", flag, err, out)
		}
	}
}

// Two instances: exactly one leads (and only it reconciles); when it gets
// SIGTERM it releases the Lease and the other leads well within the lease
// duration. Probes and metrics answer as Kubernetes and Prometheus expect,
// and each shows its helm concurrency: the flag's, or the CPUs it may use.
func TestLeaderElectionAndEndpoints(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-leader")
	for _, bad := range []string{"0", "-2", "four", "3x", ""} {
		out, err := run(ctx, nil, filepath.Join(repoRoot(), "build", "phase4-operator"), "--helm-concurrency", bad)
		if err == nil || !strings.Contains(out, "bad value '"+bad+"' for --helm-concurrency: want a whole number from 1 to 1000") {
			t.Errorf("phase4-operator --helm-concurrency %q: %v, want it refused saying why:\n%s", bad, err, out)
		}
	}
	a := startOperator(t, ctx, "--helm-concurrency", "3")
	b := startOperator(t, ctx)

	eventually(t, time.Minute, "one of two instances to lead", func() (bool, string, error) {
		ma, mb := scrape(a), scrape(b)
		la, lb := metric(ma, "phase4_leader"), metric(mb, "phase4_leader")
		return (la == "1") != (lb == "1") && la != "" && lb != "", "a=" + la + " b=" + lb, nil
	})
	leader, standby := a, b
	if metric(scrape(b), "phase4_leader") == "1" {
		leader, standby = b, a
	}
	// The log is copied from the process's pipe by a goroutine, so the line
	// naming the identity may arrive a moment after the metric says 1.
	holder := ""
	eventually(t, 10*time.Second, "the Lease holder to be the instance reporting leadership", func() (bool, string, error) {
		holder = leaseHolder(ctx)
		return holder != "" && strings.Contains(leader.log(), holder), "holder " + holder, nil
	})

	// The helm limit: the flag's on a (logged at start), the CPUs the process may
	// use on b (the test runs beside it: at most its affinity, at least 1).
	if v := metric(scrape(a), "phase4_helm_concurrency_limit"); v != "3" {
		t.Errorf("phase4_helm_concurrency_limit with --helm-concurrency 3 = %q, want 3", v)
	}
	eventually(t, 10*time.Second, "the helm limit in the log", func() (bool, string, error) {
		return regexp.MustCompile(`helm concurrency"? limit=3 from=--helm-concurrency`).MatchString(a.log()), "", nil
	})
	if v, err := strconv.Atoi(metric(scrape(b), "phase4_helm_concurrency_limit")); err != nil || v < 1 || v > runtime.NumCPU() {
		t.Errorf("phase4_helm_concurrency_limit by default = %d (%v), want 1 to %d (the CPUs)", v, err, runtime.NumCPU())
	}

	// Probes: healthy, and ready once the cache has synced, on both.
	for _, o := range []*operator{a, b} {
		eventually(t, 30*time.Second, "/readyz ok", func() (bool, string, error) {
			code, body, err := httpGet(o.probes + "/readyz")
			return err == nil && code == 200, fmt.Sprint(code, body, err), nil
		})
		if code, _, err := httpGet(o.probes + "/healthz"); err != nil || code != 200 {
			t.Errorf("/healthz = %d, %v", code, err)
		}
		if code, _, _ := httpGet(o.probes + "/nothing-here"); code != 404 {
			t.Errorf("/nothing-here = %d, want 404", code)
		}
	}

	// Only the leader reconciles.
	if out, err := kubectl(ctx, "apply", "-n", ns, "-f", filepath.Join(repoRoot(), "examples", "shop.yaml")); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	waitReconciled(t, ctx, ns, "shop", 1)
	if w := metric(scrape(standby), "phase4_status_writes_total"); w != "0" {
		t.Errorf("the standby wrote status %s times", w)
	}

	// The metrics are valid Prometheus text (promtool) and count what happened.
	text := scrape(leader)
	check := exec.CommandContext(ctx, "promtool", "check", "metrics")
	check.Stdin = strings.NewReader(text)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s\n%s", err, out, text)
	}
	checkMetricsReference(t, text)
	for _, name := range []string{`phase4_reconcile_total{result="success"}`, "phase4_status_writes_total",
		"phase4_reconcile_duration_seconds_count", "phase4_cached_objects", `phase4_kube_requests_total{verb="PATCH",code="2xx"}`} {
		if v := metric(text, name); v == "" || v == "0" {
			t.Errorf("metric %s = %q, want > 0", name, v)
		}
	}

	// SIGTERM the leader: it releases the Lease, the standby takes over fast.
	stopped := time.Now()
	_ = leader.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-leader.done:
		if err != nil {
			t.Fatalf("leader exited with %v after SIGTERM", err)
		}
	case <-ctx.Done():
		t.Fatal("leader did not exit")
	}
	eventually(t, 15*time.Second, "the standby to lead (lease duration 15 s)", func() (bool, string, error) {
		return metric(scrape(standby), "phase4_leader") == "1", leaseHolder(ctx), nil
	})
	if strings.Contains(standby.log(), "became the leader") {
		t.Logf("standby took over %s after the leader's SIGTERM", time.Since(stopped).Round(100*time.Millisecond))
	}
	if h := leaseHolder(ctx); h == "" || h == holder {
		t.Errorf("Lease holder after takeover = %q (was %q)", h, holder)
	}
	// The new leader reconciles: a spec change is picked up.
	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "shop", types.MergePatchType,
		[]byte(`{"spec":{"rollout":{"retries":4}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitReconciled(t, ctx, ns, "shop", 2)
}

// checkMetricsReference holds docs/reference/metrics.md to what a running operator
// exposes: every family of its /metrics (a "# TYPE" line) is listed there with its
// type, and every family listed there is exposed. (hack/docs-ref holds the page to the
// code's "# TYPE" lines too; this is the same promise checked on the real answer.)
func checkMetricsReference(t *testing.T, text string) {
	t.Helper()
	page, err := os.ReadFile(filepath.Join(repoRoot(), "docs", "reference", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `(phase4_[a-z0-9_]+)` \\| ([a-z]+) \\|")
	documented := map[string]string{}
	for _, line := range strings.Split(string(page), "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			documented[m[1]] = m[2]
		}
	}
	exposed := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			exposed[f[2]] = f[3]
		}
	}
	if len(exposed) == 0 {
		t.Fatalf("no # TYPE line in /metrics:\n%s", text)
	}
	for name, typ := range exposed {
		if d, ok := documented[name]; !ok {
			t.Errorf("/metrics has %s (%s), which docs/reference/metrics.md does not list", name, typ)
		} else if d != typ {
			t.Errorf("/metrics has %s as a %s; docs/reference/metrics.md says %s", name, typ, d)
		}
	}
	for name := range documented {
		if _, ok := exposed[name]; !ok {
			t.Errorf("docs/reference/metrics.md lists %s, which /metrics does not have", name)
		}
	}
}

func scrape(o *operator) string {
	_, body, _ := httpGet(o.metrics + "/metrics")
	return body
}

// execKubeconfig writes a kubeconfig whose user is an exec credential
// plugin: /bin/sh running script, with env set.
func execKubeconfig(t testing.TB, script string, env map[string]string, hint string) string {
	t.Helper()
	admin, err := clientcmd.LoadFromFile(os.Getenv("KUBECONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	exec := &clientcmdapi.ExecConfig{Command: "/bin/sh", Args: []string{"-c", script},
		APIVersion: "client.authentication.k8s.io/v1", InstallHint: hint, InteractiveMode: clientcmdapi.NeverExecInteractiveMode}
	for k, v := range env {
		exec.Env = append(exec.Env, clientcmdapi.ExecEnvVar{Name: k, Value: v})
	}
	cfg.AuthInfos["plugin"] = &clientcmdapi.AuthInfo{Exec: exec}
	cfg.Contexts["plugin"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "plugin"}
	cfg.CurrentContext = "plugin"
	path := filepath.Join(t.TempDir(), "exec.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// The operator authenticates through an exec credential plugin (as with
// EKS, GKE or kubelogin): it runs the plugin once and reuses its token; a
// plugin that cannot run leaves the operator up, unready, saying why.
func TestExecCredentialPlugin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	operatorKubeconfig(t, ctx) // the ServiceAccount and its RBAC
	ns := newNamespace(t, ctx, "e2e-exec")
	token, err := kubectl(ctx, "create", "token", "phase4-operator", "-n", operatorNamespace, "--duration=1h")
	if err != nil {
		t.Fatalf("create token: %v: %s", err, token)
	}
	runs := filepath.Join(t.TempDir(), "runs")
	kc := execKubeconfig(t, `echo run >> "$RUNS"; printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$P4_TOKEN"`,
		map[string]string{"P4_TOKEN": strings.TrimSpace(token), "RUNS": runs}, "")
	op := startOperator(t, ctx, "--kubeconfig", kc)
	applyShop(t, ctx, ns, "via-plugin")
	waitReconciled(t, ctx, ns, "via-plugin", 1)
	b, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "run\n"); n != 1 {
		t.Errorf("the plugin ran %d times for a token without expiry, want 1", n)
	}
	if n := metric(scrape(op), `phase4_kube_requests_total{verb="GET",code="2xx"}`); n == "" || n == "0" {
		t.Errorf("no successful requests counted: %q", n)
	}
	if strings.Contains(op.log(), strings.TrimSpace(token)) {
		t.Error("the operator logged the plugin's token")
	}

	broken := execKubeconfig(t, `echo "credentials expired: run 'phase4 login'" >&2; exit 1`, nil, "")
	bad := startOperator(t, ctx, "--kubeconfig", broken)
	eventually(t, 30*time.Second, "the broken plugin's error in the log", func() (bool, string, error) {
		return strings.Contains(bad.log(), "credentials expired: run 'phase4 login'"), "", nil
	})
	if code, body, _ := httpGet(bad.probes + "/readyz"); code != 503 || !strings.Contains(body, "not synced") {
		t.Errorf("/readyz with a broken plugin = %d %q, want 503", code, body)
	}
}
