package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
)

// The Helm stage, end to end: once the Docker stage has pinned the image,
// the operator fetches the resource's chart (HTTP repository or OCI
// registry), lints it, checks the values against its schema, renders it with
// the pinned image and dry-runs it against the API server. The tests read
// what a user reads: the HelmReady and Stalled conditions, the Helm gates,
// status.chart, Events, and the Secret holding the rendered manifest.

// The Helm gates, in the order the stage reports them, with their passing reasons.
var helmGates = []struct{ name, reason string }{
	{"Packaged", "ChartFetched"},
	{"Lints", "LintPassed"},
	{"ValuesValid", "ValuesValid"},
	{"ImagePinned", "ImagePinned"},
	// ImagesPullable when the chart runs other images (all checked), NoOtherImages when not.
	{"ImagesPullable", "ImagesPullable|NoOtherImages"},
	{"DryRun", "DryRunPassed"},
}

// A chart from the HTTP repository passes every Helm gate: status.chart pins
// the version and the archive's digest and names the Secret with the
// rendered manifest (the pinned image in it, the user's values applied,
// owned by the resource); the dry run stored nothing; the resource moves on
// to the Kubernetes stage. A version range resolves to the newest match.
func TestHelmStagePassesFromHTTPRepo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-helm")
	charts := chartsEnv(t)
	images := readEnv(t, filepath.Join(cacheDir(), "registry", "images.env"))
	repoDir := filepath.Join(cacheDir(), "charts", "repo")
	op := helmOperator(t, ctx)

	createP4D(t, ctx, helmP4D(t, ns, "web", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "webapp", "version": "0.1.0", "values": map[string]any{"message": "hi"}}))
	createP4D(t, ctx, helmP4D(t, ns, "ranged", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "webapp", "version": "~0.2"}))

	obj := waitCondition(t, ctx, ns, "web", "HelmReady", "True", "ChartReady", 90*time.Second)
	checkHelmPassed(t, obj)
	if stage, _, _ := unstructured.NestedString(obj.Object, "status", "stage"); stage == "Docker" || stage == "Helm" {
		t.Errorf("status.stage = %q, want a later stage", stage)
	}
	chart, _, _ := chartStatus(obj), true, error(nil)
	if want := sha256File(t, filepath.Join(repoDir, "webapp-0.1.0.tgz")); chart["version"] != "0.1.0" || chart["digest"] != want {
		t.Errorf("status.chart = %v, want version 0.1.0 and digest %s", chart, want)
	}
	if chart["manifest"] != "phase4.web.v1" {
		t.Errorf("status.chart.manifest = %q, want phase4.web.v1", chart["manifest"])
	}
	// The helm it ran is the pinned one, and /metrics says so.
	pinned := readEnv(t, filepath.Join(repoRoot(), "hack", "versions.env"))["HELM_VERSION"]
	info := ""
	for _, l := range strings.Split(scrape(op), "\n") {
		if strings.HasPrefix(l, "phase4_build_info{") {
			info = l
		}
	}
	if want := fmt.Sprintf(`helm="%s",helm_pinned="%s"`, pinned, pinned); pinned == "" || !strings.Contains(info, want) {
		t.Errorf("phase4_build_info = %q, want it to report helm %s (found and pinned)", info, pinned)
	}
	if out, err := run(ctx, nil, filepath.Join(repoRoot(), "build", "phase4-operator"), "--version"); err != nil || !strings.Contains(out, "helm "+pinned) {
		t.Errorf("phase4-operator --version does not name helm %s: %v\n%s", pinned, err, out)
	}

	// The manifest Secret: typed, labelled, owned by the resource.
	secret, err := kube.CoreV1().Secrets(ns).Get(ctx, "phase4.web.v1", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the manifest Secret: %v", err)
	}
	if secret.Type != "phase4.io/manifest" {
		t.Errorf("manifest Secret type = %q, want phase4.io/manifest", secret.Type)
	}
	for k, v := range map[string]string{"app.kubernetes.io/managed-by": "phase4-operator",
		"phase4.io/name": "web", "phase4.io/generation": "1"} {
		if secret.Labels[k] != v {
			t.Errorf("manifest Secret label %s = %q, want %q (labels %v)", k, secret.Labels[k], v, secret.Labels)
		}
	}
	if refs := secret.OwnerReferences; len(refs) != 1 || refs[0].Kind != "Phase4Deployment" || refs[0].Name != "web" ||
		refs[0].UID != obj.GetUID() || refs[0].Controller == nil || !*refs[0].Controller {
		t.Errorf("manifest Secret owner references = %+v, want the Phase4Deployment (uid %s) as controller", refs, obj.GetUID())
	}

	// What was rendered: the pinned image, the user's message, all three objects.
	manifest := manifestOf(t, ctx, ns, "phase4.web.v1")
	dep := manifestObject(t, manifest, "Deployment", "web-webapp")
	if img := containerImage(dep); img != plainHost(t)+"/phase4/multi@"+images["MULTI_DIGEST"] {
		t.Errorf("the rendered Deployment runs %q, want the pinned %s/phase4/multi@%s", img, plainHost(t), images["MULTI_DIGEST"])
	}
	if msg := lookup(manifestObject(t, manifest, "ConfigMap", "web-webapp"), "data.MESSAGE"); msg != "hi" {
		t.Errorf("the rendered ConfigMap has MESSAGE %v, want the value given in spec.chart.values (hi)", msg)
	}
	manifestObject(t, manifest, "Service", "web-webapp")

	waitEvent(t, ctx, ns, "web", "Normal", "ChartReady", "")
	// (The Kubernetes stage then applies the objects: kube_test.go.)

	// "~0.2" resolves to 0.2.0, the newest 0.2.x.
	obj = waitCondition(t, ctx, ns, "ranged", "HelmReady", "True", "ChartReady", 90*time.Second)
	chart, _, _ = chartStatus(obj), true, error(nil)
	if want := sha256File(t, filepath.Join(repoDir, "webapp-0.2.0.tgz")); chart["version"] != "0.2.0" || chart["digest"] != want {
		t.Errorf("version ~0.2: status.chart = %v, want version 0.2.0 and digest %s", chart, want)
	}
	if chart["manifest"] != "phase4.ranged.v1" {
		t.Errorf("version ~0.2: status.chart.manifest = %q, want phase4.ranged.v1", chart["manifest"])
	}
}

// The same chart from OCI registries: the plain-HTTP one with
// chart.insecure, and the TLS one that needs a CA (from a ConfigMap) and
// basic auth (from a Secret, never logged). The digest is the archive's, the
// same bytes as in the HTTP repository.
func TestHelmStagePassesFromOCI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-helm-oci")
	charts := chartsEnv(t)
	auth := readEnv(t, filepath.Join(cacheDir(), "registry", "auth.env"))
	ca, err := os.ReadFile(filepath.Join(cacheDir(), "registry", "certs", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "chart-ca"}, Data: map[string]string{"ca.crt": string(ca)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "chart-creds"},
		StringData: map[string]string{"username": auth["REGISTRY_USER"], "password": auth["REGISTRY_PASSWORD"]},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := sha256File(t, filepath.Join(cacheDir(), "charts", "repo", "webapp-0.1.0.tgz"))
	// helm given by a relative path works: it is made absolute at start,
	// before helm runs in a work directory of its own.
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(cwd, helmBinary(t))
	if err != nil || filepath.IsAbs(rel) {
		t.Fatalf("no relative path to helm from %s: %q, %v", cwd, rel, err)
	}
	op := helmOperator(t, ctx, "--helm-binary", rel)
	// One that names nothing is refused at start, not at every run.
	if out, err := run(ctx, nil, filepath.Join(repoRoot(), "build", "phase4-operator"), "--helm-binary", "no/such/helm"); err == nil ||
		!strings.Contains(out, "--helm-binary 'no/such/helm'") {
		t.Errorf("phase4-operator --helm-binary no/such/helm: %v, want it refused naming the flag:\n%s", err, out)
	}

	createP4D(t, ctx, helmP4D(t, ns, "plain", map[string]any{"repository": charts["CHART_OCI_PLAIN"],
		"name": "webapp", "version": "0.1.0", "insecure": true}))
	createP4D(t, ctx, helmP4D(t, ns, "tls", map[string]any{"repository": charts["CHART_OCI_TLS"],
		"name": "webapp", "version": "0.1.0",
		"caBundle":  map[string]any{"kind": "ConfigMap", "name": "chart-ca"},
		"secretRef": map[string]any{"name": "chart-creds"}}))

	for _, name := range []string{"plain", "tls"} {
		obj := waitCondition(t, ctx, ns, name, "HelmReady", "True", "ChartReady", 90*time.Second)
		checkHelmPassed(t, obj)
		chart, _, _ := chartStatus(obj), true, error(nil)
		if chart["version"] != "0.1.0" || chart["digest"] != want || chart["manifest"] != "phase4."+name+".v1" {
			t.Errorf("%s: status.chart = %v, want version 0.1.0, digest %s, manifest phase4.%s.v1", name, chart, want, name)
		}
	}
	if strings.Contains(op.log(), auth["REGISTRY_PASSWORD"]) {
		t.Errorf("the operator logged the chart registry's password")
	}
}

// A version the repository does not have: the Packaged gate fails with
// ChartNotFound, and with no retries left the resource is Stalled until
// someone changes the chart reference.
func TestHelmStageChartNotFound(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-helm-404")
	charts := chartsEnv(t)
	helmOperator(t, ctx)

	createP4D(t, ctx, helmP4D(t, ns, "missing", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "webapp", "version": "9.9.9"}))
	expectHelmFailure(t, ctx, ns, "missing", "Packaged", "ChartNotFound", "RegenerationRequired")
	waitEvent(t, ctx, ns, "missing", "Warning", "ChartNotFound", "")
}

// A chart `helm lint --strict` rejects (a ConfigMap name with '_' and
// capitals): the chart is fetched, the Lints gate fails with ChartLintFailed.
func TestHelmStageLintFailed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-helm-lint")
	charts := chartsEnv(t)
	helmOperator(t, ctx)

	createP4D(t, ctx, helmP4D(t, ns, "linty", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "lint-error", "version": "0.1.0"}))
	obj := expectHelmFailure(t, ctx, ns, "linty", "Lints", "ChartLintFailed", "RegenerationRequired")
	if g := helmGate(obj, "Packaged"); g == nil || g["status"] != "True" || g["reason"] != "ChartFetched" {
		t.Errorf("Packaged gate = %v, want True/ChartFetched (the chart was fetched before linting)", g)
	}
	waitEvent(t, ctx, ns, "linty", "Warning", "ChartLintFailed", "")
	noWebappObjects(t, ctx, ns, "linty")
}

// Values that break the chart's values.schema.json: the ValuesValid gate
// fails with ValuesSchemaInvalid and the message names the offending field,
// whether the bad value is the user's or the chart's own default.
func TestHelmStageValuesSchemaInvalid(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-helm-schema")
	charts := chartsEnv(t)
	// One helm at a time: the two resources take their turns, neither is starved.
	helmOperator(t, ctx, "--helm-concurrency", "1")

	createP4D(t, ctx, helmP4D(t, ns, "three", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "webapp", "version": "0.1.0", "values": map[string]any{"replicaCount": "three"}}))
	createP4D(t, ctx, helmP4D(t, ns, "chart-default", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "schema-violation", "version": "0.1.0"}))

	obj := expectHelmFailure(t, ctx, ns, "three", "ValuesValid", "ValuesSchemaInvalid", "RegenerationRequired", "replicaCount")
	// The chart itself is fine, only the values are not: it is not blamed on the chart.
	if g := helmGate(obj, "Packaged"); g == nil || g["status"] != "True" {
		t.Errorf("Packaged gate = %v, want True", g)
	}
	if g := helmGate(obj, "Lints"); g != nil && g["status"] == "False" {
		t.Errorf("Lints gate = %v: bad values are not a lint failure of the chart", g)
	}
	waitEvent(t, ctx, ns, "three", "Warning", "ValuesSchemaInvalid", "replicaCount")

	expectHelmFailure(t, ctx, ns, "chart-default", "ValuesValid", "ValuesSchemaInvalid", "RegenerationRequired", "replicaCount")
	noWebappObjects(t, ctx, ns, "three")
}

// A chart whose template includes a template that does not exist: the
// DryRun gate fails with TemplateRenderFailed, naming the missing template.
func TestHelmStageTemplateRenderFailed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-helm-tpl")
	charts := chartsEnv(t)
	helmOperator(t, ctx)

	createP4D(t, ctx, helmP4D(t, ns, "broken", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "template-error", "version": "0.1.0"}))
	expectHelmFailure(t, ctx, ns, "broken", "DryRun", "TemplateRenderFailed", "RegenerationRequired", "no-such-template")
	waitEvent(t, ctx, ns, "broken", "Warning", "TemplateRenderFailed", "no-such-template")
	noWebappObjects(t, ctx, ns, "broken")

	// A Bitnami-style value check: NOTES.txt fails with a text of several
	// lines; the message carries helm's whole first paragraph, not only
	// "execution error at (regweb/templates/NOTES.txt:11:4):".
	createP4D(t, ctx, helmP4D(t, ns, "notes", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "regweb", "version": "1.2.3", "values": map[string]any{"auth": map[string]any{"enabled": true}}}))
	expectHelmFailure(t, ctx, ns, "notes", "DryRun", "TemplateRenderFailed", "RegenerationRequired",
		"regweb/templates/NOTES.txt", "VALUES VALIDATION: regweb: auth.password A password is required when auth.enabled is true: set auth.password.")
	waitEvent(t, ctx, ns, "notes", "Warning", "TemplateRenderFailed", "A password is required")
}

// The API server refuses the rendered objects in the dry run. An exceeded
// quota and a ValidatingAdmissionPolicy denying the chart's ConfigMap are the
// cluster's business (Stalled with DryRunRejected, for a person to raise the
// quota or settle the policy; re-checked, so a fix heals it). Either way the
// message is the API server's, and nothing is created.
func TestHelmStageDryRunRejected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	charts := chartsEnv(t)
	helmOperator(t, ctx)

	// (a) A quota of no Services in the namespace.
	ns := newNamespace(t, ctx, "e2e-helm-quota")
	if _, err := kube.CoreV1().ResourceQuotas(ns).Create(ctx, &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "no-services"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceServices: resource.MustParse("0")}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the quota to be counted", func() (bool, string, error) {
		q, err := kube.CoreV1().ResourceQuotas(ns).Get(ctx, "no-services", metav1.GetOptions{})
		return err == nil && q.Status.Hard != nil, fmt.Sprint(err), nil
	})
	createP4D(t, ctx, helmP4D(t, ns, "quota", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "webapp", "version": "0.1.0"}))
	obj := expectHelmFailure(t, ctx, ns, "quota", "DryRun", "DryRunRejected", "EscalatedToUser", "exceeded quota")
	// One sentence naming the object, then the API server's words: said once.
	if msg := fmt.Sprint(condition(obj, "HelmReady")["message"]); !strings.HasPrefix(msg, "the API server rejected Service "+ns+"/quota-webapp in a server-side dry run: ") ||
		strings.Count(msg, "dry run") != 1 {
		t.Errorf("HelmReady message = %q, want the object and the dry run named once", msg)
	}
	waitEvent(t, ctx, ns, "quota", "Warning", "DryRunRejected", "exceeded quota")
	noWebappObjects(t, ctx, ns, "quota")

	// (b) An admission policy that denies the chart's ConfigMap for this value.
	ns2 := newNamespace(t, ctx, "e2e-helm-vap")
	denyForbiddenMessage(t, ctx, ns2)
	createP4D(t, ctx, helmP4D(t, ns2, "denied", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "webapp", "version": "0.1.0", "values": map[string]any{"message": "forbidden"}}))
	expectHelmFailure(t, ctx, ns2, "denied", "DryRun", "DryRunRejected", "EscalatedToUser", "MESSAGE must not be forbidden")
	waitEvent(t, ctx, ns2, "denied", "Warning", "DryRunRejected", "MESSAGE must not be forbidden")
	noWebappObjects(t, ctx, ns2, "denied")
}

// Changing the values is a new generation: the stage runs again and stores
// a new manifest Secret (v2) with the new values; the v1 Secret stays.
func TestHelmStageValuesChangeRerunsStage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-helm-rerun")
	charts := chartsEnv(t)
	helmOperator(t, ctx)

	createP4D(t, ctx, helmP4D(t, ns, "web", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "webapp", "version": "0.1.0", "values": map[string]any{"message": "one"}}))
	waitCondition(t, ctx, ns, "web", "HelmReady", "True", "ChartReady", 90*time.Second)
	if msg := lookup(manifestObject(t, manifestOf(t, ctx, ns, "phase4.web.v1"), "ConfigMap", "web-webapp"), "data.MESSAGE"); msg != "one" {
		t.Errorf("generation 1 manifest has MESSAGE %v, want one", msg)
	}

	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "web", types.MergePatchType,
		[]byte(`{"spec":{"chart":{"values":{"message":"two"}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	var obj *unstructured.Unstructured
	eventually(t, 90*time.Second, "HelmReady True (ChartReady) for generation 2", func() (bool, string, error) {
		var err error
		if obj, err = getP4D(ctx, ns, "web"); err != nil {
			return false, "", err
		}
		c := condition(obj, "HelmReady")
		return c != nil && c["status"] == "True" && c["reason"] == "ChartReady" && fmt.Sprint(c["observedGeneration"]) == "2",
			fmt.Sprint(c), nil
	})
	checkHelmPassed(t, obj)
	if m, _, _ := unstructured.NestedString(obj.Object, "status", "chart", "manifest"); m != "phase4.web.v2" {
		t.Errorf("status.chart.manifest = %q, want phase4.web.v2", m)
	}
	if msg := lookup(manifestObject(t, manifestOf(t, ctx, ns, "phase4.web.v2"), "ConfigMap", "web-webapp"), "data.MESSAGE"); msg != "two" {
		t.Errorf("generation 2 manifest has MESSAGE %v, want two", msg)
	}
	secret, err := kube.CoreV1().Secrets(ns).Get(ctx, "phase4.web.v2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if secret.Labels["phase4.io/generation"] != "2" {
		t.Errorf("v2 Secret label phase4.io/generation = %q, want 2", secret.Labels["phase4.io/generation"])
	}
	if _, err := kube.CoreV1().Secrets(ns).Get(ctx, "phase4.web.v1", metav1.GetOptions{}); err != nil {
		t.Errorf("the generation 1 manifest Secret is gone: %v", err)
	}
}

// Values from a ConfigMap and a Secret in the resource's namespace, merged
// in order (a later source overrides an earlier one; targetPath puts a whole
// key at one path); an optional source that is missing is skipped. A
// required source that is missing stops the stage (ValuesSourceNotFound, a
// matter for the cluster, not the chart) until it is created, with no change
// to the resource.
func TestHelmStageValuesFrom(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-helm-valuesfrom")
	charts := chartsEnv(t)
	if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "web-values"},
		Data:       map[string]string{"values.yaml": "message: from-configmap\nreplicaCount: 3\n"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "web-secret"},
		StringData: map[string]string{"msg": "from-secret"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	helmOperator(t, ctx)

	createP4D(t, ctx, helmP4D(t, ns, "web", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "webapp", "version": "0.1.0", "valuesFrom": []any{
			map[string]any{"kind": "ConfigMap", "name": "web-values"},
			map[string]any{"kind": "Secret", "name": "web-secret", "valuesKey": "msg", "targetPath": "message"},
			map[string]any{"kind": "ConfigMap", "name": "not-there", "optional": true},
		}}))
	createP4D(t, ctx, helmP4D(t, ns, "late", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "webapp", "version": "0.1.0", "valuesFrom": []any{
			map[string]any{"kind": "ConfigMap", "name": "late-values"},
		}}))

	obj := waitCondition(t, ctx, ns, "web", "HelmReady", "True", "ChartReady", 90*time.Second)
	checkHelmPassed(t, obj)
	manifest := manifestOf(t, ctx, ns, "phase4.web.v1")
	if msg := lookup(manifestObject(t, manifest, "ConfigMap", "web-webapp"), "data.MESSAGE"); msg != "from-secret" {
		t.Errorf("rendered MESSAGE = %v, want from-secret (the Secret's key at targetPath message overrides the ConfigMap)", msg)
	}
	if r := lookup(manifestObject(t, manifest, "Deployment", "web-webapp"), "spec.replicas"); fmt.Sprint(r) != "3" {
		t.Errorf("rendered replicas = %v, want 3 from the ConfigMap's values.yaml", r)
	}

	// The required ConfigMap is not there: a person must create it.
	obj = expectHelmFailure(t, ctx, ns, "late", "ValuesValid", "ValuesSourceNotFound", "EscalatedToUser", "late-values")
	waitEvent(t, ctx, ns, "late", "Warning", "ValuesSourceNotFound", "late-values")
	generation := obj.GetGeneration()
	if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "late-values"},
		Data:       map[string]string{"values.yaml": "message: arrived-late\n"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	obj = waitCondition(t, ctx, ns, "late", "HelmReady", "True", "ChartReady", 60*time.Second)
	checkHelmPassed(t, obj)
	if obj.GetGeneration() != generation {
		t.Errorf("generation changed from %d to %d: the stage should heal without a spec change", generation, obj.GetGeneration())
	}
	if c := condition(obj, "Stalled"); c != nil && c["status"] == "True" {
		t.Errorf("Stalled = %v after the values source appeared", c)
	}
	m, _, _ := unstructured.NestedString(obj.Object, "status", "chart", "manifest")
	if msg := lookup(manifestObject(t, manifestOf(t, ctx, ns, m), "ConfigMap", "late-webapp"), "data.MESSAGE"); msg != "arrived-late" {
		t.Errorf("rendered MESSAGE = %v, want arrived-late from the ConfigMap created afterwards", msg)
	}
}

// A helm that hangs (here: `helm lint` never returns) is stopped at
// --helm-timeout: its whole process group is killed, HelmReady is Unknown
// with HelmTimedOut naming the time limit, and the stage tries again.
func TestHelmStageKillsHungHelm(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-helm-hung")
	charts := chartsEnv(t)
	dir := t.TempDir()
	pids, children := filepath.Join(dir, "lint.pids"), filepath.Join(dir, "child.pids")
	tail, err := exec.LookPath("tail")
	if err != nil {
		t.Fatal(err)
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	// helm runs with PATH=/usr/bin:/bin and nothing else: absolute paths only.
	// `lint` records its pid and that of a child in its process group, then blocks.
	fake := filepath.Join(dir, "helm")
	script := fmt.Sprintf(`#!/bin/sh
for a in "$@"; do
  if [ "$a" = lint ]; then
    echo $$ >> %[1]q
    %[2]q 600 < /dev/null > /dev/null 2>&1 &
    echo $! >> %[3]q
    exec %[4]q -f /dev/null
  fi
done
exec %[5]q "$@"
`, pids, sleep, children, tail, helmBinary(t))
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // should the operator not stop them, do not leave them behind
		for _, f := range []string{pids, children} {
			for _, pid := range pidsIn(f) {
				killIfRunning(pid, tail, sleep)
			}
		}
	})
	helmOperator(t, ctx, "--helm-binary", fake, "--helm-timeout", "2s")

	createP4D(t, ctx, helmP4D(t, ns, "hung", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "webapp", "version": "0.1.0"}))
	obj := waitCondition(t, ctx, ns, "hung", "HelmReady", "Unknown", "HelmTimedOut", 90*time.Second)
	msg := fmt.Sprint(condition(obj, "HelmReady")["message"])
	if !regexp.MustCompile(`\b2 ?s\b|\b2 seconds?\b|\b2000 ?ms\b`).MatchString(msg) {
		t.Errorf("HelmTimedOut message does not name the 2s time limit: %q", msg)
	}
	if c := condition(obj, "Stalled"); c != nil && c["status"] == "True" {
		t.Errorf("Stalled = %v: a timed-out helm is transient and retried", c)
	}

	// The first hung lint and its child are gone (SIGTERM, then SIGKILL after a grace period).
	lint, child := pidsIn(pids), pidsIn(children)
	if len(lint) == 0 || len(child) == 0 {
		t.Fatalf("the fake helm recorded no lint run (pids %v, children %v)", lint, child)
	}
	eventually(t, 15*time.Second, fmt.Sprintf("the timed-out helm lint (pid %d) and its child (pid %d) to be gone", lint[0], child[0]),
		func() (bool, string, error) {
			return !alive(lint[0]) && !alive(child[0]), fmt.Sprintf("helm alive %v, child alive %v", alive(lint[0]), alive(child[0])), nil
		})
	// Transient: the stage runs helm lint again.
	eventually(t, 30*time.Second, "a second helm lint run", func() (bool, string, error) {
		n := len(pidsIn(pids))
		return n >= 2, fmt.Sprintf("%d runs", n), nil
	})
}

// ---- helpers ----

var (
	vapGVR        = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicies"}
	vapBindingGVR = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicybindings"}
)

func chartsEnv(t testing.TB) map[string]string {
	return readEnv(t, filepath.Join(cacheDir(), "charts", "charts.env"))
}

// helmBinary is the absolute path of helm (the operator runs it with PATH=/usr/bin:/bin).
func helmBinary(t testing.TB) string {
	t.Helper()
	p := tool("helm")
	if !filepath.IsAbs(p) {
		lp, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("helm: %v", err)
		}
		if p, err = filepath.Abs(lp); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// helmOperator starts the operator with the Helm stage's flags and test-sized
// retries and polls; a flag in extra replaces the default for it.
func helmOperator(t testing.TB, ctx context.Context, extra ...string) *operator {
	t.Helper()
	defaults := [][2]string{
		{"--helm-binary", helmBinary(t)},
		{"--cache-dir", t.TempDir()},
		{"--helm-timeout", "60s"},
		{"--stage-retry-delay", "1s"},
		{"--stalled-recheck-interval", "2s"},
		{"--scan-poll-interval", "1s"},
	}
	var args []string
	for _, d := range defaults {
		given := false
		for _, e := range extra {
			if e == d[0] || strings.HasPrefix(e, d[0]+"=") {
				given = true
			}
		}
		if !given {
			args = append(args, d[0], d[1])
		}
	}
	return startOperator(t, ctx, append(args, extra...)...)
}

// helmP4D builds a Phase4Deployment in ns for chart, whose image (phase4/multi
// in the plain registry) passes the Docker stage.
func helmP4D(t testing.TB, ns, name string, chart map[string]any) *unstructured.Unstructured {
	obj := p4d(ns, name, map[string]any{"repository": plainHost(t) + "/phase4/multi", "tag": "1.0", "insecure": true})
	obj.Object["spec"].(map[string]any)["chart"] = chart
	return obj
}

// helmGate is the status.gates entry of the Helm stage called name.
func helmGate(obj *unstructured.Unstructured, name string) map[string]any {
	gates, _, _ := unstructured.NestedSlice(obj.Object, "status", "gates")
	for _, g := range gates {
		if m, ok := g.(map[string]any); ok && m["stage"] == "Helm" && m["name"] == name {
			return m
		}
	}
	return nil
}

// checkHelmPassed checks that the Helm gates are there in order, each True with its passing reason.
func checkHelmPassed(t testing.TB, obj *unstructured.Unstructured) {
	t.Helper()
	gates, _, _ := unstructured.NestedSlice(obj.Object, "status", "gates")
	var order []string
	for _, g := range gates {
		if m, ok := g.(map[string]any); ok && m["stage"] == "Helm" {
			order = append(order, fmt.Sprint(m["name"]))
		}
	}
	if strings.Join(order, ",") != "Packaged,Lints,ValuesValid,ImagePinned,ImagesPullable,DryRun" {
		t.Errorf("%s: Helm gates %v, want Packaged, Lints, ValuesValid, ImagePinned, ImagesPullable, DryRun in that order", obj.GetName(), order)
	}
	for _, want := range helmGates {
		g := helmGate(obj, want.name)
		reasonOK := false
		for _, r := range strings.Split(want.reason, "|") {
			reasonOK = reasonOK || (g != nil && g["reason"] == r)
		}
		if g == nil || g["status"] != "True" || !reasonOK || g["lastTransitionTime"] == nil {
			t.Errorf("%s: Helm gate %s = %v, want True/%s", obj.GetName(), want.name, g, want.reason)
		}
	}
}

// expectHelmFailure waits until HelmReady is False with reason, then checks
// the failing gate says the same, Stalled is True with stalledReason, and
// both the condition's and the gate's messages contain each of contains.
func expectHelmFailure(t testing.TB, ctx context.Context, ns, name, gateName, reason, stalledReason string,
	contains ...string) *unstructured.Unstructured {
	t.Helper()
	waitCondition(t, ctx, ns, name, "HelmReady", "False", reason, 90*time.Second)
	obj := waitCondition(t, ctx, ns, name, "Stalled", "True", stalledReason, 30*time.Second)
	if stalledReason == "EscalatedToUser" {
		expectEscalated(t, ctx, ns, name, reason)
	}
	c := condition(obj, "HelmReady")
	if c == nil || c["status"] != "False" || c["reason"] != reason {
		t.Errorf("%s: HelmReady = %v, want False/%s", name, c, reason)
	}
	g := helmGate(obj, gateName)
	if g == nil || g["status"] != "False" || g["reason"] != reason || g["lastTransitionTime"] == nil {
		t.Errorf("%s: Helm gate %s = %v, want False/%s", name, gateName, g, reason)
	}
	for _, want := range contains {
		if msg := fmt.Sprint(c["message"]); !strings.Contains(msg, want) {
			t.Errorf("%s: HelmReady message lacks %q: %q", name, want, msg)
		}
		if g != nil && !strings.Contains(fmt.Sprint(g["message"]), want) {
			t.Errorf("%s: gate %s message lacks %q: %q", name, gateName, want, g["message"])
		}
	}
	if stage, _, _ := unstructured.NestedString(obj.Object, "status", "stage"); stage != "Helm" {
		t.Errorf("%s: status.stage = %q, want Helm", name, stage)
	}
	return obj
}

// manifestOf reads the rendered manifest (gunzipped manifest.gz) from the Secret.
func manifestOf(t testing.TB, ctx context.Context, ns, secretName string) string {
	t.Helper()
	secret, err := kube.CoreV1().Secrets(ns).Get(ctx, secretName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("manifest Secret %s/%s: %v", ns, secretName, err)
	}
	gz, ok := secret.Data["manifest.gz"]
	if !ok {
		t.Fatalf("manifest Secret %s/%s has no manifest.gz (keys %v)", ns, secretName, keys(secret.Data))
	}
	r, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("manifest.gz of %s/%s: %v", ns, secretName, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("manifest.gz of %s/%s: %v", ns, secretName, err)
	}
	return string(b)
}

// manifestObject is the object of kind and name in a multi-document YAML manifest.
func manifestObject(t testing.TB, manifest, kind, name string) map[string]any {
	t.Helper()
	dec := k8syaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var seen []string
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("the rendered manifest is not YAML: %v\n%s", err, manifest)
		}
		if doc == nil {
			continue
		}
		n := lookup(doc, "metadata.name")
		if doc["kind"] == kind && n == name {
			return doc
		}
		seen = append(seen, fmt.Sprintf("%v/%v", doc["kind"], n))
	}
	t.Fatalf("the rendered manifest has no %s %s (it has %v)", kind, name, seen)
	return nil
}

func containerImage(deployment map[string]any) string {
	containers, _, _ := unstructured.NestedSlice(deployment, "spec", "template", "spec", "containers")
	if len(containers) == 0 {
		return ""
	}
	c, _ := containers[0].(map[string]any)
	return fmt.Sprint(c["image"])
}

// noWebappObjects checks that no webapp object of release name exists in ns (a dry run stores nothing).
func noWebappObjects(t testing.TB, ctx context.Context, ns, name string) {
	t.Helper()
	obj := name + "-webapp"
	if _, err := kube.AppsV1().Deployments(ns).Get(ctx, obj, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment %s/%s exists after a dry run (err %v)", ns, obj, err)
	}
	if _, err := kube.CoreV1().Services(ns).Get(ctx, obj, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Service %s/%s exists after a dry run (err %v)", ns, obj, err)
	}
	if _, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, obj, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap %s/%s exists after a dry run (err %v)", ns, obj, err)
	}
}

// denyForbiddenMessage installs a ValidatingAdmissionPolicy and its binding,
// for namespace ns only, that denies ConfigMaps whose data.MESSAGE is
// "forbidden", and waits until the API server enforces it.
func denyForbiddenMessage(t testing.TB, ctx context.Context, ns string) {
	t.Helper()
	name := "phase4-e2e-" + ns
	policy := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"failurePolicy": "Fail",
			"matchConstraints": map[string]any{"resourceRules": []any{map[string]any{
				"apiGroups": []any{""}, "apiVersions": []any{"v1"},
				"operations": []any{"CREATE", "UPDATE"}, "resources": []any{"configmaps"}}}},
			"validations": []any{map[string]any{
				"expression": `!has(object.data) || !('MESSAGE' in object.data) || object.data['MESSAGE'] != 'forbidden'`,
				"message":    "MESSAGE must not be forbidden"}},
		},
	}}
	binding := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"policyName":        name,
			"validationActions": []any{"Deny"},
			"matchResources": map[string]any{"namespaceSelector": map[string]any{
				"matchLabels": map[string]any{"kubernetes.io/metadata.name": ns}}},
		},
	}}
	if _, err := dyn.Resource(vapGVR).Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ValidatingAdmissionPolicy: %v", err)
	}
	t.Cleanup(func() { _ = dyn.Resource(vapGVR).Delete(context.Background(), name, metav1.DeleteOptions{}) })
	if _, err := dyn.Resource(vapBindingGVR).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ValidatingAdmissionPolicyBinding: %v", err)
	}
	t.Cleanup(func() { _ = dyn.Resource(vapBindingGVR).Delete(context.Background(), name, metav1.DeleteOptions{}) })

	eventually(t, 30*time.Second, "the admission policy to deny MESSAGE: forbidden", func() (bool, string, error) {
		_, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "probe"}, Data: map[string]string{"MESSAGE": "forbidden"},
		}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil && strings.Contains(err.Error(), "MESSAGE must not be forbidden"), fmt.Sprint(err), nil
	})
}

// pidsIn reads the pids a fake helm wrote to path, one a line.
func pidsIn(path string) []int {
	b, _ := os.ReadFile(path)
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killIfRunning kills pid if it still runs one of the programs the fake helm
// started (and so is not a later process that reuses the number).
func killIfRunning(pid int, programs ...string) {
	if !alive(pid) {
		return
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return
	}
	argv0, _, _ := strings.Cut(string(cmdline), "\x00")
	for _, prog := range programs {
		if argv0 == prog {
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Kill()
			}
			return
		}
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// An operator restart checks every stage of the current generation again,
// quietly: what passed stays passed while it does (DockerReady, HelmReady and KubernetesReady
// keep their lastTransitionTime), and no Event is told twice.
func TestStagesRecheckedAfterRestartWithoutFlapping(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	// This test counts every resource in the cluster: wait until the earlier
	// tests' namespaces (and the resources and workloads in them) are gone.
	eventually(t, 2*time.Minute, "earlier tests' namespaces to be deleted", func() (bool, string, error) {
		list, err := kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, "", err
		}
		var left []string
		for _, n := range list.Items {
			if n.DeletionTimestamp != nil {
				left = append(left, n.Name)
			}
		}
		return len(left) == 0, strings.Join(left, ", "), nil
	})
	ns := newNamespace(t, ctx, "e2e-helm-restart")
	charts := chartsEnv(t)
	first := helmOperator(t, ctx)

	createP4D(t, ctx, helmP4D(t, ns, "web", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "webapp", "version": "0.1.0"}))
	waitCondition(t, ctx, ns, "web", "HelmReady", "True", "ChartReady", 90*time.Second)
	before := waitCondition(t, ctx, ns, "web", "KubernetesReady", "True", "WorkloadsReady", 90*time.Second)
	waitEvent(t, ctx, ns, "web", "Normal", "WorkloadsReady", "")

	_ = first.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-first.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the first operator did not stop")
	}
	// No trust (--recheck-spread 0): every stage checks again at once, as this test wants.
	second := helmOperator(t, ctx, "--recheck-spread", "0")
	// Other tests' resources may be in the cluster too: the new operator is done
	// when every resource whose chart passed has passed the Helm stage again.
	eventually(t, 90*time.Second, "the new operator to have checked the stages again", func() (bool, string, error) {
		list, err := dyn.Resource(p4dGVR).Namespace("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, "", err
		}
		want := 0
		for i := range list.Items {
			if c := condition(&list.Items[i], "HelmReady"); c != nil && c["status"] == "True" {
				want++
			}
		}
		m := scrape(second)
		passed := metric(m, `phase4_helm_stage_results{result="passed"}`)
		kubePassed := metric(m, `phase4_kubernetes_stage_results{result="passed"}`)
		checking := metric(m, `phase4_docker_stage_results{result="checking"}`) + "/" +
			metric(m, `phase4_helm_stage_results{result="checking"}`) + "/" +
			metric(m, `phase4_kubernetes_stage_results{result="checking"}`)
		return passed == strconv.Itoa(want) && kubePassed == strconv.Itoa(want) && checking == "0/0/0",
			fmt.Sprintf("helm passed %s of %d, kubernetes passed %s, checking %s", passed, want, kubePassed, checking), nil
	})
	after, err := getP4D(ctx, ns, "web")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"DockerReady", "HelmReady", "KubernetesReady"} {
		b, a := condition(before, typ), condition(after, typ)
		if a == nil || a["status"] != "True" || a["lastTransitionTime"] != b["lastTransitionTime"] {
			t.Errorf("%s after the restart = %v, want it True since %v", typ, a, b["lastTransitionTime"])
		}
	}
	evs, err := events(ctx, ns, "web")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if (e.Reason == "ChartReady" || e.Reason == "ImageReady" || e.Reason == "WorkloadsReady") && e.Count > 1 {
			t.Errorf("Event %s told %d times; a restart must not tell it again", e.Reason, e.Count)
		}
	}
}

// chartStatus is status.chart's text members (version, digest, manifest);
// its images list is left out.
func chartStatus(obj *unstructured.Unstructured) map[string]string {
	m, _, _ := unstructured.NestedMap(obj.Object, "status", "chart")
	out := map[string]string{}
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// helm lint's outcome is reused for the same chart digest, values and lint options
// (--kube-version), whatever the target namespace: two Phase4Deployments in two namespaces
// deploying the same chart with the same values into one target namespace lint once; the
// second's Lints gate says the result was reused, and /metrics counts the hit. Other values
// lint again; the same values into another target namespace are reused too.
func TestHelmLintReusedForSameInputs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	nsA := newNamespace(t, ctx, "e2e-lintreuse-a")
	nsB := newNamespace(t, ctx, "e2e-lintreuse-b")
	target := newNamespace(t, ctx, "e2e-lintreuse-target")
	clusterAdmin(t, ctx, nsA, "deployer")
	clusterAdmin(t, ctx, nsB, "deployer")
	op := kubeOperator(t, ctx)

	into := func(obj *unstructured.Unstructured, ns string) *unstructured.Unstructured {
		spec := obj.Object["spec"].(map[string]any)
		spec["target"] = map[string]any{"namespace": ns}
		spec["serviceAccountName"] = "deployer"
		return obj
	}
	counters := func() (hits, misses int) {
		m := scrape(op)
		hits, _ = strconv.Atoi(metric(m, "phase4_helm_lint_cache_hits_total"))
		misses, _ = strconv.Atoi(metric(m, "phase4_helm_lint_cache_misses_total"))
		return hits, misses
	}
	lints := func(ns, name string) string {
		obj, err := dyn.Resource(p4dGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		g := helmGate(obj, "Lints")
		if g == nil || g["status"] != "True" || g["reason"] != "LintPassed" {
			t.Errorf("%s/%s: Lints gate = %v, want True/LintPassed", ns, name, g)
			return ""
		}
		return fmt.Sprint(g["message"])
	}
	same := map[string]any{"message": "same"}

	createP4D(t, ctx, into(kubeP4D(t, nsA, "web-a", "0.1.0", same), target))
	waitCondition(t, ctx, nsA, "web-a", "Ready", "True", "Succeeded", 3*time.Minute)
	if msg := lints(nsA, "web-a"); strings.Contains(msg, "reused") {
		t.Errorf("the first lint of the chart says it was reused: %q", msg)
	}
	hits, misses := counters()
	if misses < 1 {
		t.Errorf("phase4_helm_lint_cache_misses_total = %d after the first lint, want at least 1", misses)
	}

	// The same chart and values from another namespace into the same target: reused.
	createP4D(t, ctx, into(kubeP4D(t, nsB, "web-b", "0.1.0", same), target))
	waitCondition(t, ctx, nsB, "web-b", "Ready", "True", "Succeeded", 3*time.Minute)
	if msg := lints(nsB, "web-b"); !strings.Contains(msg, "reused") {
		t.Errorf("the second lint of the same chart and values does not say it was reused: %q", msg)
	}
	if h, _ := counters(); h <= hits {
		t.Errorf("phase4_helm_lint_cache_hits_total = %d after a reused lint, want more than %d", h, hits)
	}

	// Other values: linted again.
	hits, misses = counters()
	createP4D(t, ctx, into(kubeP4D(t, nsB, "web-c", "0.1.0", map[string]any{"message": "other"}), target))
	waitCondition(t, ctx, nsB, "web-c", "HelmReady", "True", "ChartReady", 2*time.Minute)
	if msg := lints(nsB, "web-c"); strings.Contains(msg, "reused") {
		t.Errorf("a lint with other values says it was reused: %q", msg)
	}
	if h, m := counters(); h != hits || m <= misses {
		t.Errorf("after a lint with other values: hits %d (want %d), misses %d (want more than %d)", h, hits, m, misses)
	}

	// The same values into another target namespace (lint's --namespace is not in the
	// key): reused, and the release still renders and applies in its own namespace.
	hits, misses = counters()
	createP4D(t, ctx, kubeP4D(t, nsB, "web-d", "0.1.0", same))
	waitCondition(t, ctx, nsB, "web-d", "Ready", "True", "Succeeded", 3*time.Minute)
	if msg := lints(nsB, "web-d"); !strings.Contains(msg, "reused") || !strings.Contains(msg, "another release namespace") {
		t.Errorf("a lint of the same chart and values into another target namespace does not say it was reused: %q", msg)
	}
	if h, m := counters(); h <= hits || m != misses {
		t.Errorf("after the same values into another namespace: hits %d (want more than %d), misses %d (want %d)", h, hits, m, misses)
	}
	if ds, err := kube.AppsV1().Deployments(nsB).List(ctx, metav1.ListOptions{LabelSelector: "phase4.io/name=web-d"}); err != nil || len(ds.Items) != 1 {
		t.Errorf("web-d's Deployment in its own namespace %s: %v %v", nsB, err, ds)
	}
}

// --helm-concurrency limits helm processes, not the resources the Helm stage
// checks: with a limit of 1 and helm lint held back, three resources are all
// in the stage, one helm runs and two wait in line (/metrics); a waiting one
// deleted leaves the line, and once helm goes on the others pass.
func TestHelmConcurrencyLimitsHelmProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-helm-limit")
	charts := chartsEnv(t)
	dir := t.TempDir()
	block, pids := filepath.Join(dir, "block"), filepath.Join(dir, "helm.pids")
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(block, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(block) })
	// helm runs with PATH=/usr/bin:/bin and nothing else: absolute paths only.
	// Every lint and template records its pid; lint waits while the block file is there.
	fake := filepath.Join(dir, "helm")
	script := fmt.Sprintf(`#!/bin/sh
case "$1" in lint|template) echo $$ >> %[1]q ;; esac
if [ "$1" = lint ]; then
  while [ -e %[2]q ]; do %[3]q 0.1; done
fi
exec %[4]q "$@"
`, pids, block, sleep, helmBinary(t))
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	op := helmOperator(t, ctx, "--helm-binary", fake, "--helm-concurrency", "1")

	for _, name := range []string{"first", "second", "third"} {
		createP4D(t, ctx, helmP4D(t, ns, name, map[string]any{"repository": charts["CHART_REPO_URL"],
			"name": "webapp", "version": "0.1.0", "values": map[string]any{"message": name}}))
	}
	state := func() string {
		m := scrape(op)
		return fmt.Sprintf("helm processes running %s, waiting %s; stage checks running %s",
			metric(m, `phase4_helm_processes{state="running"}`), metric(m, `phase4_helm_processes{state="waiting"}`),
			metric(m, `phase4_helm_stage_checks{state="running"}`))
	}
	eventually(t, 90*time.Second, "one helm running and two waiting, three resources in the stage", func() (bool, string, error) {
		s := state()
		return s == "helm processes running 1, waiting 2; stage checks running 3", s, nil
	})
	if n := len(pidsIn(pids)); n != 1 {
		t.Errorf("%d helm processes started while one lint was held back with --helm-concurrency 1, want 1", n)
	}

	// A resource waiting in line for helm is deleted: it leaves the line.
	deleteP4D(t, ctx, ns, "third")
	eventually(t, 30*time.Second, "the deleted resource to leave the line", func() (bool, string, error) {
		s := state()
		return strings.HasPrefix(s, "helm processes running 1, waiting 1;"), s, nil
	})

	// helm goes on: the two left pass, one helm process at a time, and nothing waits.
	if err := os.Remove(block); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"first", "second"} {
		obj := waitCondition(t, ctx, ns, name, "HelmReady", "True", "ChartReady", 90*time.Second)
		checkHelmPassed(t, obj)
	}
	eventually(t, 30*time.Second, "no helm running or waiting", func() (bool, string, error) {
		s := state()
		return strings.HasPrefix(s, "helm processes running 0, waiting 0;"), s, nil
	})
}

// TestHelmStageWaitsOutTerminatingNamespace: a target namespace being deleted refuses the dry run
// ("because it is being terminated", a 403). The Helm stage waits it out as the Kubernetes stage
// does (NamespaceTerminating, not Forbidden nor Stalled), and once the namespace is gone the
// resource creates it again and installs.
func TestHelmStageWaitsOutTerminatingNamespace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-helm-term")
	clusterAdmin(t, ctx, ns, "deployer")
	target := ns + "-target"
	const hold = "e2e.phase4.io/hold"
	release := func(ctx context.Context) error {
		_, err := kube.CoreV1().ConfigMaps(target).Patch(ctx, "held", types.JSONPatchType,
			[]byte(`[{"op":"remove","path":"/metadata/finalizers"}]`), metav1.PatchOptions{})
		return err
	}
	t.Cleanup(func() {
		_ = release(context.Background())
		_ = kube.CoreV1().Namespaces().Delete(context.Background(), target, metav1.DeleteOptions{})
	})
	// The namespace stays Terminating while a ConfigMap in it holds a finalizer.
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: target}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().ConfigMaps(target).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{hold}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := kube.CoreV1().Namespaces().Delete(ctx, target, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "namespace "+target+" Terminating", func() (bool, string, error) {
		n, err := kube.CoreV1().Namespaces().Get(ctx, target, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return n.Status.Phase == corev1.NamespaceTerminating, string(n.Status.Phase), nil
	})

	kubeOperator(t, ctx)
	p4d := kubeP4D(t, ns, "web", "0.1.0", nil)
	spec := p4d.Object["spec"].(map[string]any)
	spec["target"] = map[string]any{"namespace": target, "createNamespace": true}
	spec["serviceAccountName"] = "deployer"
	createP4D(t, ctx, p4d)
	obj := waitCondition(t, ctx, ns, "web", "HelmReady", "Unknown", "NamespaceTerminating", 90*time.Second)
	if c := condition(obj, "HelmReady"); !strings.Contains(fmt.Sprint(c["message"]), "being terminated") {
		t.Errorf("HelmReady = %v, want the API server's reason quoted", c)
	}
	if c := condition(obj, "Stalled"); c != nil && c["status"] == "True" {
		t.Errorf("Stalled = %v while the namespace is being deleted, want a wait", c)
	}
	waitEvent(t, ctx, ns, "web", "Warning", "NamespaceTerminating", "being terminated")

	if err := release(ctx); err != nil {
		t.Fatal(err)
	}
	waitKubeReady(t, ctx, ns, "web", 1)
	if _, err := kube.AppsV1().Deployments(target).Get(ctx, "web-webapp", metav1.GetOptions{}); err != nil {
		t.Errorf("the release's Deployment in the namespace made again: %v", err)
	}
}
