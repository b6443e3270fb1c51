package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// bulkP4D is a Phase4Deployment of the bulk chart: count ConfigMaps of set
// set, and one small Deployment.
func bulkP4D(t testing.TB, ns, name string, count int, set string) *unstructured.Unstructured {
	return helmP4D(t, ns, name, map[string]any{"repository": chartsEnv(t)["CHART_REPO_URL"],
		"name": "bulk", "version": "0.1.0", "values": map[string]any{"count": count, "set": set}})
}

// countConfigMaps counts the ConfigMaps in ns that match selector.
func countConfigMaps(ctx context.Context, ns, selector string) (int, error) {
	list, err := kube.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return 0, err
	}
	return len(list.Items), nil
}

// kill -9 in the middle of an apply, then a spec change that renders other
// objects: once the new revision is ready, nothing of the old one is left.
// status.inventory was written before the apply began (the write-ahead
// record), so the crash left every object the apply might have made on record.
func TestKubernetesStageCrashMidApplyLeavesNothingBehind(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-crash")
	const total = 200
	// At the default 20 requests a second, 200 ConfigMaps take about 20 s to apply.
	o := kubeOperator(t, ctx)
	createP4D(t, ctx, bulkP4D(t, ns, "bulk", total, "a"))

	// Some but not all of set a exist: kill -9.
	setA := "e2e.phase4.io/set=a"
	var before int
	eventually(t, 3*time.Minute, "the apply to be under way (some ConfigMaps of set a)", func() (bool, string, error) {
		n, err := countConfigMaps(ctx, ns, setA)
		before = n
		return n >= 10 && n < total, fmt.Sprintf("%d of %d", n, total), err
	})
	o.kill9(t)
	after, err := countConfigMaps(ctx, ns, setA)
	if err != nil {
		t.Fatal(err)
	}
	if after >= total {
		t.Fatalf("the apply finished before the kill (%d of %d ConfigMaps): nothing was tested", after, total)
	}
	t.Logf("killed the operator with %d to %d of %d ConfigMaps applied", before, after, total)
	// The record was written ahead: status.inventory lists every object of the apply.
	p, err := getP4D(ctx, ns, "bulk")
	if err != nil {
		t.Fatal(err)
	}
	recorded := 0
	for _, e := range inventoryOf(p) {
		if strings.HasPrefix(e, "ConfigMap/"+ns+"/bulk-a-") {
			recorded++
		}
	}
	if recorded != total {
		t.Errorf("status.inventory lists %d ConfigMaps of set a at the crash, want all %d (written before the apply)", recorded, total)
	}

	// A new operator; a new revision renders 5 ConfigMaps of set b instead.
	kubeOperator(t, ctx, "--kube-api-qps", "200", "--kube-api-burst", "400")
	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "bulk", types.MergePatchType,
		[]byte(`{"spec":{"chart":{"values":{"count":5,"set":"b"}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	p = waitKubeReady(t, ctx, ns, "bulk", 2)

	// Read back from the cluster by the ownership labels: only the new revision's objects.
	owned := "app.kubernetes.io/managed-by=phase4-operator,phase4.io/name=bulk"
	cms, err := kube.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: owned})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	newOnes := 0
	for _, cm := range cms.Items {
		if cm.Labels["e2e.phase4.io/set"] == "b" {
			newOnes++
		} else {
			left = append(left, cm.Name)
		}
	}
	if len(left) > 0 {
		t.Errorf("%d ConfigMap(s) of the old revision are left, still marked ours: %v", len(left), left)
	}
	if newOnes != 5 {
		t.Errorf("%d ConfigMaps of the new revision, want 5", newOnes)
	}
	if n, err := countConfigMaps(ctx, ns, setA); err != nil || n != 0 {
		t.Errorf("%d ConfigMaps of set a are left (err %v)", n, err)
	}
	if _, err := kube.AppsV1().Deployments(ns).Get(ctx, "bulk-bulk", metav1.GetOptions{}); err != nil {
		t.Errorf("the Deployment of both revisions is gone: %v", err)
	}
	if inv := inventoryOf(p); len(inv) != 6 {
		t.Errorf("status.inventory = %v, want the Deployment and 5 ConfigMaps", inv)
	}
}

// An upgrade's prune also finds what carries the resource's marks but no
// inventory lists (left by a crash of an operator that wrote no record ahead):
// a Service marked as this resource's is deleted; one marked as another
// resource's, or unmarked, is left alone.
func TestKubernetesStagePrunesByOwnershipMarks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-sweep")
	kubeOperator(t, ctx)
	createP4D(t, ctx, kubeP4D(t, ns, "web", "0.1.0", nil))
	waitKubeReady(t, ctx, ns, "web", 1)

	svc := func(name, owner string) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"app.kubernetes.io/managed-by": "phase4-operator", "phase4.io/name": "web"}},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
		if owner != "" {
			s.Annotations = map[string]string{"phase4.io/owner": owner}
		}
		return s
	}
	for _, s := range []*corev1.Service{svc("leftover", ns+"/web"), svc("other-owner", "elsewhere/web"), svc("no-owner", "")} {
		if _, err := kube.CoreV1().Services(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "web", types.MergePatchType,
		[]byte(`{"spec":{"chart":{"values":{"message":"upgraded"}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	obj := waitKubeReady(t, ctx, ns, "web", 2)
	eventually(t, 30*time.Second, "the marked leftover Service to be gone", func() (bool, string, error) {
		_, err := kube.CoreV1().Services(ns).Get(ctx, "leftover", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err), nil
	})
	for _, name := range []string{"other-owner", "no-owner", "web-webapp"} {
		if _, err := kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("Service %s was deleted: %v", name, err)
		}
	}
	if g := kubeGate(obj, "ResourcesCreated"); !strings.Contains(fmt.Sprint(g["message"]), "found by their ownership labels") {
		t.Errorf("ResourcesCreated message does not say what the labels found: %v", g)
	}
}

// warningCounts sums the count of each Warning Event about name, by reason.
func warningCounts(ctx context.Context, ns, name string) (map[string]int32, error) {
	evs, err := events(ctx, ns, name)
	out := map[string]int32{}
	for _, e := range evs {
		if e.Type == "Warning" {
			n := e.Count
			if n == 0 {
				n = 1
			}
			out[e.Reason] += n
		}
	}
	return out, err
}

// A stalled resource whose state does not change tells nothing new when the
// operator starts again: the Warning Events about it do not grow.
func TestRestartDoesNotRepeatWarnings(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-restart-warn")
	o := helmOperator(t, ctx)
	createP4D(t, ctx, helmP4D(t, ns, "stuck", map[string]any{"repository": chartsEnv(t)["CHART_REPO_URL"],
		"name": "webapp", "version": "0.1.0", "values": map[string]any{"replicaCount": "three"}}))
	expectHelmFailure(t, ctx, ns, "stuck", "ValuesValid", "ValuesSchemaInvalid", "RegenerationRequired", "replicaCount")
	waitEvent(t, ctx, ns, "stuck", "Warning", "RegenerationRequired", "")
	before, err := warningCounts(ctx, ns, "stuck")
	if err != nil {
		t.Fatal(err)
	}

	for restart := 1; restart <= 2; restart++ {
		o.kill9(t)
		o = helmOperator(t, ctx)
		// The new process checks the resource again and finds it stalled as before.
		eventually(t, time.Minute, "the restarted operator to find the resource stalled", func() (bool, string, error) {
			v := metric(scrape(o), `phase4_helm_stage_results{result="stalled"}`)
			return v == "1", "stalled results: " + v, nil
		})
		// Nothing new to tell: no Warning is added while it settles (a bounded look, since
		// what is checked is that nothing happens).
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			now, err := warningCounts(ctx, ns, "stuck")
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(now) != fmt.Sprint(before) {
				t.Fatalf("restart %d: Warning Events went from %v to %v", restart, before, now)
			}
			time.Sleep(500 * time.Millisecond)
		}
		obj := waitCondition(t, ctx, ns, "stuck", "Stalled", "True", "RegenerationRequired", 10*time.Second)
		if c := condition(obj, "HelmReady"); c["reason"] != "ValuesSchemaInvalid" {
			t.Errorf("restart %d: HelmReady = %v, want ValuesSchemaInvalid", restart, c)
		}
	}
}

// etcd stopped past the renew deadline: the leader's renewal hangs in the API
// server, and the leader stops leading on its own timer (well before the API
// server would time the request out); once etcd is back it leads again.
func TestLeaderStopsLeadingWhenEtcdStops(t *testing.T) {
	dir := localCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	op := startOperator(t, ctx)
	eventually(t, time.Minute, "the operator to lead", func() (bool, string, error) {
		return metric(scrape(op), "phase4_leader") == "1", "", nil
	})
	resume := pause(t, dir, "etcd")
	defer resume()
	stopped := time.Now()
	// The renew deadline is 10 s; the API server answers a request to a stopped etcd only
	// after its 60 s request timeout.
	eventually(t, 30*time.Second, "the leader to stop leading", func() (bool, string, error) {
		return metric(scrape(op), "phase4_leader") == "0", "", nil
	})
	t.Logf("stopped leading %s after etcd stopped", time.Since(stopped).Round(time.Second))
	if !strings.Contains(op.log(), "could not renew the leader lease within the renew deadline") {
		t.Errorf("the operator's log does not say why it stopped leading:\n%s", op.log())
	}
	resume()
	eventually(t, 2*time.Minute, "the operator to lead again", func() (bool, string, error) {
		return metric(scrape(op), "phase4_leader") == "1", "", nil
	})
}
