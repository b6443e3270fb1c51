package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The scan gate asks for VulnerabilityReports only where the API server
// serves them, and notices the Trivy Operator's CRD installed after the
// operator started: a required report that waits (ScanPending) is read once
// the CRD and a report for the digest exist.
func TestDockerStageNoticesVulnerabilityReportCRDLater(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	crd := "crd/vulnerabilityreports.aquasecurity.github.io"
	if out, err := kubectl(ctx, "delete", crd, "--ignore-not-found", "--wait"); err != nil {
		t.Fatalf("delete the VulnerabilityReport CRD: %v\n%s", err, out)
	}
	t.Cleanup(func() { // as the other tests expect it: installed
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(repoRoot(), "test", "e2e", "testdata", "vulnerabilityreports-crd.yaml"))
		_, _ = kubectl(ctx, "wait", "--for=condition=Established", "--timeout=60s", crd)
	})
	ns := newNamespace(t, ctx, "e2e-docker-vrlate")
	plain, _ := registries(t)
	repo := "phase4/vrlate-" + ns
	digest := pushVariant(t, plain, repo)
	dockerOperator(t, ctx)

	createP4D(t, ctx, p4d(ns, "late", map[string]any{"repository": plainHost(t) + "/" + repo, "tag": "1.0",
		"insecure": true, "scan": map[string]any{"maxSeverity": "CRITICAL", "required": true, "timeout": "10m"}}))
	eventually(t, time.Minute, "Scanned gate ScanPending", func() (bool, string, error) {
		obj, err := getP4D(ctx, ns, "late")
		if err != nil {
			return false, "", err
		}
		g := gate(obj, "Scanned")
		return g != nil && g["reason"] == "ScanPending", fmt.Sprint(g), nil
	})

	if out, err := kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(repoRoot(), "test", "e2e", "testdata", "vulnerabilityreports-crd.yaml")); err != nil {
		t.Fatalf("install the VulnerabilityReport CRD: %v\n%s", err, out)
	}
	if out, err := kubectl(ctx, "wait", "--for=condition=Established", "--timeout=60s", crd); err != nil {
		t.Fatalf("VulnerabilityReport CRD not established: %v\n%s", err, out)
	}
	report := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "aquasecurity.github.io/v1alpha1", "kind": "VulnerabilityReport",
		"metadata": map[string]any{"name": "replicaset-late-app", "namespace": ns},
		"report": map[string]any{
			"artifact": map[string]any{"repository": repo, "tag": "1.0", "digest": digest},
			"registry": map[string]any{"server": plainHost(t)},
			"scanner":  map[string]any{"name": "Trivy", "vendor": "Aqua Security", "version": "0.50.0"},
			"summary":  map[string]any{"criticalCount": 0, "highCount": 0, "mediumCount": 2, "lowCount": 0, "unknownCount": 0},
		},
	}}
	eventually(t, 30*time.Second, "the VulnerabilityReport is created", func() (bool, string, error) {
		_, err := dyn.Resource(vulnReportGVR).Namespace(ns).Create(ctx, report, metav1.CreateOptions{})
		return err == nil, fmt.Sprint(err), nil // the new resource may take a moment to be served
	})
	obj := waitCondition(t, ctx, ns, "late", "DockerReady", "True", "ImageReady", 90*time.Second)
	if g := gate(obj, "Scanned"); g["reason"] != "ScanPassed" || !strings.Contains(fmt.Sprint(g["message"]), "VulnerabilityReport "+ns+"/replicaset-late-app") {
		t.Errorf("Scanned gate = %v", g)
	}
}

// A Secret already under the manifest Secret's name that the resource does not
// own is never written over: the Helm stage fails ManifestSecretConflict, and
// the Secret keeps its data.
func TestHelmStageRefusesForeignManifestSecret(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-helm-foreign")
	charts := chartsEnv(t)
	if _, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "phase4.web.v1"},
		Data:       map[string][]byte{"mine": []byte("keep me")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	helmOperator(t, ctx)
	createP4D(t, ctx, helmP4D(t, ns, "web", map[string]any{"repository": charts["CHART_REPO_URL"],
		"name": "webapp", "version": "0.1.0"}))
	obj := waitCondition(t, ctx, ns, "web", "HelmReady", "False", "ManifestSecretConflict", 90*time.Second)
	if c := condition(obj, "HelmReady"); !strings.Contains(fmt.Sprint(c["message"]), "phase4.web.v1") {
		t.Errorf("HelmReady = %v, want it to name the Secret", c)
	}
	s, err := kube.CoreV1().Secrets(ns).Get(ctx, "phase4.web.v1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(s.Data["mine"]) != "keep me" || len(s.Data) != 1 || len(s.OwnerReferences) != 0 || s.Type == "phase4.io/manifest" {
		t.Errorf("the foreign Secret was changed: type %q, owners %v, data keys %d", s.Type, s.OwnerReferences, len(s.Data))
	}
	if stage, _, _ := unstructured.NestedString(obj.Object, "status", "stage"); stage != "Helm" {
		t.Errorf("status.stage = %q, want Helm (nothing applied)", stage)
	}
}
