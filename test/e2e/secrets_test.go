package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Secrets stay secret: a value that came from a Secret never reaches a
// status message, an Event or the operator's log; credentials go over TLS
// only (or over plain HTTP when the spec says insecure), never along a
// redirect to another host; URLs are shown without user information. The
// tests read what a tenant reads back: status, Events, and what servers the
// test runs were sent.

// leaks fails the test if any of secrets (or any line of one, of eight
// bytes or more) is in the resource's status, its Events or the operator's
// log.
func leaks(t testing.TB, ctx context.Context, op *operator, ns, name string, secrets ...string) {
	t.Helper()
	obj, err := getP4D(ctx, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	status, _ := json.Marshal(obj.Object["status"])
	evs, err := events(ctx, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	var evText strings.Builder
	for _, e := range evs {
		evText.WriteString(e.Reason + ": " + e.Message + "\n")
	}
	var needles []string
	for _, s := range secrets {
		needles = append(needles, s)
		for _, l := range strings.Split(s, "\n") {
			if l = strings.TrimSpace(l); len(l) >= 8 && l != s {
				needles = append(needles, l)
			}
		}
	}
	for _, n := range needles {
		if strings.Contains(string(status), n) {
			t.Errorf("%s: status shows the secret %q: %s", name, n, status)
		}
		if strings.Contains(evText.String(), n) {
			t.Errorf("%s: an Event shows the secret %q:\n%s", name, n, evText.String())
		}
		if op != nil && strings.Contains(op.log(), n) {
			t.Errorf("%s: the operator's log shows the secret %q", name, n)
		}
	}
}

// (a) A chart whose template fails with a value from a Secret (valuesFrom),
// as one line in a values document, and as a key of several lines given at a
// targetPath: the messages say the chart failed, with *** where the value was.
func TestSecretValuesAreRedactedFromMessages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-secret-echo")
	charts := chartsEnv(t)
	const token = "Sup3r-Secret-Token-42"
	const key = "-----BEGIN FAKE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEXtenantB\nZmFrZS1rZXktbGluZS10d28tb2YtaXQ=\n-----END FAKE KEY-----\n"
	for name, data := range map[string]map[string]string{
		"db-values": {"values.yaml": "leak: " + token + "\n"},
		"tls":       {"tls.key": key},
	} {
		if _, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: data,
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	op := helmOperator(t, ctx)

	createP4D(t, ctx, helmP4D(t, ns, "one-line", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "secret-echo", "version": "0.1.0", "valuesFrom": []any{
			map[string]any{"kind": "Secret", "name": "db-values"},
		}}))
	createP4D(t, ctx, helmP4D(t, ns, "multi-line", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "secret-echo", "version": "0.1.0", "valuesFrom": []any{
			map[string]any{"kind": "Secret", "name": "tls", "valuesKey": "tls.key", "targetPath": "leak"},
		}}))

	for _, name := range []string{"one-line", "multi-line"} {
		// The failure is there for a user to read, with the value's place marked.
		expectHelmFailure(t, ctx, ns, name, "DryRun", "TemplateRenderFailed", "RegenerationRequired",
			"secret-echo/templates/configmap.yaml", "leaked: ***")
		waitEvent(t, ctx, ns, name, "Warning", "TemplateRenderFailed", "leaked: ***")
	}
	leaks(t, ctx, op, ns, "one-line", token)
	leaks(t, ctx, op, ns, "multi-line", key)
}

// recorder is an HTTP server started by a test that records the
// Authorization header of every request ("" when there was none) and
// answers through next.
type recorder struct {
	mu   sync.Mutex
	auth []string
	srv  *httptest.Server
}

func newRecorder(t testing.TB, next http.HandlerFunc) *recorder {
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.auth = append(r.auth, req.Method+" "+req.URL.Path+" "+req.Header.Get("Authorization"))
		r.mu.Unlock()
		next(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// seen is every request so far, "METHOD /path Authorization".
func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.auth...)
}

// withAuth is how many requests carried an Authorization header.
func (r *recorder) withAuth() int {
	n := 0
	for _, s := range r.seen() {
		if !strings.HasSuffix(s, " ") {
			n++
		}
	}
	return n
}

// serveRepo answers like the chart repository at base, with index.yaml's
// chart URLs rewritten from base to self (so archives come from self too).
func serveRepo(t testing.TB, base string, self func() string) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		resp, err := http.Get(base + req.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if strings.HasSuffix(req.URL.Path, "index.yaml") {
			body = []byte(strings.ReplaceAll(string(body), base, self()))
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	}
}

// uncachedVersion is a version of webapp that no other test has the operator
// fetch: an operator that reconciles an earlier test's resources meanwhile
// has no copy of it in its chart cache, so it asks for the archive.
const uncachedVersion = "1.0.0-rc.1"

func repoSecret(t testing.TB, ctx context.Context, ns, user, password string) {
	t.Helper()
	if _, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "repo-creds"},
		StringData: map[string]string{"username": user, "password": password},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// (b) chart.secretRef with a plain-HTTP repository: refused with
// InsecureCredentials before anything is sent (the repository, a server
// this test runs, sees no request at all, let alone an Authorization
// header); with chart.insecure: true the credentials are sent and the chart
// is fetched.
func TestChartCredentialsOnlyOverTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-insecure-creds")
	charts := chartsEnv(t)
	const user, password = "robot", "tenant-b-repo-password"
	var repo *recorder
	repo = newRecorder(t, serveRepo(t, charts["CHART_REPO_URL"], func() string { return repo.srv.URL }))
	repoSecret(t, ctx, ns, user, password)
	op := helmOperator(t, ctx)

	createP4D(t, ctx, helmP4D(t, ns, "plain", map[string]any{"repository": repo.srv.URL,
		"name": "webapp", "version": "0.1.0", "secretRef": map[string]any{"name": "repo-creds"}}))
	obj := waitCondition(t, ctx, ns, "plain", "HelmReady", "False", "InsecureCredentials", 90*time.Second)
	g := helmGate(obj, "Packaged")
	if g == nil || g["status"] != "False" || g["reason"] != "InsecureCredentials" ||
		!strings.Contains(fmt.Sprint(g["message"]), repo.srv.URL+" over plain HTTP") ||
		!strings.Contains(fmt.Sprint(g["message"]), "spec.chart.insecure") {
		t.Errorf("Packaged gate = %v, want False/InsecureCredentials naming %s and spec.chart.insecure", g, repo.srv.URL)
	}
	expectEscalated(t, ctx, ns, "plain", "InsecureCredentials")
	waitEvent(t, ctx, ns, "plain", "Warning", "InsecureCredentials", repo.srv.URL)
	if s := repo.seen(); len(s) != 0 {
		t.Errorf("the plain-HTTP repository was sent %d request(s), want none: %q", len(s), s)
	}
	leaks(t, ctx, op, ns, "plain", password)

	// The spec says the repository may be used over plain HTTP: the credentials go there.
	// (A version no other test's resource fetches, so no operator has it cached: the archive is asked for.)
	createP4D(t, ctx, helmP4D(t, ns, "allowed", map[string]any{"repository": repo.srv.URL,
		"name": "webapp", "version": uncachedVersion, "insecure": true, "secretRef": map[string]any{"name": "repo-creds"}}))
	obj = waitCondition(t, ctx, ns, "allowed", "HelmReady", "True", "ChartReady", 90*time.Second)
	checkHelmPassed(t, obj)
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
	for _, s := range repo.seen() {
		if !strings.HasSuffix(s, " "+want) {
			t.Errorf("with insecure: true, request %q did not carry the credentials", s)
		}
	}
	if repo.withAuth() < 2 { // index.yaml and the archive, both on the repository's origin
		t.Errorf("requests with credentials: %q, want index.yaml and the archive", repo.seen())
	}
	leaks(t, ctx, op, ns, "allowed", password)
}

// (c) A repository (marked insecure, so credentials go to it) that redirects
// to another host: the same test server's port under another name
// (127.0.0.1 and localhost) and a second server. Neither gets the
// credentials, for the index and the archive alike; the chart is fetched.
func TestCredentialsDoNotFollowRedirectsElsewhere(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-redirect-creds")
	charts := chartsEnv(t)
	const user, password = "robot", "tenant-b-redirect-password"
	// other serves the repository under the name localhost.
	var other *recorder
	other = newRecorder(t, serveRepo(t, charts["CHART_REPO_URL"], func() string {
		u, _ := url.Parse(other.srv.URL)
		return "http://localhost:" + u.Port()
	}))
	otherURL := func() string { u, _ := url.Parse(other.srv.URL); return "http://localhost:" + u.Port() }
	// first redirects every request there.
	first := newRecorder(t, func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, otherURL()+req.URL.Path, http.StatusFound)
	})
	repoSecret(t, ctx, ns, user, password)
	op := helmOperator(t, ctx)

	createP4D(t, ctx, helmP4D(t, ns, "moved", map[string]any{"repository": first.srv.URL,
		"name": "webapp", "version": uncachedVersion, "insecure": true, "secretRef": map[string]any{"name": "repo-creds"}}))
	obj := waitCondition(t, ctx, ns, "moved", "HelmReady", "True", "ChartReady", 90*time.Second)
	checkHelmPassed(t, obj)
	if first.withAuth() == 0 {
		t.Errorf("the repository itself got no credentials: %q", first.seen())
	}
	if len(other.seen()) < 2 {
		t.Errorf("the other host served %q, want index.yaml and the archive", other.seen())
	}
	if n := other.withAuth(); n != 0 {
		t.Errorf("the host redirected to got credentials in %d request(s): %q", n, other.seen())
	}
	leaks(t, ctx, op, ns, "moved", password)
}

// (d) A chart URL with user information: refused, and the message names the
// repository without it.
func TestChartURLCredentialsAreNotShown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-url-creds")
	op := helmOperator(t, ctx)

	createP4D(t, ctx, helmP4D(t, ns, "userinfo", map[string]any{
		"repository": "https://bob:Tenant-Password-99@charts.example.invalid/stable",
		"name":       "webapp", "version": "0.1.0"}))
	obj := waitCondition(t, ctx, ns, "userinfo", "HelmReady", "False", "InvalidChartRepository", 90*time.Second)
	g := helmGate(obj, "Packaged")
	if g == nil || !strings.Contains(fmt.Sprint(g["message"]), "https://***@charts.example.invalid/stable has credentials in it") {
		t.Errorf("Packaged gate = %v, want InvalidChartRepository naming https://***@charts.example.invalid/stable", g)
	}
	waitEvent(t, ctx, ns, "userinfo", "Warning", "InvalidChartRepository", "https://***@charts.example.invalid/stable")
	leaks(t, ctx, op, ns, "userinfo", "Tenant-Password-99", "bob:Tenant")
}

// (b, registries) A TLS registry whose token service is plain HTTP: the
// pull secret's credentials are not sent there (InsecureCredentials, naming
// the token service), and the token service, a server this test runs, sees
// no request at all.
func TestRegistryCredentialsOnlyOverTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-insecure-realm")
	tokens := newRecorder(t, func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"token":"not-checked"}`))
	})
	reg := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="phase4",scope="repository:phase4/app:pull"`,
			tokens.srv.URL+"/token"))
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
	}))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "https://")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: reg.Certificate().Raw})
	if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "registry-ca"}, Data: map[string]string{"ca.crt": string(ca)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const password = "tenant-b-pull-password"
	pullSecret(t, ctx, ns, "creds", host, "puller", password)
	op := dockerOperator(t, ctx)

	createP4D(t, ctx, p4d(ns, "realm", map[string]any{"repository": host + "/phase4/app", "tag": "1.0",
		"caBundle":    map[string]any{"kind": "ConfigMap", "name": "registry-ca"},
		"pullSecrets": []any{map[string]any{"name": "creds"}}}))
	obj := waitCondition(t, ctx, ns, "realm", "DockerReady", "False", "InsecureCredentials", time.Minute)
	if msg := fmt.Sprint(condition(obj, "DockerReady")["message"]); !strings.Contains(msg, tokens.srv.URL+"/token") {
		t.Errorf("DockerReady message = %q, want it to name the token service %s", msg, tokens.srv.URL)
	}
	waitEvent(t, ctx, ns, "realm", "Warning", "InsecureCredentials", "")
	if s := tokens.seen(); len(s) != 0 {
		t.Errorf("the plain-HTTP token service was sent %q, want nothing", s)
	}
	leaks(t, ctx, op, ns, "realm", password)
}
