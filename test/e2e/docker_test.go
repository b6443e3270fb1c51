package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The Docker stage, end to end: a Phase4Deployment names an image in the
// local registries (hack/registry, images from hack/images), the operator
// runs as its own ServiceAccount, and the test reads what a user reads:
// conditions, gates, status.image and Events.

const (
	ociManifest = "application/vnd.oci.image.manifest.v1+json"
	ociIndex    = "application/vnd.oci.image.index.v1+json"
	trivyType   = "application/vnd.aquasec.trivy.report+json"
)

// p4d builds a Phase4Deployment in ns whose target is ns too (so pull secrets live there).
func p4d(ns, name string, image map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "phase4.io/v1alpha1",
		"kind":       "Phase4Deployment",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"image":   image,
			"chart":   map[string]any{"repository": "http://127.0.0.1:1/charts", "name": "webapp", "version": "0.1.0"},
			"target":  map[string]any{"namespace": ns},
			"rollout": map[string]any{"retries": int64(0)},
		},
	}}
}

func createP4D(t testing.TB, ctx context.Context, obj *unstructured.Unstructured) {
	t.Helper()
	if _, err := dyn.Resource(p4dGVR).Namespace(obj.GetNamespace()).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create %s: %v", obj.GetName(), err)
	}
}

func gate(obj *unstructured.Unstructured, name string) map[string]any {
	gates, _, _ := unstructured.NestedSlice(obj.Object, "status", "gates")
	for _, g := range gates {
		if m, ok := g.(map[string]any); ok && m["stage"] == "Docker" && m["name"] == name {
			return m
		}
	}
	return nil
}

// waitCondition waits until condition typ has status and reason, and returns the object.
func waitCondition(t testing.TB, ctx context.Context, ns, name, typ, status, reason string, timeout time.Duration) *unstructured.Unstructured {
	t.Helper()
	var obj *unstructured.Unstructured
	eventually(t, timeout, fmt.Sprintf("%s/%s %s=%s (%s)", ns, name, typ, status, reason), func() (bool, string, error) {
		var err error
		if obj, err = getP4D(ctx, ns, name); err != nil {
			return false, "", err
		}
		c := condition(obj, typ)
		return c != nil && c["status"] == status && c["reason"] == reason, fmt.Sprint(c), nil
	})
	return obj
}

func waitEvent(t testing.TB, ctx context.Context, ns, name, typ, reason, contains string) corev1.Event {
	t.Helper()
	var found corev1.Event
	eventually(t, 30*time.Second, fmt.Sprintf("a %s Event %s about %s", typ, reason, name), func() (bool, string, error) {
		evs, err := events(ctx, ns, name)
		var seen []string
		for _, e := range evs {
			if e.Type == typ && e.Reason == reason && strings.Contains(e.Message, contains) {
				found = e
				return true, "", nil
			}
			seen = append(seen, e.Type+"/"+e.Reason)
		}
		return false, strings.Join(seen, ", "), err
	})
	return found
}

func plainHost(t testing.TB) string {
	return "127.0.0.1:" + readEnv(t, filepath.Join(cacheDir(), "registry", "ports.env"))["PLAIN_PORT"]
}

// dockerOperator starts the operator with retries and polls short enough for a test.
func dockerOperator(t testing.TB, ctx context.Context) *operator {
	return startOperator(t, ctx, "--stage-retry-delay", "1s", "--scan-poll-interval", "1s",
		"--stalled-recheck-interval", "2s")
}

// An image that is there passes every Docker gate; its digest is pinned in
// status, shown by kubectl, and the resource moves on to the Helm stage.
func TestDockerStagePassesAndPinsDigest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-docker")
	images := readEnv(t, filepath.Join(cacheDir(), "registry", "images.env"))
	dockerOperator(t, ctx)

	createP4D(t, ctx, p4d(ns, "multi", map[string]any{
		"repository": plainHost(t) + "/phase4/multi", "tag": "1.0", "insecure": true}))
	obj := waitCondition(t, ctx, ns, "multi", "DockerReady", "True", "ImageReady", time.Minute)
	if d, _, _ := unstructured.NestedString(obj.Object, "status", "image", "digest"); d != images["MULTI_DIGEST"] {
		t.Errorf("status.image.digest = %q, want %s", d, images["MULTI_DIGEST"])
	}
	if p, _, _ := unstructured.NestedStringSlice(obj.Object, "status", "image", "platforms"); strings.Join(p, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("status.image.platforms = %v", p)
	}
	for name, reason := range map[string]string{"Built": "ImageExists", "Pushed": "BlobsPresent",
		"Scanned": "NotScanned", "Pullable": "Pullable"} {
		if g := gate(obj, name); g == nil || g["status"] != "True" || g["reason"] != reason || g["lastTransitionTime"] == nil {
			t.Errorf("gate %s = %v, want True/%s", name, g, reason)
		}
	}
	if g := gate(obj, "Pullable"); g != nil && !strings.Contains(fmt.Sprint(g["message"]), "linux/amd64") {
		t.Errorf("Pullable gate does not name the nodes' platform: %v", g)
	}
	if stage, _, _ := unstructured.NestedString(obj.Object, "status", "stage"); stage != "Helm" {
		t.Errorf("status.stage = %q, want Helm", stage)
	}
	waitEvent(t, ctx, ns, "multi", "Normal", "ImageReady", images["MULTI_DIGEST"])
	out, err := kubectl(ctx, "get", "p4d", "-n", ns, "multi", "-o", "wide", "--no-headers")
	if err != nil || !strings.Contains(out, images["MULTI_DIGEST"]) {
		t.Errorf("kubectl get -o wide does not show the digest: %v\n%s", err, out)
	}

	// The same images in Docker's formats: manifest v2 schema 2 and a manifest list.
	for name, want := range map[string]string{"docker": images["DOCKER_DIGEST"], "docker-multi": images["DOCKER_MULTI_DIGEST"]} {
		createP4D(t, ctx, p4d(ns, name, map[string]any{
			"repository": plainHost(t) + "/phase4/" + name, "tag": "1.0", "insecure": true}))
		obj := waitCondition(t, ctx, ns, name, "DockerReady", "True", "ImageReady", time.Minute)
		if d, _, _ := unstructured.NestedString(obj.Object, "status", "image", "digest"); d != want || want == "" {
			t.Errorf("%s: status.image.digest = %q, want %q", name, d, want)
		}
	}
}

// A private TLS registry: the CA from a ConfigMap, credentials from the
// namespace's default ServiceAccount's imagePullSecrets, as a kubelet finds them.
func TestDockerStagePrivateRegistry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-docker-tls")
	dir := filepath.Join(cacheDir(), "registry")
	ports, auth := readEnv(t, filepath.Join(dir, "ports.env")), readEnv(t, filepath.Join(dir, "auth.env"))
	images := readEnv(t, filepath.Join(dir, "images.env"))
	ca, err := os.ReadFile(filepath.Join(dir, "certs", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	secure := "127.0.0.1:" + ports["TLS_PORT"]
	if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "registry-ca"}, Data: map[string]string{"ca.crt": string(ca)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pullSecret(t, ctx, ns, "good-creds", secure, auth["REGISTRY_USER"], auth["REGISTRY_PASSWORD"])
	pullSecret(t, ctx, ns, "wrong-creds", secure, auth["REGISTRY_USER"], "not-the-password")
	sa, err := kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sa.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "good-creds"}}
	if _, err := kube.CoreV1().ServiceAccounts(ns).Update(ctx, sa, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	op := dockerOperator(t, ctx)
	caRef := map[string]any{"kind": "ConfigMap", "name": "registry-ca"}

	createP4D(t, ctx, p4d(ns, "private", map[string]any{
		"repository": secure + "/phase4/app", "tag": "1.0", "caBundle": caRef}))
	obj := waitCondition(t, ctx, ns, "private", "DockerReady", "True", "ImageReady", time.Minute)
	if d, _, _ := unstructured.NestedString(obj.Object, "status", "image", "digest"); d != images["APP_DIGEST"] {
		t.Errorf("status.image.digest = %q, want %s", d, images["APP_DIGEST"])
	}
	if g := gate(obj, "Pullable"); g == nil || !strings.Contains(fmt.Sprint(g["message"]), `pull secret "good-creds"`) {
		t.Errorf("Pullable gate does not name the pull secret used: %v", g)
	}

	// The wrong secret listed in the spec comes first and fails, naming itself, never its password.
	createP4D(t, ctx, p4d(ns, "wrong", map[string]any{
		"repository": secure + "/phase4/app", "tag": "1.0", "caBundle": caRef,
		"pullSecrets": []any{map[string]any{"name": "wrong-creds"}}}))
	obj = waitCondition(t, ctx, ns, "wrong", "DockerReady", "False", "ImagePullAuthFailed", time.Minute)
	msg := fmt.Sprint(condition(obj, "DockerReady")["message"])
	if !strings.Contains(msg, `pull secret "wrong-creds"`) || strings.Contains(msg, "not-the-password") {
		t.Errorf("DockerReady message = %q", msg)
	}
	expectEscalated(t, ctx, ns, "wrong", "ImagePullAuthFailed") // a person must fix the secret
	waitEvent(t, ctx, ns, "wrong", "Warning", "ImagePullAuthFailed", "wrong-creds")

	// Without the CA the registry's certificate cannot be verified.
	createP4D(t, ctx, p4d(ns, "no-ca", map[string]any{"repository": secure + "/phase4/app", "tag": "1.0"}))
	obj = waitCondition(t, ctx, ns, "no-ca", "DockerReady", "False", "RegistryTLSError", time.Minute)
	if msg := fmt.Sprint(condition(obj, "DockerReady")["message"]); !strings.Contains(msg, secure) {
		t.Errorf("TLS message does not name the registry: %q", msg)
	}
	// A pull secret whose entry cannot be read (its auth is not base64) fails the gate, naming the
	// secret and not its content; the operator goes on (it once crashed here), as the next case shows.
	if _, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bad-creds"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(
			fmt.Sprintf(`{"auths":{%q:{"auth":"s3cr3t-not-base64!"}}}`, secure))},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createP4D(t, ctx, p4d(ns, "bad-secret", map[string]any{"repository": secure + "/phase4/app", "tag": "1.0",
		"caBundle": caRef, "pullSecrets": []any{map[string]any{"name": "bad-creds"}}}))
	obj = waitCondition(t, ctx, ns, "bad-secret", "DockerReady", "False", "PullSecretInvalid", time.Minute)
	if msg := fmt.Sprint(condition(obj, "DockerReady")["message"]); !strings.Contains(msg, `"bad-creds"`) ||
		strings.Contains(msg, "s3cr3t") {
		t.Errorf("PullSecretInvalid message = %q", msg)
	}
	// A pull secret the spec names that does not exist.
	createP4D(t, ctx, p4d(ns, "no-secret", map[string]any{"repository": secure + "/phase4/app", "tag": "1.0",
		"caBundle": caRef, "pullSecrets": []any{map[string]any{"name": "nope"}}}))
	waitCondition(t, ctx, ns, "no-secret", "DockerReady", "False", "PullSecretNotFound", time.Minute)

	if strings.Contains(op.log(), auth["REGISTRY_PASSWORD"]) || strings.Contains(op.log(), "not-the-password") {
		t.Errorf("the operator logged a password")
	}
}

func pullSecret(t testing.TB, ctx context.Context, ns, name, host, user, password string) {
	t.Helper()
	cfg := fmt.Sprintf(`{"auths":{%q:{"username":%q,"password":%q,"auth":%q}}}`, host, user, password,
		base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
	if _, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(cfg)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Artifact failures: a tag that is not there, an image without the nodes'
// platform. With rollout.retries 0 the resource is Stalled at once, asking
// for a new image.
func TestDockerStageArtifactFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-docker-bad")
	images := readEnv(t, filepath.Join(cacheDir(), "registry", "images.env"))
	op := dockerOperator(t, ctx)
	host := plainHost(t)

	createP4D(t, ctx, p4d(ns, "missing", map[string]any{"repository": host + "/phase4/app", "tag": "9.9", "insecure": true}))
	createP4D(t, ctx, p4d(ns, "arm", map[string]any{"repository": host + "/phase4/arm64-only", "tag": "1.0", "insecure": true}))
	createP4D(t, ctx, p4d(ns, "broken", map[string]any{"repository": host + "/phase4/bad-layer", "tag": "1.0", "insecure": true}))

	obj := waitCondition(t, ctx, ns, "missing", "DockerReady", "False", "ImageNotFound", time.Minute)
	if msg := fmt.Sprint(condition(obj, "DockerReady")["message"]); !strings.Contains(msg, "MANIFEST_UNKNOWN") {
		t.Errorf("ImageNotFound message = %q", msg)
	}
	if c := condition(obj, "Stalled"); c == nil || c["status"] != "True" || c["reason"] != "RegenerationRequired" {
		t.Errorf("Stalled = %v, want True/RegenerationRequired", c)
	}
	if g := gate(obj, "Built"); g == nil || g["status"] != "False" || g["reason"] != "ImageNotFound" {
		t.Errorf("Built gate = %v", g)
	}
	waitEvent(t, ctx, ns, "missing", "Warning", "ImageNotFound", "phase4/app")
	waitEvent(t, ctx, ns, "missing", "Warning", "RegenerationRequired", "failed 1 time at gate Built (ImageNotFound)")

	obj = waitCondition(t, ctx, ns, "arm", "DockerReady", "False", "PlatformNotSupported", time.Minute)
	if g := gate(obj, "Pullable"); g == nil || g["status"] != "False" || !strings.Contains(fmt.Sprint(g["message"]), "linux/amd64") {
		t.Errorf("Pullable gate = %v, want False naming linux/amd64", g)
	}
	obj = waitCondition(t, ctx, ns, "broken", "DockerReady", "False", "ImageIncomplete", time.Minute)
	if g := gate(obj, "Pushed"); g == nil || !strings.Contains(fmt.Sprint(g["message"]), images["BAD_LAYER_DIGEST"]) {
		t.Errorf("Pushed gate does not name the missing layer: %v", g)
	}

	// /metrics counts the stalled resources (other tests' resources, in namespaces
	// still being deleted, may be counted too: the operator watches them all).
	text := scrape(op)
	for name, least := range map[string]int{`phase4_docker_stage_results{result="stalled"}`: 3,
		"phase4_docker_stage_resources": 3, `phase4_docker_stage_checks{state="running"}`: 0,
		`phase4_docker_stage_checks{state="waiting"}`: 0} {
		if got, err := strconv.Atoi(metric(text, name)); err != nil || got < least {
			t.Errorf("metric %s = %q, want at least %d", name, metric(text, name), least)
		}
	}
	check := exec.CommandContext(ctx, "promtool", "check", "metrics")
	check.Stdin = strings.NewReader(text)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// ---- images and artifacts pushed by the tests, through the distribution API ----

func (r registry) send(t testing.TB, method, path, ctype string, body []byte) *http.Response {
	t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = r.base + path
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", manifestAccept)
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// pushBlob uploads b to repo (monolithic upload) and returns its digest.
func (r registry) pushBlob(t testing.TB, repo string, b []byte) string {
	t.Helper()
	d := digestOf(b)
	resp := r.send(t, "POST", "/v2/"+repo+"/blobs/uploads/", "", nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start upload to %s: %s", repo, resp.Status)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	q.Set("digest", d)
	loc.RawQuery = q.Encode()
	target := loc.String()
	if !loc.IsAbs() {
		target = r.base + loc.String()
	}
	if resp := r.send(t, "PUT", target, "application/octet-stream", b); resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload blob to %s: %s", repo, resp.Status)
	}
	return d
}

func (r registry) pushManifest(t testing.TB, repo, ref, mediaType string, m any) (string, int) {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if resp := r.send(t, "PUT", "/v2/"+repo+"/manifests/"+ref, mediaType, b); resp.StatusCode != http.StatusCreated {
		t.Fatalf("push manifest %s:%s: %s", repo, ref, resp.Status)
	}
	return digestOf(b), len(b)
}

// pushVariant copies phase4/app into repo as a new image of its own digest
// (same blobs, an annotation more), so reports and signatures for it touch
// no other test's image.
func pushVariant(t testing.TB, r registry, repo string) string {
	t.Helper()
	resp, body := r.do(t.(*testing.T), "GET", "/v2/phase4/app/manifests/1.0", false)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get phase4/app:1.0: %s", resp.Status)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	var digests []string
	digests = append(digests, m["config"].(map[string]any)["digest"].(string))
	for _, l := range m["layers"].([]any) {
		digests = append(digests, l.(map[string]any)["digest"].(string))
	}
	for _, d := range digests { // cross-repository mount: the registry links the blob
		if resp := r.send(t, "POST", "/v2/"+repo+"/blobs/uploads/?mount="+d+"&from=phase4/app", "", nil); resp.StatusCode != http.StatusCreated {
			t.Fatalf("mount %s into %s: %s", d, repo, resp.Status)
		}
	}
	m["annotations"] = map[string]any{"org.opencontainers.image.title": repo}
	d, _ := r.pushManifest(t, repo, "1.0", resp.Header.Get("Content-Type"), m)
	return d
}

// attachReport attaches report to subject in repo as an OCI 1.1 referrer,
// with the referrers tag schema ("sha256-<hex>" index) that registries
// without the referrers API (Debian's distribution 2.8) need.
func attachReport(t testing.TB, r registry, repo, subject string, subjectSize int, artifactType string, report []byte) {
	t.Helper()
	empty := []byte("{}")
	emptyDigest := r.pushBlob(t, repo, empty)
	reportDigest := r.pushBlob(t, repo, report)
	manifest := map[string]any{
		"schemaVersion": 2, "mediaType": ociManifest, "artifactType": artifactType,
		"config":  map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": emptyDigest, "size": len(empty)},
		"layers":  []any{map[string]any{"mediaType": artifactType, "digest": reportDigest, "size": len(report)}},
		"subject": map[string]any{"mediaType": ociManifest, "digest": subject, "size": subjectSize},
	}
	md, size := r.pushManifest(t, repo, "report", ociManifest, manifest)
	index := map[string]any{"schemaVersion": 2, "mediaType": ociIndex, "manifests": []any{
		map[string]any{"mediaType": ociManifest, "digest": md, "size": size, "artifactType": artifactType}}}
	r.pushManifest(t, repo, "sha256-"+strings.TrimPrefix(subject, "sha256:"), ociIndex, index)
}

func manifestSize(t *testing.T, r registry, repo, ref string) int {
	resp, body := r.do(t, "GET", "/v2/"+repo+"/manifests/"+ref, false)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get %s:%s: %s", repo, ref, resp.Status)
	}
	return len(body)
}

const criticalReport = `{"SchemaVersion":2,"ArtifactName":"app","ArtifactType":"container_image","Results":[
 {"Target":"app (debian 12.4)","Class":"os-pkgs","Type":"debian","Vulnerabilities":[
  {"VulnerabilityID":"CVE-2024-0727","PkgName":"openssl","InstalledVersion":"3.0.11-1","FixedVersion":"3.0.13-1","Severity":"MEDIUM"},
  {"VulnerabilityID":"CVE-2024-5535","PkgName":"openssl","InstalledVersion":"3.0.11-1","FixedVersion":"3.0.14-1","Severity":"CRITICAL"}]},
 {"Target":"app/go.mod","Class":"lang-pkgs","Type":"gomod","Vulnerabilities":null}]}`

// A report attached to the image with a CRITICAL CVE fails the Scanned gate,
// and the message names the CVE, the package and the fixed version.
func TestDockerStageScanReportFailsGate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-docker-scan")
	plain, _ := registries(t)
	repo := "phase4/scan-" + ns
	digest := pushVariant(t, plain, repo)
	attachReport(t, plain, repo, digest, manifestSize(t, plain, repo, "1.0"), trivyType, []byte(criticalReport))
	dockerOperator(t, ctx)

	createP4D(t, ctx, p4d(ns, "vulnerable", map[string]any{"repository": plainHost(t) + "/" + repo, "tag": "1.0",
		"insecure": true, "scan": map[string]any{"maxSeverity": "HIGH", "required": true}}))
	obj := waitCondition(t, ctx, ns, "vulnerable", "DockerReady", "False", "VulnerabilitiesFound", time.Minute)
	g := gate(obj, "Scanned")
	msg := fmt.Sprint(g["message"])
	for _, want := range []string{"CVE-2024-5535", "openssl", "3.0.14-1", "CRITICAL"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Scanned gate message lacks %q: %q", want, msg)
		}
	}
	if strings.Contains(msg, "CVE-2024-0727 ") {
		t.Errorf("a MEDIUM CVE is listed as over the HIGH threshold: %q", msg)
	}
	if d, _, _ := unstructured.NestedString(obj.Object, "status", "image", "digest"); d != digest {
		t.Errorf("status.image.digest = %q, want %s", d, digest)
	}
	waitEvent(t, ctx, ns, "vulnerable", "Warning", "VulnerabilitiesFound", "CVE-2024-5535")

	// The same finding as Trivy writes it in SARIF, attached to another image.
	sarifRepo := "phase4/sarif-" + ns
	sarifDigest := pushVariant(t, plain, sarifRepo)
	attachReport(t, plain, sarifRepo, sarifDigest, manifestSize(t, plain, sarifRepo, "1.0"), "application/sarif+json", []byte(sarifReport))
	createP4D(t, ctx, p4d(ns, "sarif", map[string]any{"repository": plainHost(t) + "/" + sarifRepo, "tag": "1.0",
		"insecure": true, "scan": map[string]any{"maxSeverity": "CRITICAL", "required": true}}))
	obj = waitCondition(t, ctx, ns, "sarif", "DockerReady", "False", "VulnerabilitiesFound", time.Minute)
	if msg := fmt.Sprint(gate(obj, "Scanned")["message"]); !strings.Contains(msg, "sarif") || !strings.Contains(msg, "CVE-2024-5535 in openssl") {
		t.Errorf("Scanned gate message for the SARIF report = %q", msg)
	}
}

// Trivy's SARIF for the CRITICAL finding above (`trivy image -f sarif`, trimmed).
const sarifReport = `{"version":"2.1.0","$schema":"https://raw.githubusercontent.com/oasis-tcs/sarif-spec/main/sarif-2.1/schema/sarif-schema-2.1.0.json",
 "runs":[{"tool":{"driver":{"fullName":"Trivy Vulnerability Scanner","name":"Trivy","version":"0.50.1",
  "rules":[{"id":"CVE-2024-5535","name":"OsPackageVulnerability","shortDescription":{"text":"openssl: SSL_select_next_proto buffer overread"},
   "defaultConfiguration":{"level":"error"},"properties":{"precision":"very-high","security-severity":"9.1","tags":["vulnerability","security","CRITICAL"]}}]}},
  "results":[{"ruleId":"CVE-2024-5535","ruleIndex":0,"level":"error",
   "message":{"text":"Package: openssl\nInstalled Version: 3.0.11-1\nVulnerability CVE-2024-5535\nSeverity: CRITICAL\nFixed Version: 3.0.14-1\nLink: [CVE-2024-5535](https://avd.aquasec.com/nvd/cve-2024-5535)"},
   "locations":[{"physicalLocation":{"artifactLocation":{"uri":"app","uriBaseId":"ROOTPATH"},"region":{"startLine":1,"startColumn":1,"endLine":1,"endColumn":1}},
    "message":{"text":"app: openssl@3.0.11-1"}}]}],
  "columnKind":"utf16CodeUnits","originalUriBaseIds":{"ROOTPATH":{"uri":"file:///"}}}]}`

var vulnReportGVR = schema.GroupVersionResource{Group: "aquasecurity.github.io", Version: "v1alpha1", Resource: "vulnerabilityreports"}

var vulnCRDOnce sync.Once

// installVulnReportCRD installs the part of Trivy Operator the stage reads: its report kind.
func installVulnReportCRD(t testing.TB, ctx context.Context) {
	t.Helper()
	var out string
	var err error
	vulnCRDOnce.Do(func() {
		out, err = kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(repoRoot(), "test", "e2e", "testdata", "vulnerabilityreports-crd.yaml"))
		if err == nil {
			out, err = kubectl(ctx, "wait", "--for=condition=Established", "--timeout=60s", "crd/vulnerabilityreports.aquasecurity.github.io")
		}
	})
	if err != nil {
		t.Fatalf("install VulnerabilityReport CRD: %v\n%s", err, out)
	}
}

// A Trivy Operator VulnerabilityReport for the digest is read; HIGH findings
// under a CRITICAL threshold pass, and the gate says what was found.
func TestDockerStageReadsVulnerabilityReport(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	installVulnReportCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-docker-vr")
	plain, _ := registries(t)
	repo := "phase4/vr-" + ns
	digest := pushVariant(t, plain, repo)
	report := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "aquasecurity.github.io/v1alpha1", "kind": "VulnerabilityReport",
		"metadata": map[string]any{"name": "replicaset-web-app", "namespace": ns,
			"labels": map[string]any{"trivy-operator.resource.kind": "ReplicaSet", "trivy-operator.container.name": "app"}},
		"report": map[string]any{
			"artifact": map[string]any{"repository": repo, "tag": "1.0", "digest": digest},
			"registry": map[string]any{"server": plainHost(t)},
			"scanner":  map[string]any{"name": "Trivy", "vendor": "Aqua Security", "version": "0.50.0"},
			"summary":  map[string]any{"criticalCount": 0, "highCount": 1, "mediumCount": 0, "lowCount": 0, "unknownCount": 0},
			"vulnerabilities": []any{map[string]any{"vulnerabilityID": "CVE-2023-44487", "resource": "golang.org/x/net",
				"installedVersion": "0.7.0", "fixedVersion": "0.17.0", "severity": "HIGH", "title": "HTTP/2 rapid reset"}},
		},
	}}
	if _, err := dyn.Resource(vulnReportGVR).Namespace(ns).Create(ctx, report, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dockerOperator(t, ctx)

	createP4D(t, ctx, p4d(ns, "reported", map[string]any{"repository": plainHost(t) + "/" + repo, "tag": "1.0",
		"insecure": true, "scan": map[string]any{"maxSeverity": "CRITICAL", "required": true}}))
	obj := waitCondition(t, ctx, ns, "reported", "DockerReady", "True", "ImageReady", time.Minute)
	g := gate(obj, "Scanned")
	if g["reason"] != "ScanPassed" || !strings.Contains(fmt.Sprint(g["message"]), "VulnerabilityReport "+ns+"/replicaset-web-app") ||
		!strings.Contains(fmt.Sprint(g["message"]), "1 HIGH") {
		t.Errorf("Scanned gate = %v", g)
	}

	// The same report under a HIGH threshold fails the gate.
	createP4D(t, ctx, p4d(ns, "strict", map[string]any{"repository": plainHost(t) + "/" + repo, "tag": "1.0",
		"insecure": true, "scan": map[string]any{"maxSeverity": "HIGH"}}))
	obj = waitCondition(t, ctx, ns, "strict", "DockerReady", "False", "VulnerabilitiesFound", time.Minute)
	if msg := fmt.Sprint(gate(obj, "Scanned")["message"]); !strings.Contains(msg, "CVE-2023-44487") || !strings.Contains(msg, "golang.org/x/net") {
		t.Errorf("Scanned message = %q", msg)
	}
}

// flakyRegistry is a TCP proxy in front of the plain registry that the test
// can stop and start on the same port: a registry outage as a client sees it.
type flakyRegistry struct {
	mu       sync.Mutex
	addr     string
	target   string
	ln       net.Listener
	srv      *http.Server
	throttle int         // answer this many requests 429 with Retry-After: 3
	seen     []time.Time // when each request arrived
}

func newFlakyRegistry(t testing.TB, target string) *flakyRegistry {
	f := &flakyRegistry{addr: "127.0.0.1:" + freePort(t), target: target}
	t.Cleanup(f.stop)
	return f
}

func (f *flakyRegistry) start(t testing.TB) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	u, _ := url.Parse("http://" + f.target)
	var err error
	for i := 0; i < 50; i++ { // the port was ours a moment ago
		if f.ln, err = net.Listen("tcp", f.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen %s: %v", f.addr, err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen = append(f.seen, time.Now())
		throttled := f.throttle > 0
		if throttled {
			f.throttle--
		}
		f.mu.Unlock()
		if throttled {
			w.Header().Set("Retry-After", "3")
			http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`, http.StatusTooManyRequests)
			return
		}
		proxy.ServeHTTP(w, r)
	})}
	go func(srv *http.Server, ln net.Listener) { _ = srv.Serve(ln) }(f.srv, f.ln)
}

func (f *flakyRegistry) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv != nil {
		_ = f.srv.Close()
		f.srv = nil
	}
}

// A registry outage mid-stage: the digest resolved before it is kept, the
// gate waits (Unknown, RegistryUnavailable) instead of failing, and the stage
// finishes when the registry is back.
func TestDockerStageWaitsOutRegistryOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-docker-outage")
	plain, _ := registries(t)
	repo := "phase4/outage-" + ns
	digest := pushVariant(t, plain, repo)
	flaky := newFlakyRegistry(t, plainHost(t))
	flaky.start(t)
	dockerOperator(t, ctx)

	// The report is required and not there yet: the stage resolves the digest and waits for it.
	createP4D(t, ctx, p4d(ns, "outage", map[string]any{"repository": flaky.addr + "/" + repo, "tag": "1.0",
		"insecure": true, "scan": map[string]any{"required": true, "timeout": "10m"}}))
	eventually(t, time.Minute, "the Scanned gate to wait for a report", func() (bool, string, error) {
		obj, err := getP4D(ctx, ns, "outage")
		if err != nil {
			return false, "", err
		}
		g := gate(obj, "Scanned")
		return g != nil && g["reason"] == "ScanPending", fmt.Sprint(g), nil
	})

	flaky.stop()
	obj := waitCondition(t, ctx, ns, "outage", "DockerReady", "Unknown", "RegistryUnavailable", time.Minute)
	if d, _, _ := unstructured.NestedString(obj.Object, "status", "image", "digest"); d != digest {
		t.Errorf("during the outage status.image.digest = %q, want the pinned %s", d, digest)
	}
	if c := condition(obj, "Stalled"); c != nil {
		t.Errorf("an outage stalled the resource: %v", c)
	}
	if c := condition(obj, "Ready"); c == nil || c["status"] != "Unknown" || !strings.Contains(fmt.Sprint(c["message"]), "waiting") {
		t.Errorf("Ready during the outage = %v", c)
	}
	waitEvent(t, ctx, ns, "outage", "Warning", "RegistryUnavailable", flaky.addr)

	// The report arrives (pushed straight to the registry) and the registry comes back.
	attachReport(t, plain, repo, digest, manifestSize(t, plain, repo, "1.0"), trivyType,
		[]byte(`{"SchemaVersion":2,"Results":[{"Target":"app","Vulnerabilities":[]}]}`))
	flaky.start(t)
	obj = waitCondition(t, ctx, ns, "outage", "DockerReady", "True", "ImageReady", time.Minute)
	if d, _, _ := unstructured.NestedString(obj.Object, "status", "image", "digest"); d != digest {
		t.Errorf("after the outage status.image.digest = %q, want %s", d, digest)
	}
	if g := gate(obj, "Scanned"); g["reason"] != "ScanPassed" {
		t.Errorf("Scanned gate = %v", g)
	}
}

// A required report that never comes fails the gate at scan.timeout.
func TestDockerStageRequiredScanTimesOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-docker-noscan")
	dockerOperator(t, ctx)
	createP4D(t, ctx, p4d(ns, "unscanned", map[string]any{"repository": plainHost(t) + "/phase4/app", "tag": "1.0",
		"insecure": true, "scan": map[string]any{"required": true, "timeout": "3s"}}))
	obj := waitCondition(t, ctx, ns, "unscanned", "DockerReady", "False", "ScanReportMissing", time.Minute)
	if g := gate(obj, "Scanned"); g == nil || g["status"] != "False" || !strings.Contains(fmt.Sprint(g["message"]), "scan.timeout") {
		t.Errorf("Scanned gate = %v", g)
	}
}

// A cosign-style signature (simple signing payload, ECDSA P-256) is verified
// with the public key from a Secret; a signature by another key is refused.
func TestDockerStageVerifiesSignature(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-docker-sign")
	plain, _ := registries(t)
	repo := "phase4/signed-" + ns
	digest := pushVariant(t, plain, repo)
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sign(t, plain, repo, digest, signer)
	for name, key := range map[string]*ecdsa.PrivateKey{"cosign-key": signer, "other-key": other} {
		der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		if _, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name},
			Data: map[string][]byte{"cosign.pub": pemKey}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	dockerOperator(t, ctx)
	image := func(key string) map[string]any {
		return map[string]any{"repository": plainHost(t) + "/" + repo, "tag": "1.0", "insecure": true,
			"signature": map[string]any{"publicKeySecretRef": map[string]any{"name": key}}}
	}
	createP4D(t, ctx, p4d(ns, "signed", image("cosign-key")))
	createP4D(t, ctx, p4d(ns, "forged", image("other-key")))
	obj := waitCondition(t, ctx, ns, "signed", "DockerReady", "True", "ImageReady", time.Minute)
	if g := gate(obj, "Signed"); g == nil || g["status"] != "True" || g["reason"] != "SignatureVerified" {
		t.Errorf("Signed gate = %v", g)
	}
	obj = waitCondition(t, ctx, ns, "forged", "DockerReady", "False", "SignatureInvalid", time.Minute)
	if msg := fmt.Sprint(gate(obj, "Signed")["message"]); !strings.Contains(msg, "other-key") {
		t.Errorf("Signed gate message = %q", msg)
	}
}

// sign pushes a cosign simple-signing signature of digest to repo:sha256-<hex>.sig.
func sign(t testing.TB, r registry, repo, digest string, key *ecdsa.PrivateKey) {
	t.Helper()
	payload := []byte(fmt.Sprintf(`{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`,
		strings.TrimPrefix(r.base, "http://")+"/"+repo, digest))
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	config := []byte(`{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}`)
	cd := r.pushBlob(t, repo, config)
	pd := r.pushBlob(t, repo, payload)
	m := map[string]any{"schemaVersion": 2, "mediaType": ociManifest,
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": pd,
			"size": len(payload), "annotations": map[string]any{"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sig)}}}}
	r.pushManifest(t, repo, "sha256-"+strings.TrimPrefix(digest, "sha256:")+".sig", ociManifest, m)
}

func buildTemplate(podLabels, podAnnotations map[string]any) map[string]any {
	return map[string]any{
		"backoffLimit": int64(0),
		"template": map[string]any{
			"metadata": map[string]any{"labels": podLabels, "annotations": podAnnotations},
			"spec": map[string]any{
				"restartPolicy": "Never",
				"containers": []any{map[string]any{"name": "kaniko", "image": "gcr.io/kaniko-project/executor:v1.23.2",
					"args": []any{"--destination=" + "registry.local/phase4/app:1.0"}}},
			},
		},
	}
}

// spec.image.build runs the user's Job template as a Job the resource owns;
// when it succeeds the image is resolved as usual, and when it fails the
// Built gate says why, with the last lines of the build's log.
func TestDockerStageBuildJob(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-docker-build")
	dockerOperator(t, ctx)
	// Build Jobs are created as the resource's ServiceAccount (docs/security.md).
	account(t, ctx, ns, "builder", []rbacv1.PolicyRule{
		{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get", "create"}}})
	image := func(build map[string]any) map[string]any {
		return map[string]any{"repository": plainHost(t) + "/phase4/app", "tag": "1.0", "insecure": true,
			"build": map[string]any{"template": build, "timeout": "2m"}}
	}
	p4d := func(ns, name string, image map[string]any) *unstructured.Unstructured {
		obj := p4d(ns, name, image)
		obj.Object["spec"].(map[string]any)["serviceAccountName"] = "builder"
		return obj
	}

	createP4D(t, ctx, p4d(ns, "built", image(buildTemplate(nil, nil))))
	obj := waitCondition(t, ctx, ns, "built", "DockerReady", "True", "ImageReady", 2*time.Minute)
	if g := gate(obj, "Built"); g == nil || g["reason"] != "BuildSucceeded" || !strings.Contains(fmt.Sprint(g["message"]), ns+"/built-build-1") {
		t.Errorf("Built gate = %v", g)
	}
	job, err := kube.BatchV1().Jobs(ns).Get(ctx, "built-build-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if refs := job.OwnerReferences; len(refs) != 1 || refs[0].Kind != "Phase4Deployment" || refs[0].UID != obj.GetUID() ||
		refs[0].Controller == nil || !*refs[0].Controller {
		t.Errorf("build Job owner references = %v", refs)
	}
	if job.Labels["app.kubernetes.io/managed-by"] != "phase4-operator" || job.Labels["phase4.io/name"] != "built" {
		t.Errorf("build Job labels = %v", job.Labels)
	}

	// A build whose pod fails: KWOK's chaos stage fails the container; KWOK serves its log.
	fail := map[string]any{"pod-container-running-failed.stage.kwok.x-k8s.io": "true"}
	why := map[string]any{"pod-container-running-failed.stage.kwok.x-k8s.io/reason": "Error",
		"pod-container-running-failed.stage.kwok.x-k8s.io/message": "build failed"}
	logFile := filepath.Join(t.TempDir(), "build.log")
	writeFile(t, logFile, criLog("INFO resolving base image", "error building image: failed to get filesystem from image: unauthorized"))
	createP4D(t, ctx, p4d(ns, "broken-build", image(buildTemplate(fail, why))))
	// The pod's name comes from the Job controller: attach its log as soon as it exists.
	eventually(t, time.Minute, "the failing build's pod", func() (bool, string, error) {
		pods, err := podsWithLabel(ctx, ns, "job-name=broken-build-build-1")
		if err != nil || len(pods) == 0 {
			return false, "no pod yet", err
		}
		logs := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs",
			"metadata": map[string]any{"name": pods[0].Name, "namespace": ns},
			"spec":     map[string]any{"logs": []any{map[string]any{"containers": []any{"kaniko"}, "logsFile": logFile}}},
		}}
		_, err = dyn.Resource(logsGVR).Namespace(ns).Create(ctx, logs, metav1.CreateOptions{})
		return err == nil, fmt.Sprint(err), nil
	})
	obj = waitCondition(t, ctx, ns, "broken-build", "DockerReady", "False", "BuildFailed", 2*time.Minute)
	msg := fmt.Sprint(gate(obj, "Built")["message"])
	for _, want := range []string{ns + "/broken-build-build-1", "BackoffLimitExceeded"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Built gate message lacks %q: %q", want, msg)
		}
	}
	if !strings.Contains(msg, "unauthorized") {
		t.Errorf("Built gate message has no log lines: %q", msg)
	}
	if c := condition(obj, "Stalled"); c == nil || c["reason"] != "RegenerationRequired" {
		t.Errorf("Stalled = %v", c)
	}

	// A Job of that name that the resource does not own is left alone.
	if _, err := kube.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "theirs-build-1"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createP4D(t, ctx, p4d(ns, "theirs", image(buildTemplate(nil, nil))))
	waitCondition(t, ctx, ns, "theirs", "DockerReady", "False", "BuildJobConflict", time.Minute)
	if job, err := kube.BatchV1().Jobs(ns).Get(ctx, "theirs-build-1", metav1.GetOptions{}); err != nil || len(job.OwnerReferences) != 0 {
		t.Errorf("the foreign Job was touched: %v %v", err, job.OwnerReferences)
	}
}

// tokenServer is a Docker registry token service (the Bearer flow of
// distribution's token auth): Basic credentials in, a signed JWT granting
// the requested pull/push scope out. Debian's docker-registry verifies it
// against the certificate in its rootcertbundle.
type tokenServer struct {
	key        *ecdsa.PrivateKey
	certDER    []byte
	user, pass string
	issued     sync.Map // user ("" for anonymous) → count
}

func newTokenServer(t testing.TB, user, pass string) (*tokenServer, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: bigOne(), Subject: pkixName("phase4-token-issuer"),
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "token.crt")
	writeFile(t, bundle, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	return &tokenServer{key: key, certDER: der, user: user, pass: pass}, bundle
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (s *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if ok && (user != s.user || pass != s.pass) {
		http.Error(w, `{"details":"incorrect username or password"}`, http.StatusUnauthorized)
		return
	}
	if !ok {
		user = ""
	}
	// Anonymous callers get a token with no access, as public token services do.
	var access []any
	for _, scope := range strings.Fields(r.URL.Query().Get("scope")) {
		parts := strings.Split(scope, ":")
		if len(parts) == 3 && parts[0] == "repository" && user != "" {
			access = append(access, map[string]any{"type": "repository", "name": parts[1], "actions": strings.Split(parts[2], ",")})
		}
	}
	now := time.Now()
	header, _ := json.Marshal(map[string]any{"typ": "JWT", "alg": "ES256", "x5c": []string{base64.StdEncoding.EncodeToString(s.certDER)}})
	claims, _ := json.Marshal(map[string]any{"iss": "phase4-token-issuer", "sub": user, "aud": r.URL.Query().Get("service"),
		"exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(),
		"jti": fmt.Sprint(now.UnixNano()), "access": access})
	signing := b64url(header) + "." + b64url(claims)
	sum := sha256.Sum256([]byte(signing))
	rr, ss, err := ecdsa.Sign(rand.Reader, s.key, sum[:])
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	sig := make([]byte, 64)
	rr.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	n, _ := s.issued.LoadOrStore(user, new(int))
	*(n.(*int))++
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": signing + "." + b64url(sig), "expires_in": 300, "issued_at": now.UTC().Format(time.RFC3339)})
}

// tokenRegistry starts a docker-registry of its own whose auth is the token
// flow against ts, and returns its address.
func tokenRegistry(t testing.TB, ts *tokenServer, bundle string) (string, *httptest.Server) {
	t.Helper()
	tsrv := httptest.NewServer(ts)
	t.Cleanup(tsrv.Close)
	addr := "127.0.0.1:" + freePort(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "config.yml")
	writeFile(t, config, fmt.Sprintf(`version: 0.1
log: {level: info}
storage:
  filesystem: {rootdirectory: %s/data}
http:
  addr: %s
  secret: phase4-token-test
auth:
  token:
    realm: %s/token
    service: phase4-registry
    issuer: phase4-token-issuer
    rootcertbundle: %s
`, dir, addr, tsrv.URL, bundle))
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("token registry log:\n%s", tail(string(b), 4000))
		}
		logf.Close()
	})
	eventually(t, 30*time.Second, "the token registry to ask for a Bearer token", func() (bool, string, error) {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			return false, err.Error(), nil
		}
		resp.Body.Close()
		return resp.StatusCode == 401 && strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer "), resp.Status, nil
	})
	return addr, tsrv
}

// bearer fetches a token from the token service for scope, as a client would.
func bearer(t testing.TB, tsrv *httptest.Server, user, pass, scope string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", tsrv.URL+"/token?service=phase4-registry&scope="+url.QueryEscape(scope), nil)
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.Token == "" {
		t.Fatalf("token: %v %s", err, resp.Status)
	}
	return tok.Token
}

// A registry with the Bearer token flow: the operator takes the challenge,
// asks the token service with the namespace's pull secret, and pulls. A
// resource in another namespace without credentials does not ride on the
// token fetched for the first one.
func TestDockerStageBearerTokenRegistry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ts, bundle := newTokenServer(t, "puller", "s3cret-pull")
	addr, tsrv := tokenRegistry(t, ts, bundle)

	// Copy phase4/app into it, with a push token.
	plain, _ := registries(t)
	tok := bearer(t, tsrv, "puller", "s3cret-pull", "repository:phase4/app:pull,push")
	dst := registry{name: "token", base: "http://" + addr, client: &http.Client{Timeout: 10 * time.Second,
		Transport: bearerTransport{token: tok}}}
	_, body := plain.do(t, "GET", "/v2/phase4/app/manifests/1.0", false)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	blobs := []string{m["config"].(map[string]any)["digest"].(string)}
	for _, l := range m["layers"].([]any) {
		blobs = append(blobs, l.(map[string]any)["digest"].(string))
	}
	for _, d := range blobs {
		_, b := plain.do(t, "GET", "/v2/phase4/app/blobs/"+d, false)
		dst.pushBlob(t, "phase4/app", b)
	}
	digest, _ := dst.pushManifest(t, "phase4/app", "1.0", ociManifest, m)

	op := dockerOperator(t, ctx)
	withSecret := newNamespace(t, ctx, "e2e-docker-token")
	without := newNamespace(t, ctx, "e2e-docker-anon")
	pullSecret(t, ctx, withSecret, "token-creds", addr, "puller", "s3cret-pull")
	pullSecret(t, ctx, withSecret, "token-wrong", addr, "puller", "not-it")
	image := func(secret string) map[string]any {
		img := map[string]any{"repository": addr + "/phase4/app", "tag": "1.0", "insecure": true}
		if secret != "" {
			img["pullSecrets"] = []any{map[string]any{"name": secret}}
		}
		return img
	}

	createP4D(t, ctx, p4d(withSecret, "token", image("token-creds")))
	obj := waitCondition(t, ctx, withSecret, "token", "DockerReady", "True", "ImageReady", time.Minute)
	if d, _, _ := unstructured.NestedString(obj.Object, "status", "image", "digest"); d != digest {
		t.Errorf("status.image.digest = %q, want %s", d, digest)
	}
	if n, ok := ts.issued.Load("puller"); !ok || *(n.(*int)) < 2 {
		t.Errorf("the token service issued no token to the pull secret's user")
	}

	createP4D(t, ctx, p4d(without, "anonymous", image("")))
	obj = waitCondition(t, ctx, without, "anonymous", "DockerReady", "False", "ImagePullAuthFailed", time.Minute)
	if msg := fmt.Sprint(condition(obj, "DockerReady")["message"]); !strings.Contains(msg, "has no pull secret") {
		t.Errorf("anonymous pull message = %q", msg)
	}
	createP4D(t, ctx, p4d(withSecret, "wrong", image("token-wrong")))
	obj = waitCondition(t, ctx, withSecret, "wrong", "DockerReady", "False", "ImagePullAuthFailed", time.Minute)
	if msg := fmt.Sprint(condition(obj, "DockerReady")["message"]); !strings.Contains(msg, `"token-wrong"`) ||
		!strings.Contains(msg, "token service") {
		t.Errorf("wrong-password message = %q", msg)
	}
	if strings.Contains(op.log(), "s3cret-pull") || strings.Contains(op.log(), "not-it") {
		t.Errorf("the operator logged a password")
	}
}

type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func bigOne() *big.Int { return big.NewInt(1) }

func pkixName(cn string) pkix.Name { return pkix.Name{CommonName: cn} }

// A registry that answers 429 with Retry-After is not asked again before
// that time, even though the stage's own backoff would come back sooner.
func TestDockerStageHonoursRetryAfter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-docker-429")
	flaky := newFlakyRegistry(t, plainHost(t))
	flaky.throttle = 1
	flaky.start(t)
	dockerOperator(t, ctx)

	createP4D(t, ctx, p4d(ns, "throttled", map[string]any{"repository": flaky.addr + "/phase4/app", "tag": "1.0", "insecure": true}))
	waitEvent(t, ctx, ns, "throttled", "Warning", "RegistryUnavailable", "HTTP 429")
	waitCondition(t, ctx, ns, "throttled", "DockerReady", "True", "ImageReady", time.Minute)
	flaky.mu.Lock()
	defer flaky.mu.Unlock()
	if len(flaky.seen) < 2 {
		t.Fatalf("%d requests reached the registry", len(flaky.seen))
	}
	if gap := flaky.seen[1].Sub(flaky.seen[0]); gap < 2900*time.Millisecond {
		t.Errorf("the registry was asked again %s after answering 429 with Retry-After: 3", gap)
	}
}
