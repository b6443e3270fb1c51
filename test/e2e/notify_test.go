package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const (
	hookToken = "e2e-bearer-token-0123456789"
	hookKey   = "e2e-hmac-key-abcdef"
)

// hookCall is one request the test webhook received.
type hookCall struct {
	header   http.Header
	body     []byte
	doc      map[string]any
	accepted bool
}

// hook is a webhook on 127.0.0.1 (the operator runs on the host) that records every request;
// answer says what status to give the n-th request (0-based) of a resource.
type hook struct {
	mu     sync.Mutex
	calls  []hookCall
	answer func(resource string, n int) int
	srv    *http.Server
	url    string
}

func newHook(t testing.TB, addr string, answer func(resource string, n int) int) *hook {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	h := &hook{answer: answer, url: "http://" + ln.Addr().String() + "/hook"}
	h.srv = &http.Server{Handler: http.HandlerFunc(h.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	t.Cleanup(func() { _ = h.srv.Close() })
	return h
}

func (h *hook) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var doc map[string]any
	_ = json.Unmarshal(body, &doc)
	name := ""
	if res, ok := doc["resource"].(map[string]any); ok {
		name = fmt.Sprint(res["name"])
	}
	h.mu.Lock()
	n := 0
	for _, c := range h.calls {
		if res, ok := c.doc["resource"].(map[string]any); ok && res["name"] == name {
			n++
		}
	}
	code := http.StatusOK
	if h.answer != nil {
		code = h.answer(name, n)
	}
	h.calls = append(h.calls, hookCall{header: r.Header.Clone(), body: body, doc: doc, accepted: code/100 == 2})
	h.mu.Unlock()
	w.WriteHeader(code)
}

// of returns the calls about resource name: all of them, and those accepted.
func (h *hook) of(name string) (all, accepted []hookCall) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.calls {
		if res, ok := c.doc["resource"].(map[string]any); ok && res["name"] == name {
			all = append(all, c)
			if c.accepted {
				accepted = append(accepted, c)
			}
		}
	}
	return all, accepted
}

// hookSecret creates the Secret spec.notify.secretRef names: a bearer token and an HMAC key.
func hookSecret(t testing.TB, ctx context.Context, ns string) {
	t.Helper()
	if _, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "hook"},
		StringData: map[string]string{"token": hookToken, "hmacKey": hookKey},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// withNotify sets spec.notify to url with the hook Secret (plain http: insecure).
func withNotify(obj *unstructured.Unstructured, url string) *unstructured.Unstructured {
	obj.Object["spec"].(map[string]any)["notify"] = map[string]any{
		"url": url, "secretRef": map[string]any{"name": "hook"}, "insecure": true}
	return obj
}

// checkSigned checks the call's bearer token and HMAC signature as a receiver would.
func checkSigned(t testing.TB, c hookCall) {
	t.Helper()
	if got := c.header.Get("Authorization"); got != "Bearer "+hookToken {
		t.Errorf("Authorization = %q, want the bearer token", got)
	}
	if ct := c.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	ts := c.header.Get("X-Phase4-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		t.Errorf("X-Phase4-Timestamp = %q: not a recent Unix time", ts)
	}
	mac := hmac.New(sha256.New, []byte(hookKey))
	mac.Write([]byte(ts + "."))
	mac.Write(c.body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if got := c.header.Get("X-Phase4-Signature"); !hmac.Equal([]byte(got), []byte(want)) {
		t.Errorf("X-Phase4-Signature = %q, want %q", got, want)
	}
	if id := c.header.Get("X-Phase4-Id"); id == "" || id != c.doc["id"] {
		t.Errorf("X-Phase4-Id = %q, document id %v", id, c.doc["id"])
	}
	if strings.Contains(string(c.body), hookToken) || strings.Contains(string(c.body), hookKey) {
		t.Errorf("the document holds a Secret value: %s", c.body)
	}
}

// waitNotified waits for the Notified condition with status and reason.
func waitNotified(t testing.TB, ctx context.Context, ns, name, status, reason string, timeout time.Duration) *unstructured.Unstructured {
	t.Helper()
	return waitCondition(t, ctx, ns, name, "Notified", status, reason, timeout)
}

// warningsWith counts the Warning Events of reason about name, a repeated one (count) included.
func warningsWith(ctx context.Context, ns, name, reason string) (int, error) {
	evs, err := events(ctx, ns, name)
	n := 0
	for _, e := range evs {
		if e.Type == "Warning" && e.Reason == reason {
			n += max(int(e.Count), 1)
		}
	}
	return n, err
}

// A broken chart with one retry fails twice, stalls with RegenerationRequired, and the webhook
// gets exactly one signed document for it; a good release gets exactly one SUCCESSFUL verdict.
func TestNotifyStallAndVerdict(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-notify")
	hookSecret(t, ctx, ns)
	h := newHook(t, "", nil)
	kubeOperator(t, ctx)
	charts := chartsEnv(t)

	broken := helmP4D(t, ns, "broken", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "template-error", "version": "0.1.0"})
	broken.Object["spec"].(map[string]any)["rollout"] = map[string]any{"retries": int64(1)}
	createP4D(t, ctx, withNotify(broken, h.url))
	createP4D(t, ctx, withNotify(kubeP4D(t, ns, "good", "0.1.0", nil), h.url))

	waitVerdict(t, ctx, ns, "broken", "FAILED", 2*time.Minute)
	obj := waitNotified(t, ctx, ns, "broken", "True", "Delivered", time.Minute)
	all, accepted := h.of("broken")
	if len(all) != 1 || len(accepted) != 1 {
		t.Fatalf("broken: %d calls (%d accepted), want exactly 1", len(all), len(accepted))
	}
	c := all[0]
	checkSigned(t, c)
	uid := string(obj.GetUID())
	want := map[string]any{"type": "phase4.io/notification/v1", "id": uid + "/1/RegenerationRequired",
		"event": "RegenerationRequired", "reason": "RegenerationRequired", "verdict": "FAILED",
		"stage": "Helm", "gate": "DryRun", "generation": float64(1)}
	for k, v := range want {
		if c.doc[k] != v {
			t.Errorf("document %s = %v, want %v", k, c.doc[k], v)
		}
	}
	res, _ := c.doc["resource"].(map[string]any)
	if res["apiVersion"] != "phase4.io/v1alpha1" || res["kind"] != "Phase4Deployment" ||
		res["namespace"] != ns || res["name"] != "broken" || res["uid"] != uid {
		t.Errorf("document resource = %v", res)
	}
	if f, _ := c.doc["failure"].(map[string]any); f["reason"] != "TemplateRenderFailed" {
		t.Errorf("document failure = %v, want reason TemplateRenderFailed", c.doc["failure"])
	}
	if msg := fmt.Sprint(c.doc["message"]); !strings.Contains(msg, "failed 2 times") {
		t.Errorf("document message = %q, want the Stalled message", msg)
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(c.doc["time"])); err != nil {
		t.Errorf("document time = %v: %v", c.doc["time"], err)
	}
	if a, ok := c.doc["artifacts"].(map[string]any); !ok || !strings.Contains(fmt.Sprint(a["image"]), "@sha256:") {
		t.Errorf("document artifacts = %v, want the image digest", c.doc["artifacts"])
	}
	delivered, _, _ := unstructured.NestedSlice(obj.Object, "status", "notifications", "delivered")
	if len(delivered) != 1 || delivered[0].(map[string]any)["id"] != c.doc["id"] {
		t.Errorf("status.notifications.delivered = %v", delivered)
	}
	if pending, _, _ := unstructured.NestedSlice(obj.Object, "status", "notifications", "pending"); len(pending) != 0 {
		t.Errorf("status.notifications.pending = %v, want none", pending)
	}

	waitVerdict(t, ctx, ns, "good", "SUCCESSFUL", 2*time.Minute)
	obj = waitNotified(t, ctx, ns, "good", "True", "Delivered", time.Minute)
	all, accepted = h.of("good")
	if len(all) != 1 || len(accepted) != 1 {
		t.Fatalf("good: %d calls (%d accepted), want exactly 1", len(all), len(accepted))
	}
	c = all[0]
	checkSigned(t, c)
	if c.doc["event"] != "Verdict" || c.doc["verdict"] != "SUCCESSFUL" || c.doc["id"] != string(obj.GetUID())+"/1/Verdict" {
		t.Errorf("good: document %v", c.doc)
	}
	a, _ := c.doc["artifacts"].(map[string]any)
	if a["chart"] != "webapp 0.1.0" || a["inventory"] == nil || a["images"] == nil {
		t.Errorf("good: artifacts %v, want the chart, the images and the inventory count", a)
	}
	// The broken one was not sent again meanwhile.
	if all, _ := h.of("broken"); len(all) != 1 {
		t.Errorf("broken: %d calls by now, want still 1", len(all))
	}
}

// A webhook that answers 500 twice then 200 gets three requests, one accepted, and Notified
// goes False (one Warning) then True; a webhook that is down holds nothing up: the resource
// becomes Ready, Notified says the webhook is unreachable, with one Warning for the streak.
func TestNotifyRetriesAndUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-notify-retry")
	hookSecret(t, ctx, ns)
	h := newHook(t, "", func(_ string, n int) int {
		if n < 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	o := kubeOperator(t, ctx)
	charts := chartsEnv(t)

	flaky := helmP4D(t, ns, "flaky", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "template-error", "version": "0.1.0"})
	createP4D(t, ctx, withNotify(flaky, h.url))
	down := freePort(t) // nothing listens there
	createP4D(t, ctx, withNotify(kubeP4D(t, ns, "lonely", "0.1.0", nil), "http://127.0.0.1:"+down+"/hook"))

	obj := waitNotified(t, ctx, ns, "flaky", "False", "WebhookFailed", 2*time.Minute)
	if c := condition(obj, "Notified"); !strings.Contains(fmt.Sprint(c["message"]), "HTTP 500") ||
		strings.Contains(fmt.Sprint(c["message"]), hookToken) {
		t.Errorf("Notified message = %q, want the HTTP status and no token", c["message"])
	}
	waitNotified(t, ctx, ns, "flaky", "True", "Delivered", time.Minute)
	all, accepted := h.of("flaky")
	if len(all) != 3 || len(accepted) != 1 {
		t.Errorf("flaky: %d requests, %d accepted; want 3 and 1", len(all), len(accepted))
	}
	for _, c := range all {
		if c.doc["id"] != all[0].doc["id"] {
			t.Errorf("flaky: a retry carries id %v, the first %v", c.doc["id"], all[0].doc["id"])
		}
	}
	if n, err := warningsWith(ctx, ns, "flaky", "WebhookFailed"); err != nil || n != 1 {
		t.Errorf("flaky: %d WebhookFailed Warnings (%v), want 1", n, err)
	}

	waitCondition(t, ctx, ns, "lonely", "Ready", "True", "Succeeded", 2*time.Minute)
	eventually(t, time.Minute, "lonely: three failed attempts on record", func() (bool, string, error) {
		obj, err := getP4D(ctx, ns, "lonely")
		if err != nil {
			return false, "", err
		}
		pending, _, _ := unstructured.NestedSlice(obj.Object, "status", "notifications", "pending")
		if len(pending) != 1 {
			return false, fmt.Sprint(pending), nil
		}
		n, _, _ := unstructured.NestedInt64(pending[0].(map[string]any), "attempts")
		return n >= 3, fmt.Sprint(pending[0].(map[string]any)["lastError"]), nil
	})
	obj = waitNotified(t, ctx, ns, "lonely", "False", "WebhookUnreachable", time.Second)
	if msg := fmt.Sprint(condition(obj, "Notified")["message"]); !strings.Contains(msg, "127.0.0.1:"+down) {
		t.Errorf("Notified message = %q, want the webhook named", msg)
	}
	if n, err := warningsWith(ctx, ns, "lonely", "WebhookUnreachable"); err != nil || n != 1 {
		t.Errorf("lonely: %d WebhookUnreachable Warnings (%v), want 1 for the streak", n, err)
	}
	if m := metric(scrape(o), `phase4_notifications_total{result="rejected"}`); m != "2" {
		t.Errorf("phase4_notifications_total rejected = %q, want 2", m)
	}
}

// The operator is killed while a delivery keeps failing; after the restart the document is
// delivered once the webhook answers, and only once.
func TestNotifyRedeliveredAfterRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-notify-restart")
	hookSecret(t, ctx, ns)
	var mu sync.Mutex
	up := false
	h := newHook(t, "", func(string, int) int {
		mu.Lock()
		defer mu.Unlock()
		if up {
			return http.StatusNoContent
		}
		return http.StatusServiceUnavailable
	})
	first := kubeOperator(t, ctx)
	charts := chartsEnv(t)
	createP4D(t, ctx, withNotify(helmP4D(t, ns, "later", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "template-error", "version": "0.1.0"}), h.url))
	waitNotified(t, ctx, ns, "later", "False", "WebhookFailed", 2*time.Minute)
	first.kill9(t)
	mu.Lock()
	up = true
	mu.Unlock()
	kubeOperator(t, ctx)
	obj := waitNotified(t, ctx, ns, "later", "True", "Delivered", 2*time.Minute)
	_, accepted := h.of("later")
	if len(accepted) != 1 {
		t.Errorf("later: %d deliveries accepted, want 1", len(accepted))
	}
	delivered, _, _ := unstructured.NestedSlice(obj.Object, "status", "notifications", "delivered")
	if len(delivered) != 1 {
		t.Errorf("status.notifications.delivered = %v, want one", delivered)
	}
}

// historyGens is the generations in status.history, in order.
func historyGens(obj *unstructured.Unstructured) []int64 {
	h, _, _ := unstructured.NestedSlice(obj.Object, "status", "history")
	var out []int64
	for _, e := range h {
		g, _, _ := unstructured.NestedInt64(e.(map[string]any), "generation")
		out = append(out, g)
	}
	return out
}

// status.history keeps the last ten revisions, newest first, with their verdicts and digests;
// only their manifest Secrets remain, and the last good revision's.
func TestHistoryKeepsTenRevisions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-history")
	kubeOperator(t, ctx)

	createP4D(t, ctx, kubeP4D(t, ns, "web", "0.1.0", nil))
	waitVerdict(t, ctx, ns, "web", "SUCCESSFUL", 2*time.Minute)
	// Generation 2 cannot be scheduled: FAILED, and generation 1 stays the last good one.
	setNodeSelector := func(gen int) {
		t.Helper()
		patch := fmt.Sprintf(`{"spec":{"chart":{"values":{"nodeSelector":{"phase4.io/no-such-label":"v%d"}}}}}`, gen)
		if _, err := kubectl(ctx, "patch", "p4d", "web", "-n", ns, "--type=merge", "-p", patch); err != nil {
			t.Fatalf("patch generation %d: %v", gen, err)
		}
	}
	setNodeSelector(2)
	obj := waitVerdictOf(t, ctx, ns, "web", 2, "FAILED")
	if g := historyGens(obj); len(g) != 2 || g[0] != 2 || g[1] != 1 {
		t.Fatalf("status.history generations %v, want [2 1]", g)
	}
	hist, _, _ := unstructured.NestedSlice(obj.Object, "status", "history")
	newest, oldest := hist[0].(map[string]any), hist[1].(map[string]any)
	if newest["verdict"] != "FAILED" || newest["reason"] != "Unschedulable" || newest["stage"] != "Kubernetes" {
		t.Errorf("history[0] = %v, want FAILED at Kubernetes, Unschedulable", newest)
	}
	if oldest["verdict"] != "SUCCESSFUL" || oldest["reason"] != nil {
		t.Errorf("history[1] = %v, want SUCCESSFUL", oldest)
	}
	for _, e := range hist {
		m := e.(map[string]any)
		chart, _ := m["chart"].(map[string]any)
		if !strings.HasPrefix(fmt.Sprint(m["imageDigest"]), "sha256:") || chart["name"] != "webapp" ||
			chart["version"] != "0.1.0" || m["startedAt"] == nil || m["finishedAt"] == nil || m["images"] == nil {
			t.Errorf("history entry %v: want the digest, the chart, the image count and the times", m)
		}
	}

	for gen := 3; gen <= 12; gen++ {
		setNodeSelector(gen)
		obj = waitVerdictOf(t, ctx, ns, "web", int64(gen), "FAILED")
		if m, _, _ := unstructured.NestedString(obj.Object, "status", "chart", "manifest"); m != fmt.Sprintf("phase4.web.v%d", gen) {
			t.Errorf("generation %d: status.chart.manifest = %q", gen, m)
		}
	}
	if g := historyGens(obj); fmt.Sprint(g) != "[12 11 10 9 8 7 6 5 4 3]" {
		t.Errorf("status.history generations %v, want 12 down to 3", g)
	}
	if lkg, _, _ := unstructured.NestedInt64(obj.Object, "status", "lastKnownGoodRevision"); lkg != 1 {
		t.Errorf("lastKnownGoodRevision = %d, want 1", lkg)
	}
	eventually(t, 30*time.Second, "only the manifests of history and the last good revision", func() (bool, string, error) {
		list, err := kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: "phase4.io/purpose=manifest"})
		if err != nil {
			return false, "", err
		}
		var names []string
		for _, s := range list.Items {
			names = append(names, s.Name)
		}
		want := map[string]bool{"phase4.web.v1": true}
		for g := 3; g <= 12; g++ {
			want[fmt.Sprintf("phase4.web.v%d", g)] = true
		}
		ok := len(names) == len(want)
		for _, n := range names {
			ok = ok && want[n]
		}
		return ok, strings.Join(names, ","), nil
	})
}

// waitVerdictOf waits for verdict on generation gen (status.report.generation).
func waitVerdictOf(t testing.TB, ctx context.Context, ns, name string, gen int64, verdict string) *unstructured.Unstructured {
	t.Helper()
	var obj *unstructured.Unstructured
	eventually(t, 2*time.Minute, fmt.Sprintf("%s/%s generation %d %s", ns, name, gen, verdict), func() (bool, string, error) {
		var err error
		obj, err = getP4D(ctx, ns, name)
		if err != nil {
			return false, "", err
		}
		g, _, _ := unstructured.NestedInt64(obj.Object, "status", "report", "generation")
		v, _, _ := unstructured.NestedString(obj.Object, "status", "verdict")
		return g == gen && v == verdict, fmt.Sprintf("generation %d verdict %q", g, v), nil
	})
	return obj
}

// An operator run with --notify-allow sends nothing to a webhook outside its prefixes, and says so.
func TestNotifyAllowList(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-notify-allow")
	hookSecret(t, ctx, ns)
	h := newHook(t, "", nil)
	kubeOperator(t, ctx, "--notify-allow", "https://hooks.example/,"+h.url+"-not")
	charts := chartsEnv(t)
	createP4D(t, ctx, withNotify(helmP4D(t, ns, "fenced", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "template-error", "version": "0.1.0"}), h.url))
	obj := waitNotified(t, ctx, ns, "fenced", "False", "WebhookNotAllowed", 2*time.Minute)
	if msg := fmt.Sprint(condition(obj, "Notified")["message"]); !strings.Contains(msg, "--notify-allow") {
		t.Errorf("Notified message = %q, want the flag named", msg)
	}
	if all, _ := h.of("fenced"); len(all) != 0 {
		t.Errorf("fenced: %d calls reached the webhook, want none", len(all))
	}
}
