package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
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

// checkMarks fails unless meta carries the applyset's labels and ownership annotation.
func checkMarks(t *testing.T, what string, meta metav1.Object, owner string, generation string) {
	t.Helper()
	name := owner[strings.Index(owner, "/")+1:]
	want := map[string]string{
		"app.kubernetes.io/managed-by": "phase4-operator",
		"phase4.io/name":               name,
		"phase4.io/generation":         generation,
	}
	for k, v := range want {
		if got := meta.GetLabels()[k]; got != v {
			t.Errorf("%s: label %s = %q, want %q", what, k, got, v)
		}
	}
	if got := meta.GetAnnotations()["phase4.io/owner"]; got != owner {
		t.Errorf("%s: annotation phase4.io/owner = %q, want %q", what, got, owner)
	}
}

func appliedBy(fields []metav1.ManagedFieldsEntry, manager string) bool {
	for _, f := range fields {
		if f.Manager == manager && f.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

// The applyset engine (`phase4-operator apply --owner NS/NAME`), as the
// Kubernetes stage runs it: objects are marked as owned and applied by field
// manager phase4-operator, the inventory is written, what the next manifest no
// longer holds is pruned (only if still ours), an object someone else owns is
// never overwritten, the target namespace can be created, and a CRD shipped
// with its custom resources is waited for.
func TestApplySetOwnsAndPrunes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := newNamespace(t, ctx, "e2e-applyset")
	owner := ns + "/shop"
	dir := t.TempDir()
	inv1, inv2 := filepath.Join(dir, "inv1.json"), filepath.Join(dir, "inv2.json")
	full := strings.Replace(applyManifest, "REPLICAS", "1", 1)

	// (a) ConfigMap, Deployment and Service, marked and recorded.
	out, err := applyCLI(ctx, t, full, "-n", ns, "--owner", owner, "--generation", "3", "--inventory-out", inv1)
	if err != nil || !strings.Contains(out, "3 applied, 0 pruned") {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	cm, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "web-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkMarks(t, "ConfigMap", cm, owner, "3")
	d, err := kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkMarks(t, "Deployment", d, owner, "3")
	svc, err := kube.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkMarks(t, "Service", svc, owner, "3")
	for what, fields := range map[string][]metav1.ManagedFieldsEntry{
		"ConfigMap": cm.ManagedFields, "Deployment": d.ManagedFields, "Service": svc.ManagedFields} {
		if !appliedBy(fields, "phase4-operator") {
			t.Errorf("%s: managed fields %+v, want an Apply by phase4-operator", what, fields)
		}
	}
	raw, err := os.ReadFile(inv1)
	if err != nil {
		t.Fatal(err)
	}
	var inv []map[string]string
	if err := json.Unmarshal(raw, &inv); err != nil {
		t.Fatalf("inventory %s: %v", raw, err)
	}
	listed := map[string]bool{}
	for _, e := range inv {
		listed[e["apiVersion"]+" "+e["kind"]+" "+e["namespace"]+"/"+e["name"]] = true
	}
	for _, want := range []string{"v1 ConfigMap " + ns + "/web-config", "v1 Service " + ns + "/web",
		"apps/v1 Deployment " + ns + "/web"} {
		if !listed[want] || len(inv) != 3 {
			t.Errorf("inventory %s does not list exactly the three objects (%s missing?)", raw, want)
		}
	}

	// (b) The ConfigMap leaves the chart: pruned, the others stay.
	noConfig := full[strings.Index(full, "---")+4:]
	out, err = applyCLI(ctx, t, noConfig, "-n", ns, "--owner", owner, "--generation", "4",
		"--prune-from", inv1, "--inventory-out", inv2)
	if err != nil || !strings.Contains(out, "ConfigMap "+ns+"/web-config pruned") || !strings.Contains(out, "2 applied, 1 pruned, 0 left alone") {
		t.Fatalf("apply without the ConfigMap: %v\n%s", err, out)
	}
	eventually(t, 30*time.Second, "the ConfigMap to be pruned", func() (bool, string, error) {
		_, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "web-config", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err), nil
	})
	if d, err = kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Errorf("the Deployment went with the prune: %v", err)
	} else {
		checkMarks(t, "Deployment after the second apply", d, owner, "4")
	}
	if _, err := kube.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Errorf("the Service went with the prune: %v", err)
	}

	// (c) An object of the same name that someone else made is never overwritten.
	if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "foreign"},
		Data:       map[string]string{"owner": "someone else"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	withForeign := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: foreign}\ndata: {owner: phase4}\n---\n" + noConfig
	out, err = applyCLI(ctx, t, withForeign, "-n", ns, "--owner", owner)
	if err == nil || !strings.Contains(out, "phase4-operator: ObjectNotOwned: ConfigMap "+ns+"/foreign") ||
		!strings.Contains(out, "delete or rename it, or remove it from the chart") {
		t.Errorf("an object someone else owns was not refused with ObjectNotOwned: %v\n%s", err, out)
	}
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 {
		t.Errorf("exit status %v, want 1", err)
	}
	foreign, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "foreign", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if foreign.Data["owner"] != "someone else" || len(foreign.Labels) != 0 || appliedBy(foreign.ManagedFields, "phase4-operator") {
		t.Errorf("the foreign ConfigMap was changed: data %v, labels %v, managers %+v", foreign.Data, foreign.Labels, foreign.ManagedFields)
	}

	// (d) An object of the last inventory that someone took over by hand is left alone.
	handoff := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: handoff}\ndata: {a: b}\n---\n" + noConfig
	inv3 := filepath.Join(dir, "inv3.json")
	if out, err = applyCLI(ctx, t, handoff, "-n", ns, "--owner", owner, "--inventory-out", inv3); err != nil {
		t.Fatalf("apply with handoff: %v\n%s", err, out)
	}
	if out, err := kubectl(ctx, "-n", ns, "annotate", "--overwrite", "configmap", "handoff", "phase4.io/owner=other/team"); err != nil {
		t.Fatalf("annotate: %v\n%s", err, out)
	}
	out, err = applyCLI(ctx, t, noConfig, "-n", ns, "--owner", owner, "--prune-from", inv3)
	if err != nil || !strings.Contains(out, "ConfigMap "+ns+"/handoff left alone") || !strings.Contains(out, "0 pruned, 1 left alone") {
		t.Errorf("a ConfigMap owned by someone else now was not skipped: %v\n%s", err, out)
	}
	if _, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "handoff", metav1.GetOptions{}); err != nil {
		t.Errorf("the ConfigMap someone took over was deleted: %v", err)
	}

	// (e) --create-namespace makes the target namespace, marked as ours.
	fresh := fmt.Sprintf("e2e-applyset-new-%d", time.Now().UnixNano()%1000000000)
	t.Cleanup(func() {
		_ = kube.CoreV1().Namespaces().Delete(context.Background(), fresh, metav1.DeleteOptions{})
	})
	out, err = applyCLI(ctx, t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n",
		"-n", fresh, "--create-namespace", "--owner", owner)
	if err != nil {
		t.Fatalf("apply with --create-namespace: %v\n%s", err, out)
	}
	created, err := kube.CoreV1().Namespaces().Get(ctx, fresh, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("namespace %s was not created: %v", fresh, err)
	}
	checkMarks(t, "Namespace", created, owner, "1")
	if _, err := kube.CoreV1().ConfigMaps(fresh).Get(ctx, "settings", metav1.GetOptions{}); err != nil {
		t.Errorf("the ConfigMap is not in the new namespace: %v", err)
	}

	// (f) A CRD and a custom resource of it in one manifest (the resource first: order is the engine's).
	group := fmt.Sprintf("e2e%d.applyset.phase4.test", time.Now().UnixNano()%1000000000)
	t.Cleanup(func() {
		_, _ = kubectl(context.Background(), "delete", "crd", "--ignore-not-found", "widgets."+group)
	})
	crdManifest := fmt.Sprintf(`apiVersion: %[1]s/v1
kind: Widget
metadata: {name: w1}
spec: {size: 3}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.%[1]s}
spec:
  group: %[1]s
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
`, group)
	inv4 := filepath.Join(dir, "inv4.json")
	out, err = applyCLI(ctx, t, crdManifest, "-n", ns, "--owner", owner, "--inventory-out", inv4)
	if err != nil || !strings.Contains(out, "2 applied") {
		t.Fatalf("apply a CRD with its custom resource: %v\n%s", err, out)
	}
	widgets := dyn.Resource(schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"}).Namespace(ns)
	w, err := widgets.Get(ctx, "w1", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the custom resource was not created: %v", err)
	}
	checkMarks(t, "Widget", w, owner, "1")

	// When both leave the chart, the custom resource is pruned and the CRD is left alone, as
	// Helm does: deleting a CRD deletes every resource of its kind in the cluster.
	out, err = applyCLI(ctx, t, noConfig, "-n", ns, "--owner", owner, "--prune-from", inv4)
	if err != nil || !strings.Contains(out, "Widget "+ns+"/w1 pruned") ||
		!strings.Contains(out, "CustomResourceDefinition widgets."+group+" left alone") {
		t.Errorf("pruning a CRD and its resource: %v\n%s", err, out)
	}
	if out, err := kubectl(ctx, "get", "crd", "widgets."+group); err != nil {
		t.Errorf("the CRD was deleted by a prune: %v\n%s", err, out)
	}
}
