package e2e

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// recheckSpreadMs is the operator's default --recheck-spread, the window the
// rechecks of trusted resources are spread over.
const recheckSpreadMs = 600000

// recheckOffsetMs is where in the window the operator rechecks ns/name: the
// key's FNV-1a hash modulo the window (spread_offset in reconcile.c).
func recheckOffsetMs(ns, name string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(ns + "/" + name))
	return h.Sum64() % recheckSpreadMs
}

// nameWithOffset is the first of prefix0, prefix1, ... whose recheck offset ok accepts.
func nameWithOffset(ns, prefix string, ok func(ms uint64) bool) string {
	for i := 0; ; i++ {
		if name := prefix + strconv.Itoa(i); ok(recheckOffsetMs(ns, name)) {
			return name
		}
	}
}

// deploymentOf is the name of the Deployment in status.inventory.
func deploymentOf(t testing.TB, obj *unstructured.Unstructured) string {
	t.Helper()
	inv, _, _ := unstructured.NestedSlice(obj.Object, "status", "inventory")
	for _, e := range inv {
		if m, ok := e.(map[string]any); ok && m["kind"] == "Deployment" {
			return fmt.Sprint(m["name"])
		}
	}
	t.Fatalf("%s: no Deployment in status.inventory %v", obj.GetName(), inv)
	return ""
}

// eventCounts is each Event reason told about ns/name, with its count.
func eventCounts(t testing.TB, ctx context.Context, ns, name string) map[string]int32 {
	t.Helper()
	evs, err := events(ctx, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int32{}
	for _, e := range evs {
		out[e.Type+"/"+e.Reason] += e.Count
	}
	return out
}

// waitDeployment waits until Deployment ns/name exists.
func waitDeployment(t testing.TB, ctx context.Context, ns, name string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "Deployment "+ns+"/"+name+" to exist", func() (bool, string, error) {
		_, err := kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, "not found", nil
		}
		return err == nil, "", err
	})
}

// After a restart, what passed for its generation is trusted: nothing runs
// for it at once. A spec change made then reaches its new pods while the
// others' rechecks still wait (phase4_recheck_pending); a trusted resource
// keeps Ready=True and tells no new Event; drift is still seen through the
// watches (a Deployment deleted meanwhile is put back at once), a workload
// whose pods stop being ready ends the trust (its recheck begins at once), and
// what changed while the operator was down is found by the resource's recheck.
func TestRestartTrustsWhatPassedAndRechecksLazily(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-trust")
	// changed gets a spec change after the restart; late is rechecked late in the window
	// (after this test ends); soon early in it (within 20 s of the restart).
	changed := "changed"
	late := nameWithOffset(ns, "late", func(ms uint64) bool { return ms > 400000 })
	soon := nameWithOffset(ns, "soon", func(ms uint64) bool { return ms < 20000 })
	// sick, like late, is rechecked after this test ends unless something ends its trust.
	sick := nameWithOffset(ns, "sick", func(ms uint64) bool { return ms > 400000 })
	first := kubeOperator(t, ctx)
	for _, name := range []string{changed, late, soon, sick} {
		createP4D(t, ctx, kubeP4D(t, ns, name, "0.1.1", nil))
	}
	objs := map[string]*unstructured.Unstructured{}
	for _, name := range []string{changed, late, soon, sick} {
		objs[name] = waitCondition(t, ctx, ns, name, "Ready", "True", "Succeeded", 3*time.Minute)
	}
	// Ready=True is written with the verdict: its Events are all told by then.
	lateEvents := eventCounts(t, ctx, ns, late)

	_ = first.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-first.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the first operator did not stop")
	}
	// While the operator is down, soon's Deployment goes.
	soonDeploy := deploymentOf(t, objs[soon])
	if err := kube.AppsV1().Deployments(ns).Delete(ctx, soonDeploy, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	second := kubeOperator(t, ctx)
	eventually(t, time.Minute, "the new operator to trust what passed", func() (bool, string, error) {
		m := scrape(second)
		n, _ := strconv.Atoi(metric(m, "phase4_recheck_trusted_total"))
		return n >= 4, "trusted " + metric(m, "phase4_recheck_trusted_total"), nil
	})

	patch := `{"spec":{"chart":{"values":{"podLabels":{"phase4.io/e2e-trust":"changed"}}}}}`
	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, changed, types.MergePatchType, []byte(patch),
		metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, "a pod with the new label running", func() (bool, string, error) {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "phase4.io/e2e-trust=changed"})
		if err != nil {
			return false, "", err
		}
		for _, p := range pods.Items {
			if p.Status.Phase == "Running" {
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("%d pods with the label", len(pods.Items)), nil
	})
	// late's recheck is minutes away: it still waits.
	if n, _ := strconv.Atoi(metric(scrape(second), "phase4_recheck_pending")); n < 1 {
		t.Errorf("phase4_recheck_pending = %d once the new pods ran, want late's recheck still waiting", n)
	}
	after, err := getP4D(ctx, ns, late)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"Ready", "DockerReady", "HelmReady", "KubernetesReady"} {
		b, a := condition(objs[late], typ), condition(after, typ)
		if a == nil || a["status"] != "True" || a["lastTransitionTime"] != b["lastTransitionTime"] {
			t.Errorf("%s: %s after the restart = %v, want it True since %v", late, typ, a, b["lastTransitionTime"])
		}
	}
	if got := eventCounts(t, ctx, ns, late); fmt.Sprint(got) != fmt.Sprint(lateEvents) {
		t.Errorf("%s: Events %v after the restart, want %v (nothing new for a trusted resource)", late, got, lateEvents)
	}

	// soon's recheck finds its Deployment gone and puts it back.
	waitDeployment(t, ctx, ns, soonDeploy, 2*time.Minute)
	waitCondition(t, ctx, ns, soon, "Ready", "True", "Succeeded", time.Minute)

	// One of sick's pods stops being ready: its Deployment's status says so, and that ends sick's
	// trust (late's recheck still waits); once the pod is ready again sick is Ready.
	pending := func() int {
		n, _ := strconv.Atoi(metric(scrape(second), "phase4_recheck_pending"))
		return n
	}
	eventually(t, time.Minute, "only late's and sick's rechecks pending", func() (bool, string, error) {
		n := pending()
		return n == 2, fmt.Sprint(n, " pending"), nil
	})
	pods, err := podsWithLabel(ctx, ns, "app.kubernetes.io/instance="+sick)
	if err != nil || len(pods) == 0 {
		t.Fatalf("%s's pods: %d, %v", sick, len(pods), err)
	}
	setPodReady(t, ctx, ns, pods[0].Name, false)
	eventually(t, time.Minute, sick+"'s recheck to begin", func() (bool, string, error) {
		n := pending()
		return n == 1, fmt.Sprint(n, " pending"), nil
	})
	setPodReady(t, ctx, ns, pods[0].Name, true)
	waitCondition(t, ctx, ns, sick, "Ready", "True", "Succeeded", 2*time.Minute)

	// late is trusted still: its Deployment deleted now is seen through the watch, long
	// before its recheck, and put back.
	lateDeploy := deploymentOf(t, objs[late])
	if err := kube.AppsV1().Deployments(ns).Delete(ctx, lateDeploy, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDeployment(t, ctx, ns, lateDeploy, 2*time.Minute)
}
