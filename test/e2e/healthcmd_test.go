package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// A CRD whose objects the test gives conditions, as an operator such as
// cert-manager would: namespaced, with a status subresource.
const gadgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.health.e2e.phase4.io}
spec:
  group: health.e2e.phase4.io
  names: {kind: Gadget, plural: gadgets, singular: gadget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`

// healthCLI pipes input to `phase4-operator health -f -` and returns what it
// printed on stdout and stderr, and its exit code.
func healthCLI(t *testing.T, ctx context.Context, input string) (string, string, int) {
	t.Helper()
	bin := filepath.Join(repoRoot(), "build", "phase4-operator")
	if p := os.Getenv("P4_OPERATOR"); p != "" {
		bin = p // e.g. a sanitizer build
	}
	cmd := exec.CommandContext(ctx, bin, "health", "-f", "-")
	cmd.Stdin = strings.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &exit):
		return stdout.String(), stderr.String(), exit.ExitCode()
	}
	t.Fatalf("phase4-operator health: %v\n%s", err, stderr.String())
	return "", "", -1
}

// kubectlOut runs kubectl and returns its stdout, failing the test on an error.
func kubectlOut(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, tool("kubectl"), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// healthLine is the regexp of the line health prints for one object: the
// status word first, then kind, namespace/name and reason, each a word.
func healthLine(status, kind, name, reason string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + status + ` +` + kind + ` +` + regexp.QuoteMeta(name) + ` +` + reason + `  +\S`)
}

// `phase4-operator health` judges what `kubectl get` prints with the rules
// the Kubernetes stage waits by: a Deployment on the KWOK nodes becomes
// Current, a custom resource whose Ready=False says it is being issued is
// InProgress, one whose Ready=False reason says it failed or that is Stalled
// is Failed; YAML, JSON, a List and the API server's own typed list all read
// the same, and the exit code is the worst status.
func TestHealthCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := newNamespace(t, ctx, "e2e-health")

	apply := exec.CommandContext(ctx, tool("kubectl"), "apply", "-f", "-")
	apply.Stdin = strings.NewReader(gadgetCRD)
	if b, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("apply CRD: %v\n%s", err, b)
	}
	t.Cleanup(func() { _, _ = kubectl(context.Background(), "delete", "crd", "gadgets.health.e2e.phase4.io") })
	if out, err := kubectl(ctx, "wait", "--for=condition=Established", "--timeout=60s",
		"crd/gadgets.health.e2e.phase4.io"); err != nil {
		t.Fatalf("CRD not established: %v\n%s", err, out)
	}

	labels := map[string]string{"app": "web"}
	_, err := kube.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{container("registry.invalid/web:1.0")}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create deployment: %v", err)
	}

	// Three Gadgets, each given the status its operator would write.
	gadgets := map[string]string{
		"issuing": `[{"type":"Ready","status":"False","reason":"Issuing","message":"Issuing certificate as Secret does not exist"}]`,
		"install": `[{"type":"Ready","status":"False","reason":"InstallFailed","message":"install failed: context deadline exceeded"}]`,
		"stalled": `[{"type":"Ready","status":"False","reason":"Issuing","message":"waiting"},` +
			`{"type":"Stalled","status":"True","reason":"IssuerNotFound","message":"issuer letsencrypt not found"}]`,
	}
	for name, conditions := range gadgets {
		create := exec.CommandContext(ctx, tool("kubectl"), "apply", "-n", ns, "-f", "-")
		create.Stdin = strings.NewReader("apiVersion: health.e2e.phase4.io/v1\nkind: Gadget\nmetadata: {name: " + name + "}\nspec: {}\n")
		if b, err := create.CombinedOutput(); err != nil {
			t.Fatalf("create gadget %s: %v\n%s", name, err, b)
		}
		if out, err := kubectl(ctx, "patch", "gadget", name, "-n", ns, "--subresource=status", "--type=merge",
			"-p", `{"status":{"conditions":`+conditions+`}}`); err != nil {
			t.Fatalf("status of gadget %s: %v\n%s", name, err, out)
		}
	}

	// The Deployment, as JSON: InProgress (exit 1) until its pods run on the KWOK nodes, then Current.
	web := healthLine("Current", "Deployment", ns+"/web", "Ready")
	var stdout, stderr string
	var code int
	eventually(t, 2*time.Minute, "health to say the Deployment is Current", func() (bool, string, error) {
		stdout, stderr, code = healthCLI(t, ctx, kubectlOut(t, ctx, "get", "deployment", "web", "-n", ns, "-o", "json"))
		if code != 0 && code != 1 {
			t.Fatalf("health of a Deployment rolling out: exit %d, want 0 or 1\n%s%s", code, stdout, stderr)
		}
		if code == 1 && !regexp.MustCompile(`^(InProgress|Unknown) +Deployment +`+ns+`/web `).MatchString(stdout) {
			t.Fatalf("a Deployment not yet available must be InProgress (or Unknown before its controller wrote a status):\n%s", stdout)
		}
		return code == 0 && web.MatchString(stdout), stdout + stderr, nil
	})
	if !strings.Contains(stdout, "Deployment web is available: 2 of 2 replicas updated and available") {
		t.Errorf("the message should say the replicas:\n%s", stdout)
	}

	// The Gadgets, as YAML (a List): the worst is Failed, exit 2.
	stdout, stderr, code = healthCLI(t, ctx, kubectlOut(t, ctx, "get", "gadgets", "-n", ns, "-o", "yaml"))
	if code != 2 {
		t.Errorf("gadgets: exit %d, want 2 (one Failed)\n%s%s", code, stdout, stderr)
	}
	for _, want := range []*regexp.Regexp{
		healthLine("InProgress", "Gadget", ns+"/issuing", "Issuing"),
		healthLine("Failed", "Gadget", ns+"/install", "InstallFailed"),
		healthLine("Failed", "Gadget", ns+"/stalled", "IssuerNotFound"),
	} {
		if !want.MatchString(stdout) {
			t.Errorf("gadgets: no line matching %s in:\n%s", want, stdout)
		}
	}
	for _, msg := range []string{
		"Gadget issuing is not ready yet: Issuing certificate as Secret does not exist",
		"Gadget install is not ready: install failed: context deadline exceeded",
		"Gadget stalled is stalled: issuer letsencrypt not found",
	} {
		if !strings.Contains(stdout, msg) {
			t.Errorf("gadgets: want %q in:\n%s", msg, stdout)
		}
	}
	if n := strings.Count(stdout, "\n"); n != 3 || stderr != "" {
		t.Errorf("gadgets: want 3 lines and nothing on stderr, got %d:\n%s%s", n, stdout, stderr)
	}

	// Only the one being issued: InProgress, exit 1.
	stdout, stderr, code = healthCLI(t, ctx, kubectlOut(t, ctx, "get", "gadget", "issuing", "-n", ns, "-o", "yaml"))
	if code != 1 || !healthLine("InProgress", "Gadget", ns+"/issuing", "Issuing").MatchString(stdout) {
		t.Errorf("gadget issuing: exit %d, want 1 and InProgress:\n%s%s", code, stdout, stderr)
	}

	// Everything at once, as JSON: the Deployment, its pods and the Gadgets.
	stdout, stderr, code = healthCLI(t, ctx, kubectlOut(t, ctx, "get", "deployments,pods,gadgets", "-n", ns, "-o", "json"))
	if code != 2 || !web.MatchString(stdout) ||
		!healthLine("Failed", "Gadget", ns+"/stalled", "IssuerNotFound").MatchString(stdout) ||
		len(regexp.MustCompile(`(?m)^Current +Pod +`+ns+`/web-\S+ +Ready  `).FindAllString(stdout, -1)) != 2 {
		t.Errorf("deployments,pods,gadgets: exit %d, want 2, the Deployment and its 2 pods Current:\n%s%s", code, stdout, stderr)
	}

	// The API server's own list (kubectl get --raw): items without kind or apiVersion.
	stdout, stderr, code = healthCLI(t, ctx, kubectlOut(t, ctx, "get", "--raw", "/apis/apps/v1/namespaces/"+ns+"/deployments"))
	if code != 0 || !web.MatchString(stdout) {
		t.Errorf("DeploymentList from --raw: exit %d, want 0 and the Deployment Current:\n%s%s", code, stdout, stderr)
	}

	// Nothing found is not healthy: exit 3. Neither is input that is not Kubernetes objects.
	stdout, stderr, code = healthCLI(t, ctx, kubectlOut(t, ctx, "get", "deployments", "-n", ns, "-l", "app=none", "-o", "json"))
	if code != 3 || stdout != "" || !strings.Contains(stderr, "no Kubernetes object in it") {
		t.Errorf("an empty List: exit %d, want 3 saying there is no object:\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = healthCLI(t, ctx, "kind: Pod\nmetadata:\n  name: [unclosed\n")
	if code != 3 || stdout != "" || !strings.Contains(stderr, "standard input: invalid YAML at line 4, column 1") {
		t.Errorf("broken YAML: exit %d, want 3 naming the line:\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = healthCLI(t, ctx, kubectlOut(t, ctx, "get", "gadget", "issuing", "-n", ns, "-o", "yaml")+
		"---\nkind: Gadget\nmetadata: {namespace: "+ns+"}\n")
	if code != 3 || !strings.HasPrefix(stdout, "InProgress  Gadget  "+ns+"/issuing  ") ||
		!regexp.MustCompile(`standard input: document 2 \(Gadget\) at line \d+: metadata.name is missing`).MatchString(stderr) {
		t.Errorf("a document without a name: exit %d, want 3 after the objects before it, naming the document:\n%s%s", code, stdout, stderr)
	}
}
