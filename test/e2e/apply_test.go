package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const applyManifest = `# Source: webapp/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  message: hello
---
# Source: webapp/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: "127.0.0.1:5000/phase4/app:1.0"}]
---
# Source: webapp/templates/empty.yaml
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`

func applyCLI(ctx context.Context, t *testing.T, manifest string, args ...string) (string, error) {
	path := filepath.Join(t.TempDir(), "manifest.yaml")
	writeFile(t, path, manifest)
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(), "build", "phase4-operator"),
		append([]string{"apply", "-f", path}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The server-side apply the stages use (`phase4-operator apply`): a dry run
// stores nothing, an invalid field and an exceeded quota are refused with
// the API server's words, and a real apply is owned by field manager
// phase4-operator.
func TestServerSideApplyAndDryRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := newNamespace(t, ctx, "e2e-apply")
	good := strings.Replace(applyManifest, "REPLICAS", "2", 1)

	out, err := applyCLI(ctx, t, good, "-n", ns, "--dry-run")
	if err != nil || strings.Count(out, "(server dry run)") != 3 {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if _, err := kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a dry run stored the Deployment: %v", err)
	}

	out, err = applyCLI(ctx, t, strings.Replace(applyManifest, "REPLICAS", `"two"`, 1), "-n", ns, "--dry-run")
	if err == nil || !strings.Contains(out, "Deployment "+ns+"/web in a server-side dry run") || !strings.Contains(out, ".spec.replicas") {
		t.Errorf("an invalid field was not refused with the API server's message: %v\n%s", err, out)
	}

	if _, err := kube.CoreV1().ResourceQuotas(ns).Create(ctx, &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "no-services"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceServices: resource.MustParse("0")}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the quota to be counted", func() (bool, string, error) {
		q, err := kube.CoreV1().ResourceQuotas(ns).Get(ctx, "no-services", metav1.GetOptions{})
		return err == nil && q.Status.Hard != nil, "", err
	})
	out, err = applyCLI(ctx, t, good, "-n", ns, "--dry-run")
	if err == nil || !strings.Contains(out, "exceeded quota: no-services") {
		t.Errorf("the quota did not answer the dry run: %v\n%s", err, out)
	}
	if err := kube.CoreV1().ResourceQuotas(ns).Delete(ctx, "no-services", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	out, err = applyCLI(ctx, t, good, "-n", ns)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	d, err := kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.ManagedFields) == 0 || d.ManagedFields[0].Manager != "phase4-operator" || d.ManagedFields[0].Operation != "Apply" {
		t.Errorf("managed fields = %+v, want an Apply by phase4-operator", d.ManagedFields)
	}
}
