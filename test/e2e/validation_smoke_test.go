package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The Validation stage's SmokeTests gate: each of spec.validation.smokeTests
// (and, with helmTests, the chart's own helm.sh/hook test Pod) runs as a Job
// of the resource, once per generation, in the target namespace. On KWOK a
// Job's pod completes at once (the pod-complete stage), or fails with the exit
// code its annotations give (the pod-container-running-failed chaos stage),
// or stays Pending (phase4.io/kwok-behaviour=pending) until the label is taken
// off; a KWOK Logs object gives the pod its log lines.

// smokeTest is a spec.validation.smokeTests entry whose pod carries labels and annotations.
func smokeTest(name string, labels, annotations map[string]any) map[string]any {
	meta := map[string]any{}
	if labels != nil {
		meta["labels"] = labels
	}
	if annotations != nil {
		meta["annotations"] = annotations
	}
	return map[string]any{"name": name, "template": map[string]any{"template": map[string]any{
		"metadata": meta,
		"spec": map[string]any{"containers": []any{map[string]any{
			"name": "probe", "image": "busybox:1.36", "args": []any{"wget", "http://web-webapp/"}}}},
	}}}
}

// smokeP4D is a Phase4Deployment of the webapp chart with spec.validation.
func smokeP4D(t testing.TB, ns, name string, values, validation map[string]any) *unstructured.Unstructured {
	obj := kubeP4D(t, ns, name, "0.1.0", values)
	obj.Object["spec"].(map[string]any)["validation"] = validation
	return obj
}

// smokeJobs are the smoke-test Jobs of resource name in ns, by name.
func smokeJobs(t testing.TB, ctx context.Context, ns, name string) map[string]batchv1.Job {
	t.Helper()
	list, err := kube.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{
		LabelSelector: "app.kubernetes.io/managed-by=phase4-operator,phase4.io/purpose=smoke,phase4.io/name=" + name})
	if err != nil {
		t.Fatalf("list smoke-test Jobs: %v", err)
	}
	out := map[string]batchv1.Job{}
	for _, j := range list.Items {
		out[j.Name] = j
	}
	return out
}

func jobNames(jobs map[string]batchv1.Job) []string {
	var names []string
	for n := range jobs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Passing smoke tests, serial, with the chart's own test: the gate says how
// long each took, the verdict is SUCCESSFUL and Ready=True; each Job is the
// resource's, made once.
func TestValidationSmokeTestsPass(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-smoke")
	kubeOperator(t, ctx)

	createP4D(t, ctx, smokeP4D(t, ns, "web", nil, map[string]any{
		"smokeTests":     []any{smokeTest("api", nil, nil), smokeTest("home", nil, nil)},
		"smokeTestOrder": "Serial",
		"helmTests":      true,
	}))
	obj := waitCondition(t, ctx, ns, "web", "Ready", "True", "Succeeded", 3*time.Minute)
	g := validationGate(obj, "SmokeTests")
	if g == nil || g["status"] != "True" || g["reason"] != "SmokeTestsPassed" {
		t.Fatalf("SmokeTests gate = %v, want True/SmokeTestsPassed", g)
	}
	msg := fmt.Sprint(g["message"])
	for _, want := range []string{"3 smoke test(s) passed: ", "api (", "home (", "helm test web-webapp-test"} {
		if !strings.Contains(msg, want) {
			t.Errorf("SmokeTests message lacks %q: %q", want, msg)
		}
	}
	if v, _, _ := unstructured.NestedString(obj.Object, "status", "verdict"); v != "SUCCESSFUL" {
		t.Errorf("status.verdict = %q, want SUCCESSFUL", v)
	}
	if c := condition(obj, "Validated"); c == nil || c["status"] != "True" {
		t.Errorf("Validated = %v, want True", c)
	}

	jobs := smokeJobs(t, ctx, ns, "web")
	want := []string{"web-smoke-api-g1", "web-smoke-home-g1", "web-test-web-webapp-test-g1"}
	if got := jobNames(jobs); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("smoke-test Jobs %v, want %v", got, want)
	}
	for _, j := range jobs {
		if refs := j.OwnerReferences; len(refs) != 1 || refs[0].Kind != "Phase4Deployment" || refs[0].UID != obj.GetUID() {
			t.Errorf("Job %s owner references = %v, want the Phase4Deployment", j.Name, refs)
		}
		if j.Labels["phase4.io/generation"] != "1" || j.Annotations["phase4.io/owner"] != ns+"/web" {
			t.Errorf("Job %s marks: labels %v annotations %v", j.Name, j.Labels, j.Annotations)
		}
		if j.Spec.ActiveDeadlineSeconds == nil || *j.Spec.ActiveDeadlineSeconds != 300 ||
			j.Spec.BackoffLimit == nil || *j.Spec.BackoffLimit != 0 {
			t.Errorf("Job %s: activeDeadlineSeconds %v backoffLimit %v, want 300 and 0", j.Name,
				j.Spec.ActiveDeadlineSeconds, j.Spec.BackoffLimit)
		}
		if j.Status.Succeeded != 1 {
			t.Errorf("Job %s succeeded %d times, want 1", j.Name, j.Status.Succeeded)
		}
	}
	// The chart's test Pod ran as a Job: its image pinned, its restartPolicy Never.
	helmJob := jobs["web-test-web-webapp-test-g1"]
	if c := helmJob.Spec.Template.Spec.Containers; len(c) != 1 || !strings.Contains(c[0].Image, "@sha256:") {
		t.Errorf("the chart's test runs %v, want the pinned image", c)
	}
	// The chart's test hook is not among what the Kubernetes stage applied.
	for _, e := range inventoryOf(obj) {
		if strings.Contains(e, "webapp-test") {
			t.Errorf("status.inventory has the chart's test hook %s", e)
		}
	}
	// Serial: home began after api had finished.
	api, home := jobs["web-smoke-api-g1"], jobs["web-smoke-home-g1"]
	if api.Status.CompletionTime == nil || home.CreationTimestamp.Before(api.Status.CompletionTime) {
		t.Errorf("serial: home created %v, api completed %v", home.CreationTimestamp, api.Status.CompletionTime)
	}
	if _, err := kubectl(ctx, "wait", "--for=condition=Ready", "-n", ns, "p4d/web", "--timeout=10s"); err != nil {
		t.Errorf("kubectl wait --for=condition=Ready: %v", err)
	}

	// A new generation without smoke tests: the old generation's Jobs are deleted.
	got, err := getP4D(ctx, ns, "web")
	if err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(got.Object, map[string]any{"smokeTests": []any{}}, "spec", "validation")
	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "generation 2 validated, generation 1's smoke-test Jobs gone", func() (bool, string, error) {
		o, err := getP4D(ctx, ns, "web")
		if err != nil {
			return false, "", err
		}
		g := validationGate(o, "SmokeTests")
		left := jobNames(smokeJobs(t, ctx, ns, "web"))
		c := condition(o, "Validated")
		return c != nil && c["status"] == "True" && fmt.Sprint(c["observedGeneration"]) == "2" &&
				g != nil && g["reason"] == "NotRequired" && len(left) == 0,
			fmt.Sprintf("Validated %v, gate %v, Jobs %v", c, g, left), nil
	})
}

// A failing smoke test: SmokeTestFailed names the Job, the exit code and the
// last log lines; Serial stops there (the next test's Job is never made).
// One that does not finish in time: SmokeTestTimedOut. A ServiceAccount that
// may not create Jobs: Forbidden, naming it.
func TestValidationSmokeTestFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-smoke-fail")
	kubeOperator(t, ctx)

	fail := map[string]any{"pod-container-running-failed.stage.kwok.x-k8s.io": "true"}
	why := map[string]any{"pod-container-running-failed.stage.kwok.x-k8s.io/exit-code": "3",
		"pod-container-running-failed.stage.kwok.x-k8s.io/reason":  "Error",
		"pod-container-running-failed.stage.kwok.x-k8s.io/message": "checkout failed",
		// Time for the test to give the pod its log lines before it fails.
		"pod-container-running-failed.stage.kwok.x-k8s.io/delay": "3s"}
	createP4D(t, ctx, smokeP4D(t, ns, "shop", nil, map[string]any{
		"smokeTests": []any{smokeTest("checkout", fail, why), smokeTest("after", nil, nil)},
	}))
	logFile := filepath.Join(t.TempDir(), "checkout.log")
	writeFile(t, logFile, criLog("GET /cart 200", "POST /checkout 500", "FAIL: checkout returned 500, want 200"))
	eventually(t, 2*time.Minute, "the failing smoke test's pod", func() (bool, string, error) {
		pods, err := podsWithLabel(ctx, ns, "job-name=shop-smoke-checkout-g1")
		if err != nil || len(pods) == 0 {
			return false, "no pod yet", err
		}
		logs := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs",
			"metadata": map[string]any{"name": pods[0].Name, "namespace": ns},
			"spec":     map[string]any{"logs": []any{map[string]any{"containers": []any{"probe"}, "logsFile": logFile}}},
		}}
		_, err = dyn.Resource(logsGVR).Namespace(ns).Create(ctx, logs, metav1.CreateOptions{})
		return err == nil || apierrors.IsAlreadyExists(err), fmt.Sprint(err), nil
	})
	obj := waitCondition(t, ctx, ns, "shop", "Validated", "False", "SmokeTestFailed", time.Minute)
	g := validationGate(obj, "SmokeTests")
	msg := fmt.Sprint(g["message"])
	for _, want := range []string{"smoke test checkout failed", "Job " + ns + "/shop-smoke-checkout-g1",
		"container probe exited with code 3", "FAIL: checkout returned 500, want 200"} {
		if !strings.Contains(msg, want) {
			t.Errorf("SmokeTests message lacks %q: %q", want, msg)
		}
	}
	if g["status"] != "False" {
		t.Errorf("SmokeTests gate = %v, want False", g)
	}
	obj = waitCondition(t, ctx, ns, "shop", "Stalled", "True", "RegenerationRequired", 30*time.Second)
	if v, _, _ := unstructured.NestedString(obj.Object, "status", "verdict"); v != "FAILED" {
		t.Errorf("status.verdict = %q, want FAILED", v)
	}
	if c := condition(obj, "Ready"); c == nil || c["status"] != "False" {
		t.Errorf("Ready = %v, want False", c)
	}
	if got := jobNames(smokeJobs(t, ctx, ns, "shop")); strings.Join(got, " ") != "shop-smoke-checkout-g1" {
		t.Errorf("smoke-test Jobs %v, want only the failed one (Serial stops at the first failure)", got)
	}
	waitEvent(t, ctx, ns, "shop", "Warning", "SmokeTestFailed", "exited with code 3")

	// A test whose pod never starts, with a timeout of 3s: the Job's own deadline ends it.
	late := smokeTest("late", map[string]any{"phase4.io/kwok-behaviour": "pending"}, nil)
	late["timeout"] = "3s"
	createP4D(t, ctx, smokeP4D(t, ns, "late", nil, map[string]any{"smokeTests": []any{late}}))
	obj = waitCondition(t, ctx, ns, "late", "Validated", "False", "SmokeTestTimedOut", 3*time.Minute)
	msg = fmt.Sprint(condition(obj, "Validated")["message"])
	for _, want := range []string{"smoke test late did not finish within its timeout of 3s",
		"Job " + ns + "/late-smoke-late-g1", "DeadlineExceeded"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Validated message lacks %q: %q", want, msg)
		}
	}
	if j := smokeJobs(t, ctx, ns, "late")["late-smoke-late-g1"]; j.Spec.ActiveDeadlineSeconds == nil || *j.Spec.ActiveDeadlineSeconds != 3 {
		t.Errorf("Job activeDeadlineSeconds = %v, want 3 (the test's timeout)", j.Spec.ActiveDeadlineSeconds)
	}

	// As a ServiceAccount that may deploy the chart but not create Jobs.
	user := account(t, ctx, ns, "deployer", deployerRules)
	denied := smokeP4D(t, ns, "denied", nil, map[string]any{"smokeTests": []any{smokeTest("api", nil, nil)}})
	denied.Object["spec"].(map[string]any)["serviceAccountName"] = "deployer"
	createP4D(t, ctx, denied)
	obj = waitCondition(t, ctx, ns, "denied", "Validated", "False", "Forbidden", 3*time.Minute)
	if msg := fmt.Sprint(condition(obj, "Validated")["message"]); !strings.Contains(msg, user+" may not create the Job of smoke test api") {
		t.Errorf("Validated message = %q, want it to name %s", msg, user)
	}
	if len(smokeJobs(t, ctx, ns, "denied")) != 0 {
		t.Errorf("a smoke-test Job was made for a resource whose account may not make one")
	}
}

// An operator restart (kill -9) while a smoke test runs makes no second Job:
// the new operator follows the Job the first one made. The chart has a Job of
// its own, so the Kubernetes stage's sweep after the restart lists Jobs by the
// resource's labels: it must leave the smoke-test Job alone.
func TestValidationSmokeTestSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-smoke-restart")
	first := kubeOperator(t, ctx)

	pending := map[string]any{"phase4.io/kwok-behaviour": "pending"}
	createP4D(t, ctx, smokeP4D(t, ns, "slow", map[string]any{"job": map[string]any{"enabled": true}},
		map[string]any{"smokeTests": []any{smokeTest("wait", pending, nil)}}))
	var before batchv1.Job
	eventually(t, 3*time.Minute, "the smoke test running", func() (bool, string, error) {
		o, err := getP4D(ctx, ns, "slow")
		if err != nil {
			return false, "", err
		}
		g := validationGate(o, "SmokeTests")
		jobs := smokeJobs(t, ctx, ns, "slow")
		before = jobs["slow-smoke-wait-g1"]
		return g != nil && g["reason"] == "Running" && before.Name != "", fmt.Sprintf("gate %v, Jobs %v", g, jobNames(jobs)), nil
	})

	first.kill9(t)
	second := kubeOperator(t, ctx)
	// The new operator checks the Kubernetes stage again: after a restart its prune also
	// sweeps by label, which finds the smoke-test Job (it carries the resource's marks, and the
	// chart has Jobs in that namespace) and must leave it alone.
	eventually(t, 2*time.Minute, "the Kubernetes stage's prune after the restart", func() (bool, string, error) {
		o, err := getP4D(ctx, ns, "slow")
		if err != nil {
			return false, "", err
		}
		msg := fmt.Sprint(kubeGate(o, "ResourcesCreated")["message"])
		return strings.Contains(msg, "pruned once the workloads were ready"), msg, nil
	})
	if _, err := kube.BatchV1().Jobs(ns).Get(ctx, "slow-smoke-wait-g1", metav1.GetOptions{}); err != nil {
		t.Fatalf("the smoke-test Job after the Kubernetes stage's sweep: %v", err)
	}
	// Let the pod run: it completes, and the new operator sees the Job it did not make pass.
	if out, err := kubectl(ctx, "label", "pods", "-n", ns, "-l", "job-name=slow-smoke-wait-g1", "phase4.io/kwok-behaviour-"); err != nil {
		t.Fatalf("kubectl label: %v: %s", err, out)
	}
	obj := waitCondition(t, ctx, ns, "slow", "Ready", "True", "Succeeded", 2*time.Minute)
	if g := validationGate(obj, "SmokeTests"); g == nil || g["reason"] != "SmokeTestsPassed" {
		t.Errorf("SmokeTests gate = %v, want SmokeTestsPassed", g)
	}
	jobs := smokeJobs(t, ctx, ns, "slow")
	after, ok := jobs["slow-smoke-wait-g1"]
	if len(jobs) != 1 || !ok || after.UID != before.UID {
		t.Errorf("after the restart: smoke-test Jobs %v (uid %s), want the one made before it (uid %s)",
			jobNames(jobs), after.UID, before.UID)
	}
	if strings.Contains(second.log(), "smoke test Job created") {
		t.Errorf("the new operator created a smoke-test Job:\n%s", second.log())
	}
}
