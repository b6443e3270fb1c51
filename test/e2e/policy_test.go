package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// The deployment policy as a user meets it (docs/architecture.md, "Failures"):
// a failure a person must fix is escalated to them and heals once fixed, a
// failed stage runs again on demand (the phase4.io/retry annotation), and a
// suspended resource stops at a safe point and goes on where it stopped.

// expectEscalated waits until name is Stalled with reason EscalatedToUser, and
// checks what a person reads: Ready False with the specific reason, and a
// Stalled message naming that reason, the impact and the fix.
func expectEscalated(t testing.TB, ctx context.Context, ns, name, reason string) *unstructured.Unstructured {
	t.Helper()
	obj := waitCondition(t, ctx, ns, name, "Stalled", "True", "EscalatedToUser", 90*time.Second)
	if c := condition(obj, "Ready"); c == nil || c["status"] != "False" || c["reason"] != reason {
		t.Errorf("%s: Ready = %v, want False/%s (the specific reason stays)", name, c, reason)
	}
	msg := fmt.Sprint(condition(obj, "Stalled")["message"])
	for _, want := range []string{"escalated to a person", "(" + reason + ")", "impact: ", "fix: "} {
		if !strings.Contains(msg, want) {
			t.Errorf("%s: Stalled message lacks %q: %q", name, want, msg)
		}
	}
	return obj
}

// eventCount is how many times (Event counts included) name was told reason.
func eventCount(t testing.TB, ctx context.Context, ns, name, reason string) (int32, []string) {
	t.Helper()
	evs, err := events(ctx, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	var n int32
	var msgs []string
	for _, e := range evs {
		if e.Reason == reason {
			c := e.Count
			if c == 0 {
				c = 1
			}
			n += c
			msgs = append(msgs, e.Message)
		}
	}
	return n, msgs
}

// annotate sets annotation key=value on the Phase4Deployment, as a person does with kubectl.
func annotate(t testing.TB, ctx context.Context, ns, name, kv string) {
	t.Helper()
	if out, err := kubectl(ctx, "annotate", "--overwrite", "-n", ns, "p4d/"+name, kv); err != nil {
		t.Fatalf("kubectl annotate p4d/%s %s: %v\n%s", name, kv, err, out)
	}
}

// stays checks for a poll window that the resource's status is not written
// (its resourceVersion holds) and no Event is added about it.
func stays(t testing.TB, ctx context.Context, ns, name string, window time.Duration, why string) {
	t.Helper()
	obj := getP4DOrFail(t, ctx, ns, name)
	evs, err := events(ctx, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	rv, n := obj.GetResourceVersion(), len(evs)
	for end := time.Now().Add(window); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		now := getP4DOrFail(t, ctx, ns, name)
		if now.GetResourceVersion() != rv {
			t.Fatalf("%s: %s/%s changed (%s): conditions %v", why, ns, name, now.GetResourceVersion(),
				now.Object["status"].(map[string]any)["conditions"])
		}
		if evs, err = events(ctx, ns, name); err != nil || len(evs) != n {
			t.Fatalf("%s: an Event was added about %s/%s: %v (err %v)", why, ns, name, evs, err)
		}
	}
}

// A missing image tag fails the Docker stage as an artifact; with one retry
// it stalls with RegenerationRequired. Once the image is pushed, setting the
// phase4.io/retry annotation runs it again — no spec change — and the
// resource becomes Ready; one RetryRequested Event names the stage, and the
// same value again does nothing.
func TestRetryOnDemand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-retry")
	kubeOperator(t, ctx)
	tag := "retry-" + ns

	obj := kubeP4D(t, ns, "web", "0.1.0", map[string]any{"replicaCount": 1})
	spec := obj.Object["spec"].(map[string]any)
	spec["image"].(map[string]any)["tag"] = tag
	spec["rollout"] = map[string]any{"retries": int64(1)}
	createP4D(t, ctx, obj)

	obj = waitCondition(t, ctx, ns, "web", "Stalled", "True", "RegenerationRequired", 2*time.Minute)
	if c := condition(obj, "DockerReady"); c == nil || c["reason"] != "ImageNotFound" {
		t.Fatalf("DockerReady = %v, want False/ImageNotFound", c)
	}
	msg := fmt.Sprint(condition(obj, "Stalled")["message"])
	for _, want := range []string{"the Docker stage failed 2 times", "(ImageNotFound)", "impact: nothing serves yet", "next: ", "phase4.io/retry"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Stalled message lacks %q: %q", want, msg)
		}
	}
	gen := obj.GetGeneration()

	// The image appears (a CI pushes it); a person asks for a retry.
	host := plainHost(t)
	if out, err := run(ctx, nil, "skopeo", "copy", "-q", "--all", "--src-tls-verify=false", "--dest-tls-verify=false",
		"docker://"+host+"/phase4/multi:1.0", "docker://"+host+"/phase4/multi:"+tag); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	annotate(t, ctx, ns, "web", "phase4.io/retry=1")
	obj = waitCondition(t, ctx, ns, "web", "Ready", "True", "Succeeded", 3*time.Minute)
	if obj.GetGeneration() != gen {
		t.Errorf("metadata.generation = %d, want %d: a retry is no spec change", obj.GetGeneration(), gen)
	}
	if v, _, _ := unstructured.NestedString(obj.Object, "status", "lastHandledRetry"); v != "1" {
		t.Errorf("status.lastHandledRetry = %q, want 1", v)
	}
	if n, msgs := eventCount(t, ctx, ns, "web", "RetryRequested"); n != 1 || !strings.Contains(msgs[0], "the Docker stage runs again") {
		t.Errorf("RetryRequested Events: %d %q, want one naming the Docker stage", n, msgs)
	}

	// The same value again (and another change of metadata) runs nothing again.
	docker := fmt.Sprint(condition(obj, "DockerReady")["lastTransitionTime"])
	annotate(t, ctx, ns, "web", "phase4.io/retry=1")
	annotate(t, ctx, ns, "web", "example.com/touched=yes")
	stays(t, ctx, ns, "web", 5*time.Second, "the same retry value again")
	obj = getP4DOrFail(t, ctx, ns, "web")
	if got := fmt.Sprint(condition(obj, "DockerReady")["lastTransitionTime"]); got != docker {
		t.Errorf("DockerReady changed at %s after the same retry value (was %s)", got, docker)
	}
	if n, _ := eventCount(t, ctx, ns, "web", "RetryRequested"); n != 1 {
		t.Errorf("RetryRequested Events: %d after the same value again, want 1", n)
	}

	// A new value while nothing failed: said so, and recorded.
	annotate(t, ctx, ns, "web", "phase4.io/retry=2")
	waitEvent(t, ctx, ns, "web", "Normal", "RetryRequested", "no stage has failed")
	if c := condition(getP4DOrFail(t, ctx, ns, "web"), "Ready"); c == nil || c["status"] != "True" {
		t.Errorf("Ready = %v after a retry with nothing failed", c)
	}
}

// The resource's ServiceAccount may create and patch what the chart has but
// not read it. The install creates the objects without reading them (sent
// create-only); the next generation must read what the last one applied, and
// that read is refused. That is a person's to fix, so it is escalated at once
// (no attempt is retried), with Forbidden and the fix in the message; once
// the Role is fixed, the re-check (2 s here, the operator's
// --stalled-recheck-interval) heals it with no spec change.
func TestRBACDenialEscalatesAndHeals(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-escalate")
	var noGet []rbacv1.PolicyRule
	for _, r := range deployerRules {
		r.Verbs = []string{"create", "patch", "delete"}
		noGet = append(noGet, r)
	}
	account(t, ctx, ns, "deployer", noGet)
	kubeOperator(t, ctx)

	obj := kubeP4D(t, ns, "web", "0.1.0", map[string]any{"replicaCount": 1})
	obj.Object["spec"].(map[string]any)["serviceAccountName"] = "deployer"
	obj.Object["spec"].(map[string]any)["rollout"] = map[string]any{"retries": int64(3)}
	createP4D(t, ctx, obj)
	waitCondition(t, ctx, ns, "web", "Ready", "True", "Succeeded", 2*time.Minute)
	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "web", types.MergePatchType,
		[]byte(`{"spec":{"chart":{"values":{"podLabels":{"revision":"two"}}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}

	obj = expectEscalated(t, ctx, ns, "web", "Forbidden")
	if c := condition(obj, "KubernetesReady"); c == nil || c["status"] != "False" || c["reason"] != "Forbidden" {
		t.Errorf("KubernetesReady = %v, want False/Forbidden", c)
	}
	msg := fmt.Sprint(condition(obj, "Stalled")["message"])
	for _, want := range []string{"the Kubernetes stage cannot go on", "ServiceAccount " + ns + "/deployer may not get",
		"fix: grant the identity", "clears by itself once fixed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Stalled message lacks %q: %q", want, msg)
		}
	}
	// The Event is written after the status that shows the escalation: wait for it.
	waitEvent(t, ctx, ns, "web", "Warning", "Forbidden", "")
	_, msgs := eventCount(t, ctx, ns, "web", "Forbidden")
	for _, m := range msgs {
		if strings.Contains(m, "retrying") {
			t.Errorf("a Forbidden Event says it retries: %q (an escalation spends no attempt)", m)
		}
	}
	waitEvent(t, ctx, ns, "web", "Warning", "EscalatedToUser", "Forbidden")
	gen := obj.GetGeneration()

	// The person fixes the Role; nothing else changes.
	role, err := kube.RbacV1().Roles(ns).Get(ctx, "deployer", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	role.Rules = deployerRules
	if _, err := kube.RbacV1().Roles(ns).Update(ctx, role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	obj = waitCondition(t, ctx, ns, "web", "Ready", "True", "Succeeded", 2*time.Minute)
	if obj.GetGeneration() != gen {
		t.Errorf("metadata.generation = %d, want %d: healed with no spec change", obj.GetGeneration(), gen)
	}
	if c := condition(obj, "Stalled"); c != nil {
		t.Errorf("Stalled = %v once healed, want it gone", c)
	}
}

// Suspended while the Kubernetes stage waits for its pods (a nodeSelector no
// node matches yet keeps them Pending), the resource says Suspended and then
// nothing happens — not even when a node that fits appears. Resumed, it goes
// on where it stopped: the wait ends and the resource is Ready, the passed
// stages are not done again (the same manifest Secret and Deployment, no
// second ImageReady or ChartReady Event, their conditions unchanged).
func TestSuspendStopsAndResumeContinues(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-suspend")
	label := "phase4.io/e2e-" + ns
	kubeOperator(t, ctx, "--unschedulable-grace", "10m")

	createP4D(t, ctx, kubeP4D(t, ns, "web", "0.1.0", map[string]any{"replicaCount": 1,
		"nodeSelector": map[string]any{label: "true"}}))
	waitCondition(t, ctx, ns, "web", "HelmReady", "True", "ChartReady", 2*time.Minute)
	eventually(t, time.Minute, "the Kubernetes stage waiting for pods", func() (bool, string, error) {
		obj, err := getP4D(ctx, ns, "web")
		if err != nil {
			return false, "", err
		}
		g := kubeGate(obj, "ResourcesCreated")
		return g != nil && g["status"] == "True", fmt.Sprint(g), nil
	})
	before := getP4DOrFail(t, ctx, ns, "web")
	secretName, _, _ := unstructured.NestedString(before.Object, "status", "chart", "manifest")
	secret, err := kube.CoreV1().Secrets(ns).Get(ctx, secretName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("manifest Secret %q: %v", secretName, err)
	}
	dep, err := kube.AppsV1().Deployments(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	helmSince := fmt.Sprint(condition(before, "HelmReady")["lastTransitionTime"])

	suspend := func(on bool) {
		t.Helper()
		patch := fmt.Sprintf(`{"spec":{"suspend":%v}}`, on)
		if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "web", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	suspend(true)
	obj := waitCondition(t, ctx, ns, "web", "Reconciling", "False", "Suspended", time.Minute)
	if c := condition(obj, "Ready"); c == nil || c["status"] != "Unknown" || c["reason"] != "Suspended" {
		t.Errorf("Ready = %v, want Unknown/Suspended", c)
	}
	if c := condition(obj, "Validated"); c != nil {
		t.Errorf("Validated = %v while suspended: no next stage may start", c)
	}
	waitEvent(t, ctx, ns, "web", "Normal", "Suspended", "")

	// A node the pods fit appears: the cluster schedules them, the operator does nothing.
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) == 0 {
		t.Fatalf("nodes: %v %v", nodes, err)
	}
	node := nodes.Items[0].Name
	labelNode := func(value *string) {
		v := "null"
		if value != nil {
			v = fmt.Sprintf("%q", *value)
		}
		patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%s}}}`, label, v)
		if _, err := kube.CoreV1().Nodes().Patch(context.Background(), node, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Errorf("label node %s: %v", node, err)
		}
	}
	yes := "true"
	labelNode(&yes)
	t.Cleanup(func() { labelNode(nil) })
	stays(t, ctx, ns, "web", 6*time.Second, "suspended")

	suspend(false)
	obj = waitCondition(t, ctx, ns, "web", "Ready", "True", "Succeeded", 3*time.Minute)
	if obj.GetGeneration() != before.GetGeneration()+2 {
		t.Errorf("generation %d, want %d (suspend, then resume)", obj.GetGeneration(), before.GetGeneration()+2)
	}
	if got, _, _ := unstructured.NestedString(obj.Object, "status", "chart", "manifest"); got != secretName {
		t.Errorf("status.chart.manifest = %q, want %q: the Helm stage ran again", got, secretName)
	}
	if s, err := kube.CoreV1().Secrets(ns).Get(ctx, secretName, metav1.GetOptions{}); err != nil || s.UID != secret.UID {
		t.Errorf("manifest Secret %s: %v (uid %v, was %v): made again", secretName, err, s.UID, secret.UID)
	}
	if d, err := kube.AppsV1().Deployments(ns).Get(ctx, "web-webapp", metav1.GetOptions{}); err != nil || d.UID != dep.UID || d.Generation != dep.Generation {
		t.Errorf("Deployment web-webapp after the resume: %v (uid %v gen %d, was %v gen %d)", err, d.UID, d.Generation, dep.UID, dep.Generation)
	}
	if got := fmt.Sprint(condition(obj, "HelmReady")["lastTransitionTime"]); got != helmSince {
		t.Errorf("HelmReady changed at %s (was %s): it flapped", got, helmSince)
	}
	for _, reason := range []string{"ImageReady", "ChartReady", "Suspended", "Resumed"} {
		if n, msgs := eventCount(t, ctx, ns, "web", reason); n != 1 {
			t.Errorf("%s Events: %d %q, want 1", reason, n, msgs)
		}
	}
	var pods *corev1.PodList
	if pods, err = kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, p := range pods.Items {
			if p.Spec.NodeName != node && strings.HasPrefix(p.Name, "web-webapp") {
				t.Errorf("pod %s on %q, want %s", p.Name, p.Spec.NodeName, node)
			}
		}
	}
}

// Suspended while a smoke test's Job runs, the resource says Suspending: the
// step under way (following the Job) ends first. Once the Job completes it is
// Suspended, and nothing further happens. Resumed, the Validation stage goes
// on where it stopped and the resource is Ready with the same Job (the same
// uid): no smoke test runs twice.
func TestSuspendWaitsForTheStepUnderWay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-suspend-smoke")
	kubeOperator(t, ctx)

	pending := map[string]any{"phase4.io/kwok-behaviour": "pending"}
	createP4D(t, ctx, smokeP4D(t, ns, "slow", map[string]any{"replicaCount": 1},
		map[string]any{"smokeTests": []any{smokeTest("wait", pending, nil)}}))
	var job batchv1.Job
	eventually(t, 3*time.Minute, "the smoke test running", func() (bool, string, error) {
		o, err := getP4D(ctx, ns, "slow")
		if err != nil {
			return false, "", err
		}
		g := validationGate(o, "SmokeTests")
		job = smokeJobs(t, ctx, ns, "slow")["slow-smoke-wait-g1"]
		return g != nil && g["reason"] == "Running" && job.Name != "", fmt.Sprint(g), nil
	})

	patch := func(on bool) {
		t.Helper()
		body := fmt.Sprintf(`{"spec":{"suspend":%v}}`, on)
		if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "slow", types.MergePatchType, []byte(body), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	patch(true)
	obj := waitCondition(t, ctx, ns, "slow", "Reconciling", "True", "Suspending", time.Minute)
	if c := condition(obj, "Ready"); c == nil || c["status"] != "Unknown" || c["reason"] != "Suspending" {
		t.Errorf("Ready = %v, want Unknown/Suspending", c)
	}
	// The smoke test's pod runs to its end; then the step is over and the run stops.
	if out, err := kubectl(ctx, "label", "pods", "-n", ns, "-l", "job-name=slow-smoke-wait-g1", "phase4.io/kwok-behaviour-"); err != nil {
		t.Fatalf("kubectl label: %v: %s", err, out)
	}
	waitCondition(t, ctx, ns, "slow", "Reconciling", "False", "Suspended", time.Minute)
	stays(t, ctx, ns, "slow", 5*time.Second, "suspended")

	patch(false)
	obj = waitCondition(t, ctx, ns, "slow", "Ready", "True", "Succeeded", 2*time.Minute)
	if g := validationGate(obj, "SmokeTests"); g == nil || g["reason"] != "SmokeTestsPassed" {
		t.Errorf("SmokeTests gate = %v, want SmokeTestsPassed", g)
	}
	jobs := smokeJobs(t, ctx, ns, "slow")
	if after, ok := jobs["slow-smoke-wait-g1"]; len(jobs) != 1 || !ok || after.UID != job.UID {
		t.Errorf("smoke-test Jobs after the resume: %v (uid %s), want the one made before (uid %s)",
			jobNames(jobs), after.UID, job.UID)
	}
	for _, reason := range []string{"Suspended", "Resumed", "DeploymentSucceeded"} {
		if n, msgs := eventCount(t, ctx, ns, "slow", reason); n != 1 {
			t.Errorf("%s Events: %d %q, want 1", reason, n, msgs)
		}
	}
}
