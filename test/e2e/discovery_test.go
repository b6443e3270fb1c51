package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// resolve runs `phase4-operator resolve APIVERSION KIND` against the cluster.
func resolve(ctx context.Context, apiVersion, kind string) (string, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(repoRoot(), "build", "phase4-operator"),
		"resolve", apiVersion, kind).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// The operator finds which resource serves a kind, and its scope, through
// aggregated discovery: built-in kinds, its own CRD, and a CRD installed a
// moment ago; an unknown kind gets an answer a user can act on.
func TestDiscoveryResolvesKinds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	installCRD(t, ctx)
	for _, c := range []struct{ apiVersion, kind, want string }{
		{"v1", "ConfigMap", "configmaps\tnamespaced"},
		{"v1", "Namespace", "namespaces\tcluster"},
		{"apps/v1", "Deployment", "deployments\tnamespaced"},
		{"rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles\tcluster"},
		{"phase4.io/v1alpha1", "Phase4Deployment", "phase4deployments\tnamespaced"},
	} {
		if out, err := resolve(ctx, c.apiVersion, c.kind); err != nil || out != c.want {
			t.Errorf("resolve %s %s = %q (%v), want %q", c.apiVersion, c.kind, out, err, c.want)
		}
	}

	out, err := resolve(ctx, "e2e.phase4.io/v1", "Widget")
	if err == nil || !strings.Contains(out, "serves no kind Widget in e2e.phase4.io/v1: is its CRD installed?") {
		t.Fatalf("resolve of an unknown kind: %v, %q", err, out)
	}
	crd := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.e2e.phase4.io}
spec:
  group: e2e.phase4.io
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Cluster
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`
	apply := exec.CommandContext(ctx, tool("kubectl"), "apply", "-f", "-")
	apply.Stdin = strings.NewReader(crd)
	if b, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("apply CRD: %v\n%s", err, b)
	}
	t.Cleanup(func() { _, _ = kubectl(context.Background(), "delete", "crd", "widgets.e2e.phase4.io") })
	eventually(t, 30*time.Second, "the new CRD to be discovered", func() (bool, string, error) {
		out, _ := resolve(ctx, "e2e.phase4.io/v1", "Widget")
		return out == "widgets\tcluster", out, nil
	})
}

// tls-server-name: the API server's certificate is checked against that name
// (the local one is valid for kubernetes.default.svc, not for 127.0.0.1's
// other names), while the connection goes to the kubeconfig's address.
func TestTLSServerName(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := clientcmd.LoadFromFile(os.Getenv("KUBECONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string) string {
		cfg := admin.DeepCopy()
		cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster].TLSServerName = name
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := clientcmd.WriteToFile(*cfg, path); err != nil {
			t.Fatal(err)
		}
		return path
	}
	run := func(kc string) (string, error) {
		out, err := exec.CommandContext(ctx, filepath.Join(repoRoot(), "build", "phase4-operator"),
			"resolve", "v1", "ConfigMap", "--kubeconfig", kc).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := run(write("kubernetes.default.svc")); err != nil || out != "configmaps\tnamespaced" {
		t.Errorf("with tls-server-name kubernetes.default.svc: %v %q", err, out)
	}
	out, err := run(write("not-the-apiserver.example"))
	if err == nil || !strings.Contains(out, "TLS") {
		t.Errorf("with a tls-server-name the certificate does not name: %v %q, want a TLS error", err, out)
	}
}
