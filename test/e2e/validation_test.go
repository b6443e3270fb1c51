package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// hostAddress is an address of this machine that is not loopback: the API
// server's service proxy refuses to reach loopback and link-local addresses,
// so a test server behind a Service must listen on another one.
func hostAddress(t testing.TB) string {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatalf("list network interfaces: %v", err)
	}
	for _, i := range ifaces {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				return n.IP.String()
			}
		}
	}
	t.Fatal("this machine has no up, non-loopback IPv4 address for a test server the API server's service proxy may reach")
	return ""
}

// serveBehindService starts handler on this machine and makes Service ns/name
// (port 80 named http, no selector) point at it through an Endpoints object
// and an EndpointSlice, as a Service of pods elsewhere would. The API
// server's service proxy reads the Endpoints and proxies only to an address
// of a pod, so a Pod that no scheduler takes (schedulerName nobody serves)
// carries the server's address in its status. It returns the server's own
// URL.
func serveBehindService(t testing.TB, ctx context.Context, ns, name string, handler http.Handler) string {
	t.Helper()
	ip := hostAddress(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port

	if _, err := kube.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80,
			TargetPort: intstr.FromInt32(int32(port))}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create Service %s: %v", name, err)
	}
	// The proxy reaches only an address that is a pod's (its targetRef, whose
	// status.podIPs holds it): a pod no scheduler takes stands for the
	// server, with the server's address as its IP.
	pod, err := kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-backend", Labels: map[string]string{"e2e.phase4.io/backend": name}},
		Spec: corev1.PodSpec{SchedulerName: "phase4-e2e-unscheduled",
			Containers: []corev1.Container{{Name: "server", Image: "e2e.phase4.io/test-server"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create the backend Pod of %s: %v", name, err)
	}
	pod.Status.PodIP, pod.Status.PodIPs = ip, []corev1.PodIP{{IP: ip}}
	if _, err := kube.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("give the backend Pod of %s its address: %v", name, err)
	}
	ref := &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod.Name, UID: pod.UID}
	if _, err := kube.CoreV1().Endpoints(ns).Create(ctx, &corev1.Endpoints{ //nolint:staticcheck // the service proxy reads Endpoints
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: ip, TargetRef: ref}},
			Ports: []corev1.EndpointPort{{Name: "http", Port: int32(port)}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create Endpoints %s: %v", name, err)
	}
	ready := true
	portName, portNum := "http", int32(port)
	if _, err := kube.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-e2e", Labels: map[string]string{
			discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: "e2e.phase4.io"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{ip}, TargetRef: ref,
			Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports: []discoveryv1.EndpointPort{{Name: &portName, Port: &portNum}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create EndpointSlice %s: %v", name, err)
	}
	return "http://" + net.JoinHostPort(ip, strconv.Itoa(port))
}

// healthHandler serves /healthz (200, JSON status ok), /broken (503) and
// /slow (answers after 3 s); hits counts the requests to /broken.
func healthHandler(hits *atomic.Int64) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok","checks":{"db":{"status":"up"}}}`))
	})
	mux.HandleFunc("/broken", func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("database connection refused"))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	return mux
}

// validationGate is the status.gates entry of the Validation stage called name.
func validationGate(obj *unstructured.Unstructured, name string) map[string]any {
	gates, _, _ := unstructured.NestedSlice(obj.Object, "status", "gates")
	for _, g := range gates {
		if m, ok := g.(map[string]any); ok && m["stage"] == "Validation" && m["name"] == name {
			return m
		}
	}
	return nil
}

// withValidation is a webapp Phase4Deployment (its image passes the Docker
// stage) with validation as its spec.validation and retries artifact retries.
func withValidation(t testing.TB, ns, name string, retries int64, validation map[string]any) *unstructured.Unstructured {
	obj := kubeP4D(t, ns, name, "0.1.0", nil)
	spec := obj.Object["spec"].(map[string]any)
	spec["validation"] = validation
	spec["rollout"] = map[string]any{"retries": retries}
	return obj
}

// waitVerdict waits for status.verdict at the resource's generation.
func waitVerdict(t testing.TB, ctx context.Context, ns, name, verdict string, timeout time.Duration) *unstructured.Unstructured {
	t.Helper()
	var obj *unstructured.Unstructured
	eventually(t, timeout, fmt.Sprintf("%s/%s verdict %s", ns, name, verdict), func() (bool, string, error) {
		var err error
		if obj, err = getP4D(ctx, ns, name); err != nil {
			return false, "", err
		}
		v, _, _ := unstructured.NestedString(obj.Object, "status", "verdict")
		gen, _, _ := unstructured.NestedInt64(obj.Object, "status", "report", "generation")
		return v == verdict && gen == obj.GetGeneration(),
			fmt.Sprintf("verdict %q for generation %d; Ready %v; gates %v", v, gen, condition(obj, "Ready"),
				validationGate(obj, "HealthEndpoints")), nil
	})
	return obj
}

// A good chart with a health endpoint that answers: every Validation gate is
// shown (the undeclared ones NotRequired), the verdict is SUCCESSFUL, Ready is
// True (so kubectl wait returns), and kubectl describe shows the verdict, the
// report and the readiness checklist.
func TestValidationHealthEndpointsAndVerdict(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-validate")
	var hits atomic.Int64
	direct := serveBehindService(t, ctx, ns, "health", healthHandler(&hits))
	kubeOperator(t, ctx)

	createP4D(t, ctx, withValidation(t, ns, "web", 2, map[string]any{"http": []any{
		map[string]any{"name": "api", "service": "health", "port": 80, "path": "/healthz",
			"json": map[string]any{"path": "checks.db.status", "value": "up"}, "successThreshold": 2, "interval": "200ms"},
		map[string]any{"url": direct + "/healthz", "bodyContains": `"status":"ok"`},
	}}))

	// kubectl wait returns once Ready=True: the whole pipeline passed.
	if out, err := kubectl(ctx, "wait", "--for=condition=Ready", "p4d/web", "-n", ns, "--timeout=150s"); err != nil {
		obj, _ := getP4D(ctx, ns, "web")
		t.Fatalf("kubectl wait --for=condition=Ready: %v\n%s\nstatus: %v", err, out, obj.Object["status"])
	}
	obj := waitVerdict(t, ctx, ns, "web", "SUCCESSFUL", 10*time.Second)
	if c := condition(obj, "Ready"); c["reason"] != "Succeeded" || !strings.Contains(fmt.Sprint(c["message"]), "SUCCESSFUL") {
		t.Errorf("Ready = %v, want True/Succeeded saying SUCCESSFUL", c)
	}
	if c := condition(obj, "Validated"); c == nil || c["status"] != "True" {
		t.Errorf("Validated = %v, want True", c)
	}
	if stage, _, _ := unstructured.NestedString(obj.Object, "status", "stage"); stage != "Done" {
		t.Errorf("status.stage = %q, want Done", stage)
	}
	g := validationGate(obj, "HealthEndpoints")
	if g == nil || g["status"] != "True" || g["reason"] != "HealthChecksPassed" {
		t.Errorf("HealthEndpoints gate = %v, want True/HealthChecksPassed", g)
	}
	for _, name := range []string{"SmokeTests", "Logs", "Metrics"} {
		if g := validationGate(obj, name); g == nil || g["status"] != "True" {
			t.Errorf("%s gate = %v, want True (NotRequired when nothing is declared)", name, g)
		}
	}
	if g := validationGate(obj, "SmokeTests"); g["reason"] != "NotRequired" {
		t.Errorf("SmokeTests gate = %v, want NotRequired (none declared)", g)
	}
	stages, _, _ := unstructured.NestedSlice(obj.Object, "status", "report", "stages")
	if len(stages) != 4 {
		t.Fatalf("status.report.stages = %v, want the four stages", stages)
	}
	for _, s := range stages {
		m := s.(map[string]any)
		if m["result"] != "Passed" || m["startedAt"] == nil || m["finishedAt"] == nil || m["duration"] == nil {
			t.Errorf("report stage %v, want Passed with its start, end and duration", m)
		}
	}
	if img, _, _ := unstructured.NestedString(obj.Object, "status", "report", "artifacts", "image"); !strings.Contains(img, "@sha256:") {
		t.Errorf("status.report.artifacts.image = %q, want the image pinned by digest", img)
	}
	if imgs, _, _ := unstructured.NestedStringSlice(obj.Object, "status", "report", "artifacts", "images"); len(imgs) == 0 || !strings.Contains(imgs[0], "@sha256:") {
		t.Errorf("status.report.artifacts.images = %v, want the pinned image first", imgs)
	}
	if lkg, _, _ := unstructured.NestedInt64(obj.Object, "status", "lastKnownGoodRevision"); lkg != 1 {
		t.Errorf("status.lastKnownGoodRevision = %d, want 1", lkg)
	}
	waitEvent(t, ctx, ns, "web", "Normal", "DeploymentSucceeded", "Generation 1: SUCCESSFUL")

	out, err := kubectl(ctx, "get", "p4d", "web", "-n", ns)
	if err != nil || !strings.Contains(out, "SUCCESSFUL") || !strings.Contains(out, "Done") {
		t.Errorf("kubectl get p4d shows no verdict: %v\n%s", err, out)
	}
	out, err = kubectl(ctx, "describe", "p4d", "web", "-n", ns)
	if err != nil {
		t.Fatalf("kubectl describe: %v\n%s", err, out)
	}
	for _, want := range []string{`\n  Verdict:\s+SUCCESSFUL\n`, `\n  Readiness:\n`, `\n  Report:\n`, `Name:\s+HealthEndpoints`,
		`Normal\s+DeploymentSucceeded`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("kubectl describe lacks %q:\n%s", want, out)
		}
	}
}

// A health endpoint that answers 503 fails after failureThreshold probes in a
// row: HealthCheckFailed with the status and the body, and with no retry left
// the verdict is FAILED, Ready False, Stalled True, and the report says what
// to do. A Service that does not exist is ServiceNotFound; an endpoint slower
// than its timeout is HealthCheckTimedOut.
func TestValidationHealthEndpointFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-validate-fail")
	var hits atomic.Int64
	serveBehindService(t, ctx, ns, "health", healthHandler(&hits))
	kubeOperator(t, ctx)

	createP4D(t, ctx, withValidation(t, ns, "broken", 0, map[string]any{"http": []any{
		map[string]any{"service": "health", "port": "http", "path": "/broken", "failureThreshold": 3, "interval": "100ms"},
	}}))
	createP4D(t, ctx, withValidation(t, ns, "missing", 0, map[string]any{"http": []any{
		map[string]any{"service": "no-such-service", "port": 80, "failureThreshold": 1},
	}}))
	createP4D(t, ctx, withValidation(t, ns, "slow", 0, map[string]any{"http": []any{
		map[string]any{"service": "health", "port": 80, "path": "/slow", "timeout": "500ms", "failureThreshold": 1},
	}}))

	obj := waitVerdict(t, ctx, ns, "broken", "FAILED", 150*time.Second)
	c := condition(obj, "Validated")
	if c == nil || c["status"] != "False" || c["reason"] != "HealthCheckFailed" {
		t.Fatalf("Validated = %v, want False/HealthCheckFailed", c)
	}
	for _, want := range []string{"health:http/broken", "3 time(s) in a row", "status 503", "database connection refused"} {
		if !strings.Contains(fmt.Sprint(c["message"]), want) {
			t.Errorf("Validated message lacks %q: %v", want, c["message"])
		}
	}
	if n := hits.Load(); n < 3 {
		t.Errorf("the endpoint was probed %d time(s), want at least failureThreshold (3)", n)
	}
	if r := condition(obj, "Ready"); r["status"] != "False" || r["reason"] != "HealthCheckFailed" {
		t.Errorf("Ready = %v, want False/HealthCheckFailed", r)
	}
	if s := condition(obj, "Stalled"); s == nil || s["status"] != "True" || s["reason"] != "RegenerationRequired" {
		t.Errorf("Stalled = %v, want True/RegenerationRequired (no retry left)", s)
	}
	fail, _, _ := unstructured.NestedStringMap(obj.Object, "status", "report", "failure")
	if fail["stage"] != "Validation" || fail["gate"] != "HealthEndpoints" || fail["reason"] != "HealthCheckFailed" ||
		!strings.Contains(fail["remediation"], "health endpoint") {
		t.Errorf("status.report.failure = %v, want the Validation stage's HealthEndpoints gate with a remediation", fail)
	}
	waitEvent(t, ctx, ns, "broken", "Warning", "DeploymentFailed", "FAILED at the Validation stage (HealthCheckFailed)")

	obj = waitVerdict(t, ctx, ns, "missing", "FAILED", 60*time.Second)
	if c := condition(obj, "Validated"); c["reason"] != "ServiceNotFound" || !strings.Contains(fmt.Sprint(c["message"]), "no-such-service") {
		t.Errorf("missing: Validated = %v, want ServiceNotFound naming the Service", c)
	}
	obj = waitVerdict(t, ctx, ns, "slow", "FAILED", 60*time.Second)
	if c := condition(obj, "Validated"); c["reason"] != "HealthCheckTimedOut" || !strings.Contains(fmt.Sprint(c["message"]), "500 ms") {
		t.Errorf("slow: Validated = %v, want HealthCheckTimedOut naming the timeout", c)
	}
}

// setPodReady sets a pod's Ready and ContainersReady conditions as a kubelet
// would (KWOK leaves a Running pod's status alone).
func setPodReady(t testing.TB, ctx context.Context, ns, name string, ready bool) {
	t.Helper()
	status := "False"
	if ready {
		status = "True"
	}
	patch := fmt.Sprintf(`{"status":{"conditions":[{"type":"Ready","status":%q},{"type":"ContainersReady","status":%q}]}}`,
		status, status)
	if out, err := kubectl(ctx, "patch", "pod", name, "-n", ns, "--subresource=status", "--type=strategic", "-p", patch); err != nil {
		t.Fatalf("patch pod %s Ready=%s: %v\n%s", name, status, err, out)
	}
}

// After a SUCCESSFUL verdict the workloads stay watched: a pod that stops
// being ready turns Ready False with reason Degraded (one Warning, naming
// the workload), and when it is ready again Ready is True again (one
// Normal Recovered); the verdict stays SUCCESSFUL throughout.
func TestValidationDegradedAfterTheVerdict(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-degraded")
	kubeOperator(t, ctx)

	createP4D(t, ctx, kubeP4D(t, ns, "web", "0.1.0", map[string]any{"replicaCount": 1}))
	waitVerdict(t, ctx, ns, "web", "SUCCESSFUL", 2*time.Minute)
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=web"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("the release's pods: %v, %v", pods, err)
	}
	pod := pods.Items[0].Name

	setPodReady(t, ctx, ns, pod, false)
	obj := waitCondition(t, ctx, ns, "web", "Ready", "False", "Degraded", time.Minute)
	if msg := fmt.Sprint(condition(obj, "Ready")["message"]); !strings.Contains(msg, "web-webapp") {
		t.Errorf("Ready message does not name the workload: %q", msg)
	}
	if p, _, _ := unstructured.NestedString(obj.Object, "status", "health", "problem"); p == "" {
		t.Error("status.health.problem is empty while Degraded")
	}
	if v, _, _ := unstructured.NestedString(obj.Object, "status", "verdict"); v != "SUCCESSFUL" {
		t.Errorf("status.verdict = %q while Degraded, want SUCCESSFUL (the generation's verdict stays)", v)
	}
	waitEvent(t, ctx, ns, "web", "Warning", "Degraded", "web-webapp")

	setPodReady(t, ctx, ns, pod, true)
	waitCondition(t, ctx, ns, "web", "Ready", "True", "Succeeded", time.Minute)
	waitEvent(t, ctx, ns, "web", "Normal", "Recovered", "SUCCESSFUL")
	events, err := kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if (e.Reason == "Degraded" || e.Reason == "Recovered") && e.Count > 1 {
			t.Errorf("Event %s told %d times, want once", e.Reason, e.Count)
		}
	}
}
