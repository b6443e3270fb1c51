package e2e

import (
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var p4dGVR = schema.GroupVersionResource{Group: "phase4.io", Version: "v1alpha1", Resource: "phase4deployments"}

var crdOnce sync.Once

// installCRD applies crds/ the way a user would and waits until it is Established.
func installCRD(t testing.TB, ctx context.Context) {
	t.Helper()
	var out string
	var err error
	crdOnce.Do(func() {
		out, err = kubectl(ctx, "apply", "--server-side", "-f", filepath.Join(repoRoot(), "crds"))
		if err == nil {
			out, err = kubectl(ctx, "wait", "--for=condition=Established", "--timeout=60s",
				"crd/phase4deployments.phase4.io")
		}
	})
	if err != nil {
		t.Fatalf("install CRD: %v\n%s", err, out)
	}
}

// The examples apply cleanly, get their defaults, and show in `kubectl get p4d`.
func TestExamplesApplyWithDefaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-api")
	examples := filepath.Join(repoRoot(), "examples")
	if out, err := kubectl(ctx, "apply", "-n", ns, "-f", filepath.Join(examples, "shop.yaml"),
		"-f", filepath.Join(examples, "production.yaml"), "-f", filepath.Join(examples, "private-registry.yaml")); err != nil {
		t.Fatalf("kubectl apply examples: %v\n%s", err, out)
	}

	shop, err := dyn.Resource(p4dGVR).Namespace(ns).Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := shop.Object["spec"].(map[string]any)
	for path, want := range map[string]any{
		"rollout.retries":            int64(2),
		"rollout.force":              false,
		"deletionPolicy":             "Delete",
		"deletionTimeout":            "5m",
		"adopt":                      false,
		"suspend":                    false,
		"target.allowClusterScoped":  false,
		"image.insecure":             false,
		"validation.http.0.timeout":  "5s",
		"validation.http.0.interval": "2s",
		"validation.smokeTestOrder":  "Serial",
		"validation.logs.enabled":    true,
		"validation.logs.limitBytes": int64(1048576),
	} {
		if got := lookup(spec, path); got != want {
			t.Errorf("spec.%s = %#v, want default %#v", path, got, want)
		}
	}

	out, err := kubectl(ctx, "get", "p4d", "-n", ns)
	if err != nil {
		t.Fatalf("kubectl get p4d: %v\n%s", err, out)
	}
	header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
	if strings.Join(header, " ") != "NAME STAGE VERDICT READY IMAGE AGE MESSAGE" {
		t.Errorf("kubectl get p4d columns = %v", header)
	}
	if !regexp.MustCompile(`(?m)^payments\s+registry\.example\.com/payments/api\s`).MatchString(out) {
		t.Errorf("kubectl get p4d does not list payments with its image:\n%s", out)
	}
	// The resource is in the phase4 and all categories.
	for _, cat := range []string{"phase4", "all"} {
		if out, err := kubectl(ctx, "get", cat, "-n", ns, "-o", "name"); err != nil || !strings.Contains(out, "phase4deployment.phase4.io/shop") {
			t.Errorf("kubectl get %s: %v\n%s", cat, err, out)
		}
	}
}

// Each bad example is refused by the API server with a message a user can act on.
func TestInvalidExamplesAreRejected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-api-invalid")
	for file, want := range map[string]string{
		"tag-and-digest.yaml":              "spec.image: Invalid value: set exactly one of spec.image.tag or spec.image.digest",
		"production-without-approval.yaml": "a production deployment needs approval: set spec.approval.required to true",
		"too-many-retries.yaml":            "spec.rollout.retries: Invalid value: 11: spec.rollout.retries in body should be less than or equal to 10",
		"bad-chart-repository.yaml":        "spec.chart.repository must start with https://, http:// or oci://",
		"bad-environment.yaml":             `spec.target.environment: Unsupported value: "prod": supported values: "development", "staging", "production"`,
		"name-too-long.yaml":               "Helm release names are at most 53 characters",
	} {
		out, err := kubectl(ctx, "apply", "-n", ns, "-f", filepath.Join(repoRoot(), "examples", "invalid", file))
		if err == nil {
			t.Errorf("%s was accepted:\n%s", file, out)
			continue
		}
		if !strings.Contains(out, want) {
			t.Errorf("%s: rejected, but the message does not say %q:\n%s", file, want, out)
		}
	}
	list, err := dyn.Resource(p4dGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("invalid examples left %d objects (err %v)", len(list.Items), err)
	}
}

// lookup reads a dotted path (numbers index lists) from decoded JSON.
func lookup(obj any, path string) any {
	for _, key := range strings.Split(path, ".") {
		switch v := obj.(type) {
		case map[string]any:
			obj = v[key]
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(v) {
				return nil
			}
			obj = v[i]
		default:
			return nil
		}
	}
	return obj
}
