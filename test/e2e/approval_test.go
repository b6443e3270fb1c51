package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// approvalP4D is a production Phase4Deployment of the webapp chart: it needs approval.
func approvalP4D(t testing.TB, ns, name string, values map[string]any) *unstructured.Unstructured {
	obj := kubeP4D(t, ns, name, "0.1.0", values)
	spec := obj.Object["spec"].(map[string]any)
	spec["target"].(map[string]any)["environment"] = "production"
	spec["approval"] = map[string]any{"required": true}
	return obj
}

// waitAwaiting waits for AwaitingApproval=True for generation gen with its plan written, and
// returns the object.
func waitAwaiting(t testing.TB, ctx context.Context, ns, name string, gen int64) *unstructured.Unstructured {
	t.Helper()
	var obj *unstructured.Unstructured
	eventually(t, 2*time.Minute, fmt.Sprintf("%s/%s AwaitingApproval=True for generation %d", ns, name, gen), func() (bool, string, error) {
		var err error
		if obj, err = getP4D(ctx, ns, name); err != nil {
			return false, "", err
		}
		c := condition(obj, "AwaitingApproval")
		pg, _, _ := unstructured.NestedInt64(obj.Object, "status", "plan", "generation")
		return c != nil && c["status"] == "True" && c["reason"] == "AwaitingApproval" &&
				fmt.Sprint(c["observedGeneration"]) == fmt.Sprint(gen) && pg == gen,
			fmt.Sprintf("AwaitingApproval %v, plan generation %d, Ready %v", c, pg, condition(obj, "Ready")), nil
	})
	return obj
}

// planObjects lists status.plan.<list> as "Kind/name", with ": path, path" for changes.
func planObjects(obj *unstructured.Unstructured, list string) []string {
	items, _, _ := unstructured.NestedSlice(obj.Object, "status", "plan", list)
	var out []string
	for _, it := range items {
		m, _ := it.(map[string]any)
		s := fmt.Sprintf("%v/%v", m["kind"], m["name"])
		if paths, ok := m["paths"].([]any); ok {
			var ps []string
			for _, p := range paths {
				ps = append(ps, fmt.Sprint(p))
			}
			s += ": " + strings.Join(ps, ", ")
		}
		out = append(out, s)
	}
	return out
}

func annotateApprove(t testing.TB, ctx context.Context, ns, name, value string) {
	t.Helper()
	if out, err := kubectl(ctx, "annotate", "p4d", name, "-n", ns, "phase4.io/approve="+value, "--overwrite"); err != nil {
		t.Fatalf("kubectl annotate: %v\n%s", err, out)
	}
}

func noDeployment(t testing.TB, ctx context.Context, ns, name string) {
	t.Helper()
	if _, err := kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment %s/%s exists (or cannot be read: %v) before the approval", ns, name, err)
	}
}

func countEvents(t testing.TB, ctx context.Context, ns, name, reason string) int32 {
	t.Helper()
	evs, err := events(ctx, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	var n int32
	for _, e := range evs {
		if e.Reason == reason {
			n += e.Count
		}
	}
	return n
}

// A production deployment waits before the Kubernetes stage with the plan of what it would
// apply; an approval for another generation is ignored and said so; the right one continues and
// names the approver; a spec change waits again, with the changed and pruned objects, while the
// old revision keeps running.
func TestApprovalWithAPlan(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-approval")
	op := kubeOperator(t, ctx)

	createP4D(t, ctx, approvalP4D(t, ns, "web", map[string]any{"extra": map[string]any{"enabled": true}}))
	obj := waitAwaiting(t, ctx, ns, "web", 1)
	checkHelmPassed(t, obj)
	if stage, _, _ := unstructured.NestedString(obj.Object, "status", "stage"); stage != "AwaitingApproval" {
		t.Errorf("status.stage = %q, want AwaitingApproval", stage)
	}
	if r := condition(obj, "Ready"); r == nil || r["status"] != "Unknown" || r["reason"] != "AwaitingApproval" {
		t.Errorf("Ready = %v, want Unknown (AwaitingApproval)", r)
	}
	msg := fmt.Sprint(condition(obj, "AwaitingApproval")["message"])
	if want := "kubectl annotate p4d web -n " + ns + " phase4.io/approve=1 --overwrite"; !strings.Contains(msg, want) {
		t.Errorf("AwaitingApproval message %q lacks the command %q", msg, want)
	}
	if !strings.Contains(msg, "4 to create, 0 to change, 0 unchanged, 0 to prune") {
		t.Errorf("AwaitingApproval message %q lacks the plan's counts", msg)
	}
	create := strings.Join(planObjects(obj, "create"), " ")
	for _, want := range []string{"ConfigMap/web-webapp", "ConfigMap/web-webapp-extra", "Service/web-webapp", "Deployment/web-webapp"} {
		if !strings.Contains(create, want) {
			t.Errorf("status.plan.create %s lacks %s", create, want)
		}
	}
	images, _, _ := unstructured.NestedStringSlice(obj.Object, "status", "plan", "images")
	if len(images) == 0 || !strings.Contains(images[0], "/phase4/multi@sha256:") {
		t.Errorf("status.plan.images = %v, want the pinned image first (repository@sha256:...)", images)
	}
	waitEvent(t, ctx, ns, "web", "Normal", "AwaitingApproval", "phase4.io/approve=1")
	noDeployment(t, ctx, ns, "web-webapp")
	out, err := kubectl(ctx, "describe", "p4d", "web", "-n", ns)
	if err != nil || !strings.Contains(out, "Plan:") || !strings.Contains(out, "AwaitingApproval") {
		t.Errorf("kubectl describe does not show the plan and the condition (%v):\n%s", err, out)
	}

	// An approval for an older generation, then for one that does not exist: ignored, said so.
	annotateApprove(t, ctx, ns, "web", "0")
	waitEvent(t, ctx, ns, "web", "Warning", "ApprovalIgnored", "phase4.io/approve=0 was ignored")
	annotateApprove(t, ctx, ns, "web", "7")
	waitEvent(t, ctx, ns, "web", "Warning", "ApprovalIgnored", "generation 7 does not exist")
	obj = waitAwaiting(t, ctx, ns, "web", 1)
	eventually(t, 30*time.Second, "the condition to say the approval was ignored", func() (bool, string, error) {
		o, err := getP4D(ctx, ns, "web")
		if err != nil {
			return false, "", err
		}
		m := fmt.Sprint(condition(o, "AwaitingApproval")["message"])
		return strings.Contains(m, "phase4.io/approve=7 was ignored"), m, nil
	})
	noDeployment(t, ctx, ns, "web-webapp")

	// The right one: the Kubernetes stage runs, and the Event and status name the approver.
	annotateApprove(t, ctx, ns, "web", "1")
	waitEvent(t, ctx, ns, "web", "Normal", "Approved", "by field manager kubectl-annotate")
	obj = waitKubeReady(t, ctx, ns, "web", 1)
	obj = waitCondition(t, ctx, ns, "web", "Ready", "True", "Succeeded", 2*time.Minute)
	if c := condition(obj, "AwaitingApproval"); c == nil || c["status"] != "False" || c["reason"] != "Approved" {
		t.Errorf("AwaitingApproval = %v, want False (Approved)", c)
	}
	if by, _, _ := unstructured.NestedString(obj.Object, "status", "approval", "by"); by != "kubectl-annotate" {
		t.Errorf("status.approval.by = %q, want kubectl-annotate", by)
	}
	if g, _, _ := unstructured.NestedInt64(obj.Object, "status", "approval", "generation"); g != 1 {
		t.Errorf("status.approval.generation = %d, want 1", g)
	}
	dep, err := kube.AppsV1().Deployments(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	approved := countEvents(t, ctx, ns, "web", "Approved")

	// A new generation: a values change that changes the Deployment and drops the extra ConfigMap.
	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "web", types.MergePatchType,
		[]byte(`{"spec":{"chart":{"values":{"replicaCount":3,"extra":{"enabled":false}}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	obj = waitAwaiting(t, ctx, ns, "web", 2)
	change := planObjects(obj, "change")
	if !strings.Contains(strings.Join(change, " "), "Deployment/web-webapp: spec.replicas") {
		t.Errorf("status.plan.change = %v, want the Deployment with spec.replicas", change)
	}
	for _, c := range change {
		if strings.Contains(c, "phase4.io") || strings.Contains(c, "managedFields") || strings.Contains(c, "resourceVersion") {
			t.Errorf("status.plan.change %q lists a path the plan leaves out", c)
		}
	}
	if prune := planObjects(obj, "prune"); strings.Join(prune, " ") != "ConfigMap/web-webapp-extra" {
		t.Errorf("status.plan.prune = %v, want ConfigMap/web-webapp-extra", prune)
	}
	if n, _, _ := unstructured.NestedInt64(obj.Object, "status", "plan", "counts", "unchanged"); n != 2 {
		t.Errorf("status.plan.counts.unchanged = %d, want 2 (the ConfigMap and the Service): %v", n, change)
	}
	// The leftover approval of generation 1 is not news: no ApprovalIgnored for it.
	evs, err := events(ctx, ns, "web")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Reason == "ApprovalIgnored" && strings.Contains(e.Message, "approve=1 ") {
			t.Errorf("the last generation's approval was told as ignored: %s", e.Message)
		}
	}

	// A restart while it waits: the stages check generation 2 again, and it waits on with no
	// new Event (AwaitingApproval, Approved or ApprovalIgnored).
	// The Event follows the status write that made the condition True: count once it is there.
	eventually(t, 30*time.Second, "generation 2's AwaitingApproval Event", func() (bool, string, error) {
		evs, err := events(ctx, ns, "web")
		for _, e := range evs {
			if e.Reason == "AwaitingApproval" && strings.HasPrefix(e.Message, "Generation 2:") {
				return true, "", err
			}
		}
		return false, fmt.Sprint(len(evs), " Events"), err
	})
	waiting := countEvents(t, ctx, ns, "web", "AwaitingApproval")
	ignored := countEvents(t, ctx, ns, "web", "ApprovalIgnored")
	op.kill9(t)
	op = kubeOperator(t, ctx)
	eventually(t, 2*time.Minute, "the restarted operator's Helm stage to pass generation 2 again", func() (bool, string, error) {
		// (other tests' resources may be there too: at least this one)
		m := metric(scrape(op), `phase4_helm_stage_results{result="passed"}`)
		n, _ := strconv.Atoi(m)
		return n >= 1, "passed " + m, nil
	})
	obj = waitAwaiting(t, ctx, ns, "web", 2)
	if n := countEvents(t, ctx, ns, "web", "AwaitingApproval"); n != waiting {
		t.Errorf("AwaitingApproval Events %d after a restart, want %d", n, waiting)
	}
	if n := countEvents(t, ctx, ns, "web", "ApprovalIgnored"); n != ignored {
		t.Errorf("ApprovalIgnored Events %d after a restart, want %d", n, ignored)
	}
	if n := countEvents(t, ctx, ns, "web", "Approved"); n != approved {
		t.Errorf("Approved Events %d, want %d (generation 2 is not approved)", n, approved)
	}
	// Meanwhile the old revision runs as it was.
	dep2, err := kube.AppsV1().Deployments(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
	if err != nil || dep2.UID != dep.UID || *dep2.Spec.Replicas != 2 || dep2.Labels["phase4.io/generation"] != "1" {
		t.Errorf("the Deployment changed before the approval: err %v, replicas %v, labels %v", err, dep2.Spec.Replicas, dep2.Labels)
	}
	if _, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "web-webapp-extra", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap web-webapp-extra was pruned before the approval: %v", err)
	}

	annotateApprove(t, ctx, ns, "web", "2")
	waitKubeReady(t, ctx, ns, "web", 2)
	eventually(t, time.Minute, "the Deployment at 3 replicas and the extra ConfigMap pruned", func() (bool, string, error) {
		d, err := kube.AppsV1().Deployments(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		_, cmErr := kube.CoreV1().ConfigMaps(ns).Get(ctx, "web-webapp-extra", metav1.GetOptions{})
		return *d.Spec.Replicas == 3 && apierrors.IsNotFound(cmErr), fmt.Sprintf("replicas %d, ConfigMap %v", *d.Spec.Replicas, cmErr), nil
	})
}

// What the plan relies on, asked of the real API server: a server-side apply with dryRun=All of
// an object it does not have answers without a resourceVersion (and with a uid made up for the
// answer); of one it has, with the live object's resourceVersion, whatever would change.
func TestDryRunApplyTellsANewObject(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := newNamespace(t, ctx, "e2e-dryrun")
	cms := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns)
	cm := func(value string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "planned", "namespace": ns}, "data": map[string]any{"k": value}}}
	}
	dry := metav1.ApplyOptions{FieldManager: "phase4-operator", DryRun: []string{metav1.DryRunAll}}
	got, err := cms.Apply(ctx, "planned", cm("a"), dry)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetResourceVersion() != "" || got.GetUID() == "" {
		t.Errorf("dry-run apply of a new object: resourceVersion %q (want none), uid %q (want one)", got.GetResourceVersion(), got.GetUID())
	}
	if _, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "planned", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the dry run stored the object (err %v)", err)
	}
	live, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "planned"},
		Data: map[string]string{"k": "a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err = cms.Apply(ctx, "planned", cm("b"), metav1.ApplyOptions{FieldManager: "phase4-operator", Force: true, DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetResourceVersion() != live.ResourceVersion || got.GetUID() != live.UID {
		t.Errorf("dry-run apply of an existing object: resourceVersion %q uid %q, want the live %q %q",
			got.GetResourceVersion(), got.GetUID(), live.ResourceVersion, live.UID)
	}
	if v, _, _ := unstructured.NestedString(got.Object, "data", "k"); v != "b" {
		t.Errorf("dry-run answer data.k = %q, want b (the object as it would be)", v)
	}
}
