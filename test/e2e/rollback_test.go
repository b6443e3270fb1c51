package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Rollback to the last known good revision (README, "Rollback"): a
// generation that fails at the Validation stage is rolled back to the last
// one that succeeded, from its stored manifest; phase4.io/rollback-to rolls
// back on demand. KWOK runs any image, so what runs is read from the pod
// templates and pods' spec: the image digest each generation pinned.

// pushTag copies src (a repository:tag of the test registry) to phase4/multi:tag, as a CI would.
func pushTag(t testing.TB, ctx context.Context, src, tag string) {
	t.Helper()
	host := plainHost(t)
	if out, err := run(ctx, nil, "skopeo", "copy", "-q", "--all", "--src-tls-verify=false", "--dest-tls-verify=false",
		"docker://"+host+"/"+src, "docker://"+host+"/phase4/multi:"+tag); err != nil {
		t.Fatalf("skopeo copy %s: %v\n%s", src, err, out)
	}
}

// setSpec changes the resource's spec with edit (a new generation) and returns that generation.
func setSpec(t testing.TB, ctx context.Context, ns, name string, edit func(spec map[string]any)) int64 {
	t.Helper()
	var gen int64
	eventually(t, 30*time.Second, "update "+name, func() (bool, string, error) {
		obj, err := getP4D(ctx, ns, name)
		if err != nil {
			return false, "", err
		}
		edit(obj.Object["spec"].(map[string]any))
		got, err := dyn.Resource(p4dGVR).Namespace(ns).Update(ctx, obj, metav1.UpdateOptions{})
		if err != nil {
			return false, err.Error(), nil // a conflict with the operator's status write: again
		}
		gen = got.GetGeneration()
		return true, "", nil
	})
	return gen
}

// runningImages are the images the Deployment's pod template and its live pods name.
func runningImages(t testing.TB, ctx context.Context, ns string) (template string, pods []string) {
	t.Helper()
	d, err := kube.AppsV1().Deployments(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
	if err != nil {
		return err.Error(), nil
	}
	if c := d.Spec.Template.Spec.Containers; len(c) > 0 {
		template = c[0].Image
	}
	list, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=web"})
	if err != nil {
		return template, nil
	}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && len(p.Spec.Containers) > 0 {
			pods = append(pods, p.Spec.Containers[0].Image)
		}
	}
	return template, pods
}

// waitRunning waits until the Deployment's template and every running pod name digest.
func waitRunning(t testing.TB, ctx context.Context, ns, digest, what string) {
	t.Helper()
	eventually(t, 2*time.Minute, what, func() (bool, string, error) {
		template, pods := runningImages(t, ctx, ns)
		if !strings.HasSuffix(template, "@"+digest) || len(pods) == 0 {
			return false, fmt.Sprintf("template %s, pods %v", template, pods), nil
		}
		for _, p := range pods {
			if !strings.HasSuffix(p, "@"+digest) {
				return false, fmt.Sprintf("template %s, pods %v", template, pods), nil
			}
		}
		return true, "", nil
	})
}

// waitReadyAt waits until name is Ready=True (Succeeded) for generation gen.
func waitReadyAt(t testing.TB, ctx context.Context, ns, name string, gen int64) *unstructured.Unstructured {
	t.Helper()
	var obj *unstructured.Unstructured
	eventually(t, 3*time.Minute, fmt.Sprintf("%s/%s Ready=True for generation %d", ns, name, gen), func() (bool, string, error) {
		var err error
		if obj, err = getP4D(ctx, ns, name); err != nil {
			return false, "", err
		}
		c := condition(obj, "Ready")
		return c != nil && c["status"] == "True" && c["reason"] == "Succeeded" &&
			fmt.Sprint(c["observedGeneration"]) == fmt.Sprint(gen), fmt.Sprint(c), nil
	})
	return obj
}

func imageDigest(t testing.TB, obj *unstructured.Unstructured) string {
	t.Helper()
	d, _, _ := unstructured.NestedString(obj.Object, "status", "image", "digest")
	if !strings.HasPrefix(d, "sha256:") {
		t.Fatalf("status.image.digest = %q", d)
	}
	return d
}

// failingSmoke is a validation whose one smoke test fails; passingSmoke's passes.
func failingSmoke() map[string]any {
	return map[string]any{"smokeTests": []any{smokeTest("checkout",
		map[string]any{"pod-container-running-failed.stage.kwok.x-k8s.io": "true"},
		map[string]any{"pod-container-running-failed.stage.kwok.x-k8s.io/exit-code": "3"})}}
}

func passingSmoke() map[string]any {
	return map[string]any{"smokeTests": []any{smokeTest("api", nil, nil)}}
}

// rollbackOf is status.rollback.
func rollbackOf(obj *unstructured.Unstructured) map[string]any {
	m, _, _ := unstructured.NestedMap(obj.Object, "status", "rollback")
	return m
}

// goodThenBad makes generation 1 (tag v1, smoke tests pass) SUCCESSFUL, then
// generation 2 (tag v2, a smoke test fails); rollout sets spec.rollout. It
// returns the digests of v1 and v2.
func goodThenBad(t testing.TB, ctx context.Context, ns string, rollout map[string]any, notify *hook) (string, string) {
	t.Helper()
	v1, v2 := "rb1-"+ns, "rb2-"+ns
	pushTag(t, ctx, "phase4/multi:1.0", v1)
	pushTag(t, ctx, "phase4/docker-multi:1.0", v2) // another digest for the same repository

	obj := smokeP4D(t, ns, "web", map[string]any{"replicaCount": 1}, passingSmoke())
	spec := obj.Object["spec"].(map[string]any)
	spec["image"].(map[string]any)["tag"] = v1
	spec["rollout"] = rollout
	if notify != nil {
		hookSecret(t, ctx, ns)
		withNotify(obj, notify.url)
	}
	createP4D(t, ctx, obj)
	obj = waitCondition(t, ctx, ns, "web", "Ready", "True", "Succeeded", 3*time.Minute)
	d1 := imageDigest(t, obj)
	waitRunning(t, ctx, ns, d1, "generation 1's pods run v1's digest")
	if g, _, _ := unstructured.NestedInt64(obj.Object, "status", "lastKnownGoodRevision"); g != 1 {
		t.Fatalf("status.lastKnownGoodRevision = %d, want 1", g)
	}

	gen := setSpec(t, ctx, ns, "web", func(spec map[string]any) {
		spec["image"].(map[string]any)["tag"] = v2
		spec["validation"] = failingSmoke()
	})
	if gen != 2 {
		t.Fatalf("generation %d, want 2", gen)
	}
	var d2 string
	eventually(t, 3*time.Minute, "generation 2's image digest", func() (bool, string, error) {
		o, err := getP4D(ctx, ns, "web")
		if err != nil {
			return false, "", err
		}
		c := condition(o, "DockerReady")
		d, _, _ := unstructured.NestedString(o.Object, "status", "image", "digest")
		if c == nil || c["status"] != "True" || fmt.Sprint(c["observedGeneration"]) != "2" {
			return false, fmt.Sprint(c), nil
		}
		d2 = d
		return true, "", nil
	})
	if d2 == d1 {
		t.Fatalf("v1 and v2 have the same digest %s", d1)
	}
	return d1, d2
}

// Generation 2 fails its smoke test with rollbackOnFailure unset (true once a
// revision succeeded): generation 1's manifest is applied again and its pods
// run v1's digest; RolledBack names both generations; generation 2 stays
// FAILED (it needs a new artifact), and its Stalled message says generation 1
// serves; a retry applies it again and it is rolled back once more.
// Generation 3 succeeds; a rollback-to whose manifest is gone, that did not
// succeed, or to a newer generation is refused and changes nothing; after
// generation 4, rollback-to=3 rolls back on demand.
func TestRollbackOnFailureAndOnDemand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-rollback")
	h := newHook(t, "", nil)
	kubeOperator(t, ctx)

	d1, d2 := goodThenBad(t, ctx, ns, map[string]any{"retries": int64(0)}, h)

	obj := waitCondition(t, ctx, ns, "web", "RolledBack", "True", "RolledBack", 3*time.Minute)
	waitRunning(t, ctx, ns, d1, "after the rollback the pods run v1's digest again")
	want := "generation 2 failed at the Validation stage (SmokeTestFailed); generation 1's manifest re-applied and healthy"
	waitEvent(t, ctx, ns, "web", "Normal", "RolledBack", want)
	waitEvent(t, ctx, ns, "web", "Normal", "RollingBack", "re-applying generation 1's manifest")
	rb := rollbackOf(obj)
	if fmt.Sprint(rb["from"]) != "2" || fmt.Sprint(rb["to"]) != "1" || rb["state"] != "Succeeded" ||
		rb["trigger"] != "RollbackOnFailure" || rb["startedAt"] == nil || rb["finishedAt"] == nil ||
		!strings.Contains(fmt.Sprint(rb["message"]), want) {
		t.Errorf("status.rollback = %v", rb)
	}
	if v, _, _ := unstructured.NestedString(obj.Object, "status", "verdict"); v != "FAILED" {
		t.Errorf("status.verdict = %q, want FAILED (generation 2's)", v)
	}
	if c := condition(obj, "Ready"); c == nil || c["status"] != "False" || c["reason"] != "SmokeTestFailed" {
		t.Errorf("Ready = %v, want False/SmokeTestFailed", c)
	}
	stalled := condition(obj, "Stalled")
	if stalled == nil || stalled["status"] != "True" || stalled["reason"] != "RegenerationRequired" ||
		!strings.Contains(fmt.Sprint(stalled["message"]), "impact: generation 1 serves") {
		t.Errorf("Stalled = %v, want True/RegenerationRequired saying generation 1 serves", stalled)
	}
	if inv := inventoryOf(obj); len(inv) == 0 {
		t.Errorf("status.inventory is empty after the rollback")
	}
	// spec.notify's webhook is told once, naming both generations.
	rolledBackCalls := func() []hookCall {
		all, _ := h.of("web")
		var out []hookCall
		for _, c := range all {
			if c.doc["event"] == "RolledBack" {
				out = append(out, c)
			}
		}
		return out
	}
	eventually(t, time.Minute, "the webhook told of the rollback", func() (bool, string, error) {
		return len(rolledBackCalls()) == 1, fmt.Sprintf("%d RolledBack calls", len(rolledBackCalls())), nil
	})
	if c := rolledBackCalls()[0]; c.doc["id"] != string(obj.GetUID())+"/2/RolledBack" || !strings.Contains(fmt.Sprint(c.doc["message"]), want) {
		t.Errorf("RolledBack document %v", c.doc)
	}

	// Nothing runs again: no second rollback, no new write.
	stays(t, ctx, ns, "web", 5*time.Second, "a finished rollback")
	if n, _ := eventCount(t, ctx, ns, "web", "RolledBack"); n != 1 {
		t.Errorf("RolledBack Events: %d, want 1", n)
	}

	// A retry applies generation 2 again (its pods run v2), its smoke test fails
	// again, and it is rolled back once more: one rollback per retry, no loop.
	annotate(t, ctx, ns, "web", "phase4.io/retry=1")
	waitEvent(t, ctx, ns, "web", "Normal", "RetryRequested", "the Validation stage runs again")
	eventually(t, 3*time.Minute, "generation 2 rolled back a second time", func() (bool, string, error) {
		n, msgs := eventCount(t, ctx, ns, "web", "RolledBack")
		o, err := getP4D(ctx, ns, "web")
		if err != nil {
			return false, "", err
		}
		c := condition(o, "RolledBack")
		return n == 2 && c != nil && c["status"] == "True", fmt.Sprintf("%d RolledBack Events %q, condition %v", n, msgs, c), nil
	})
	waitRunning(t, ctx, ns, d1, "after the second rollback the pods run v1's digest again")
	if rb := rollbackOf(getP4DOrFail(t, ctx, ns, "web")); rb["retry"] != "1" || rb["state"] != "Succeeded" {
		t.Errorf("status.rollback = %v, want the one made under retry 1", rb)
	}

	// Generation 3: v2 with passing smoke tests.
	setSpec(t, ctx, ns, "web", func(spec map[string]any) { spec["validation"] = passingSmoke() })
	obj = waitReadyAt(t, ctx, ns, "web", 3)
	if obj.GetGeneration() != 3 || imageDigest(t, obj) != d2 {
		t.Fatalf("generation %d with digest %s, want 3 with %s", obj.GetGeneration(), imageDigest(t, obj), d2)
	}
	waitRunning(t, ctx, ns, d2, "generation 3's pods run v2's digest")
	if c := condition(obj, "RolledBack"); c != nil {
		t.Errorf("RolledBack = %v on generation 3, want none", c)
	}

	// Refused, and nothing changes: generation 1's manifest is gone (deleted by
	// hand here), generation 2 did not succeed (status.history), 9 is newer.
	if err := kube.CoreV1().Secrets(ns).Delete(ctx, "phase4.web.v1", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete generation 1's manifest Secret: %v", err)
	}
	before := rollbackOf(getP4DOrFail(t, ctx, ns, "web"))
	annotate(t, ctx, ns, "web", "phase4.io/rollback-to=1")
	waitEvent(t, ctx, ns, "web", "Warning", "RollbackRefused", "generation 1 has no stored manifest")
	annotate(t, ctx, ns, "web", "phase4.io/rollback-to=2")
	waitEvent(t, ctx, ns, "web", "Warning", "RollbackRefused", "generation 2 did not succeed")
	annotate(t, ctx, ns, "web", "phase4.io/rollback-to=9")
	waitEvent(t, ctx, ns, "web", "Warning", "RollbackRefused", "generation 9 is newer than the current generation 3")
	obj = getP4DOrFail(t, ctx, ns, "web")
	if v, _, _ := unstructured.NestedString(obj.Object, "status", "lastHandledRollbackTo"); v != "9" {
		t.Errorf("status.lastHandledRollbackTo = %q, want 9", v)
	}
	if after := rollbackOf(obj); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("status.rollback changed on a refused rollback: %v, was %v", after, before)
	}
	waitReadyAt(t, ctx, ns, "web", 3)
	waitRunning(t, ctx, ns, d2, "a refused rollback changes nothing")

	// Generation 4 runs v1 again; on demand, back to generation 3 (v2).
	setSpec(t, ctx, ns, "web", func(spec map[string]any) {
		spec["image"].(map[string]any)["tag"] = "rb1-" + ns
	})
	waitReadyAt(t, ctx, ns, "web", 4)
	waitRunning(t, ctx, ns, d1, "generation 4's pods run v1's digest")
	annotate(t, ctx, ns, "web", "phase4.io/rollback-to=3")
	obj = waitCondition(t, ctx, ns, "web", "RolledBack", "True", "RolledBack", 3*time.Minute)
	waitRunning(t, ctx, ns, d2, "rollback-to=3: the pods run v2's digest again")
	waitEvent(t, ctx, ns, "web", "Normal", "RolledBack",
		`rollback requested (phase4.io/rollback-to="3") from generation 4; generation 3's manifest re-applied and healthy`)
	if v, _, _ := unstructured.NestedString(obj.Object, "status", "lastHandledRollbackTo"); v != "3" {
		t.Errorf("status.lastHandledRollbackTo = %q, want 3", v)
	}
	if c := condition(obj, "Stalled"); c == nil || c["reason"] != "RolledBack" {
		t.Errorf("Stalled = %v, want True/RolledBack (generation 4 does not run)", c)
	}
	if c := condition(obj, "KubernetesReady"); c == nil || c["status"] != "Unknown" || c["reason"] != "RolledBack" {
		t.Errorf("KubernetesReady = %v, want Unknown/RolledBack", c)
	}
	if rb := rollbackOf(obj); fmt.Sprint(rb["from"]) != "4" || fmt.Sprint(rb["to"]) != "3" || rb["trigger"] != "RollbackTo" {
		t.Errorf("status.rollback = %v", rb)
	}
	// One document per generation rolled back: generation 2's (told once, its second
	// rollback is the same event of the same generation) and generation 4's.
	eventually(t, time.Minute, "the webhook told of the rollback-to", func() (bool, string, error) {
		return len(rolledBackCalls()) == 2, fmt.Sprintf("%d RolledBack calls", len(rolledBackCalls())), nil
	})
}

// rollbackOnFailure false: generation 2 fails and stays applied, no rollback.
func TestRollbackOnFailureOff(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-rollback-off")
	kubeOperator(t, ctx)

	_, d2 := goodThenBad(t, ctx, ns, map[string]any{"retries": int64(0), "rollbackOnFailure": false}, nil)
	obj := waitCondition(t, ctx, ns, "web", "Stalled", "True", "RegenerationRequired", 3*time.Minute)
	stays(t, ctx, ns, "web", 5*time.Second, "no rollback with rollbackOnFailure false")
	obj = getP4DOrFail(t, ctx, ns, "web")
	if c := condition(obj, "RolledBack"); c != nil || rollbackOf(obj) != nil {
		t.Errorf("RolledBack = %v, status.rollback = %v, want none", c, rollbackOf(obj))
	}
	if n, _ := eventCount(t, ctx, ns, "web", "RollingBack"); n != 0 {
		t.Errorf("%d RollingBack Events, want none", n)
	}
	waitRunning(t, ctx, ns, d2, "generation 2 stays applied")
}

// kill -9 in the middle of a rollback: the new operator finds it in
// status.rollback (Running) and goes on. Generation 1 renders 200 ConfigMaps
// (set a); generation 2 renders 5 others (set b) and fails its smoke test, so
// the rollback applies set a again — slowly, at the default 20 requests a
// second — and the operator is killed half-way. Afterwards set a is whole, set
// b is pruned, and the rollback was begun and reported once.
func TestRollbackGoesOnAfterRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-rollback-crash")
	const total = 200
	setA, setB := "e2e.phase4.io/set=a", "e2e.phase4.io/set=b"
	o := kubeOperator(t, ctx)

	obj := bulkP4D(t, ns, "bulk", total, "a")
	obj.Object["spec"].(map[string]any)["validation"] = passingSmoke()
	createP4D(t, ctx, obj)
	waitCondition(t, ctx, ns, "bulk", "Ready", "True", "Succeeded", 4*time.Minute)
	setSpec(t, ctx, ns, "bulk", func(spec map[string]any) {
		spec["chart"].(map[string]any)["values"] = map[string]any{"count": int64(5), "set": "b"}
		spec["validation"] = failingSmoke()
	})

	// The rollback re-creates set a (generation 2 pruned it): kill -9 half-way.
	var before int
	eventually(t, 4*time.Minute, "the rollback under way (some ConfigMaps of set a again)", func() (bool, string, error) {
		p, err := getP4D(ctx, ns, "bulk")
		if err != nil {
			return false, "", err
		}
		n, err := countConfigMaps(ctx, ns, setA)
		before = n
		rb := rollbackOf(p)
		return rb["state"] == "Running" && n >= 10 && n < total, fmt.Sprintf("%d of %d, rollback %v", n, total, rb), err
	})
	o.kill9(t)
	after, err := countConfigMaps(ctx, ns, setA)
	if err != nil {
		t.Fatal(err)
	}
	if after >= total {
		t.Fatalf("the rollback's apply finished before the kill (%d of %d): nothing was tested", after, total)
	}
	t.Logf("killed the operator with %d to %d of %d ConfigMaps re-applied", before, after, total)
	if rb := rollbackOf(getP4DOrFail(t, ctx, ns, "bulk")); rb["state"] != "Running" {
		t.Fatalf("status.rollback = %v at the kill, want Running", rb)
	}

	kubeOperator(t, ctx, "--kube-api-qps", "200", "--kube-api-burst", "400")
	p := waitCondition(t, ctx, ns, "bulk", "RolledBack", "True", "RolledBack", 3*time.Minute)
	if n, err := countConfigMaps(ctx, ns, setA); err != nil || n != total {
		t.Errorf("%d ConfigMaps of set a after the rollback, want %d (err %v)", n, total, err)
	}
	eventually(t, time.Minute, "generation 2's ConfigMaps pruned", func() (bool, string, error) {
		n, err := countConfigMaps(ctx, ns, setB)
		return n == 0, fmt.Sprintf("%d of set b left", n), err
	})
	if rb := rollbackOf(p); fmt.Sprint(rb["from"]) != "2" || fmt.Sprint(rb["to"]) != "1" {
		t.Errorf("status.rollback = %v", rb)
	}
	for _, reason := range []string{"RollingBack", "RolledBack"} {
		if n, msgs := eventCount(t, ctx, ns, "bulk", reason); n != 1 {
			t.Errorf("%d %s Events %q, want 1", n, reason, msgs)
		}
	}
}
