package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// The Kubernetes stage's gates, in status order, with their passing reasons.
var kubeGates = []struct{ name, reason string }{
	{"ManifestsValid", "Valid"}, {"ResourcesCreated", "Applied"},
	{"PodsRunning", "PodsRunning"}, {"ServicesReady", "EndpointsReady"},
	{"HooksCompleted", ""}, // NoHooks, or HooksCompleted when the chart has some
}

// kubeP4D is a Phase4Deployment of the webapp chart (version, values) whose
// image passes the Docker stage, targeting its own namespace.
func kubeP4D(t testing.TB, ns, name, version string, values map[string]any) *unstructured.Unstructured {
	return helmP4D(t, ns, name, map[string]any{"repository": chartsEnv(t)["CHART_REPO_URL"],
		"name": "webapp", "version": version, "values": values})
}

// kubeOperator starts the operator with test-sized retries and a short
// grace for unschedulable pods.
func kubeOperator(t testing.TB, ctx context.Context, extra ...string) *operator {
	return helmOperator(t, ctx, append([]string{"--unschedulable-grace", "2s"}, extra...)...)
}

func kubeGate(obj *unstructured.Unstructured, name string) map[string]any {
	gates, _, _ := unstructured.NestedSlice(obj.Object, "status", "gates")
	for _, g := range gates {
		if m, ok := g.(map[string]any); ok && m["stage"] == "Kubernetes" && m["name"] == name {
			return m
		}
	}
	return nil
}

// waitKubeReady waits for KubernetesReady=True at generation gen and checks every gate.
func waitKubeReady(t testing.TB, ctx context.Context, ns, name string, gen int64) *unstructured.Unstructured {
	t.Helper()
	var obj *unstructured.Unstructured
	eventually(t, 2*time.Minute, fmt.Sprintf("%s/%s KubernetesReady=True for generation %d", ns, name, gen), func() (bool, string, error) {
		var err error
		if obj, err = getP4D(ctx, ns, name); err != nil {
			return false, "", err
		}
		c := condition(obj, "KubernetesReady")
		return c != nil && c["status"] == "True" && c["reason"] == "WorkloadsReady" &&
			fmt.Sprint(c["observedGeneration"]) == fmt.Sprint(gen), fmt.Sprint(c, " gates ", kubeGate(obj, "PodsRunning")), nil
	})
	gates, _, _ := unstructured.NestedSlice(obj.Object, "status", "gates")
	var order []string
	for _, g := range gates {
		if m, ok := g.(map[string]any); ok && m["stage"] == "Kubernetes" {
			order = append(order, fmt.Sprint(m["name"]))
		}
	}
	if strings.Join(order, ",") != "ManifestsValid,ResourcesCreated,PodsRunning,ServicesReady,HooksCompleted" {
		t.Errorf("Kubernetes gates %v, want ManifestsValid, ResourcesCreated, PodsRunning, ServicesReady, HooksCompleted in that order", order)
	}
	for _, want := range kubeGates {
		if g := kubeGate(obj, want.name); g == nil || g["status"] != "True" || (want.reason != "" && g["reason"] != want.reason) {
			t.Errorf("Kubernetes gate %s = %v, want True/%s", want.name, g, want.reason)
		}
	}
	return obj
}

// inventoryOf is status.inventory as "Kind/namespace/name" strings.
func inventoryOf(obj *unstructured.Unstructured) []string {
	inv, _, _ := unstructured.NestedSlice(obj.Object, "status", "inventory")
	var out []string
	for _, e := range inv {
		m, _ := e.(map[string]any)
		out = append(out, fmt.Sprintf("%v/%v/%v", m["kind"], m["namespace"], m["name"]))
	}
	return out
}

// expectKubeFailure waits until KubernetesReady is False with reason and
// Stalled is True with stalledReason, and checks that the condition's message
// contains each of contains.
func expectKubeFailure(t testing.TB, ctx context.Context, ns, name, reason, stalledReason string, timeout time.Duration,
	contains ...string) *unstructured.Unstructured {
	t.Helper()
	waitCondition(t, ctx, ns, name, "KubernetesReady", "False", reason, timeout)
	obj := waitCondition(t, ctx, ns, name, "Stalled", "True", stalledReason, 30*time.Second)
	if stalledReason == "EscalatedToUser" {
		expectEscalated(t, ctx, ns, name, reason)
	}
	c := condition(obj, "KubernetesReady")
	for _, want := range contains {
		if msg := fmt.Sprint(c["message"]); !strings.Contains(msg, want) {
			t.Errorf("%s: KubernetesReady message lacks %q: %q", name, want, msg)
		}
	}
	if stage, _, _ := unstructured.NestedString(obj.Object, "status", "stage"); stage != "Kubernetes" {
		t.Errorf("%s: status.stage = %q, want Kubernetes", name, stage)
	}
	waitEvent(t, ctx, ns, name, "Warning", reason, "")
	return obj
}

// The chart's Deployment, Service, ConfigMap and Job are applied, marked as
// the resource's, and come up: pods Running, the Job complete, the Service
// with a ready endpoint. status.inventory lists what was applied, and
// status.health says what `kubectl get` says.
func TestKubernetesStageRunsTheChart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-kube")
	kubeOperator(t, ctx)

	createP4D(t, ctx, kubeP4D(t, ns, "web", "0.1.0", map[string]any{"job": map[string]any{"enabled": true}}))
	obj := waitKubeReady(t, ctx, ns, "web", 1)

	want := []string{"ConfigMap/" + ns + "/web-webapp", "Service/" + ns + "/web-webapp",
		"Deployment/" + ns + "/web-webapp", "Job/" + ns + "/web-webapp-migrate"}
	if got := inventoryOf(obj); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("status.inventory = %v, want %v (in apply order)", got, want)
	}
	dep, err := kube.AppsV1().Deployments(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dep.Status.AvailableReplicas != 2 {
		t.Errorf("Deployment available replicas = %d, want 2", dep.Status.AvailableReplicas)
	}
	checkMarks(t, "Deployment", dep, ns+"/web", "1")
	// The stage takes the Job as done at SuccessCriteriaMet (Kubernetes 1.31+); the Job
	// controller counts the succeeded pod a moment later, as its pod finishes terminating.
	var job *batchv1.Job
	eventually(t, 30*time.Second, "the Job to count 1 succeeded pod", func() (bool, string, error) {
		j, err := kube.BatchV1().Jobs(ns).Get(ctx, "web-webapp-migrate", metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		job = j
		return j.Status.Succeeded == 1, fmt.Sprintf("status %+v", j.Status), nil
	})
	checkMarks(t, "Job", job, ns+"/web", "1")
	slices, err := kube.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=web-webapp"})
	if err != nil || len(slices.Items) == 0 || len(slices.Items[0].Endpoints) == 0 {
		t.Errorf("the Service has no EndpointSlice with endpoints: %v %+v", err, slices)
	}

	// The health summary agrees with kubectl, and is refreshed as pods change.
	eventually(t, 30*time.Second, "status.health to match kubectl get", func() (bool, string, error) {
		o, err := getP4D(ctx, ns, "web")
		if err != nil {
			return false, "", err
		}
		h, _, _ := unstructured.NestedMap(o.Object, "status", "health")
		out, err := kubectl(ctx, "get", "pods", "-n", ns, "--no-headers", "-o", "custom-columns=PHASE:.status.phase")
		if err != nil {
			return false, out, err
		}
		// The Job's pod that completed is done, not missing: 3/3, not 2/3.
		phases := strings.Fields(out)
		up := 0
		for _, p := range phases {
			if p == "Running" || p == "Succeeded" {
				up++
			}
		}
		wantPods := fmt.Sprintf("%d/%d", up, len(phases))
		ok := h["namespace"] == ns && h["deployments"] == "1/1" && h["jobs"] == "1/1" && h["services"] == "1/1" &&
			h["statefulsets"] == nil && h["daemonsets"] == nil && h["pods"] == wantPods && wantPods == "3/3"
		return ok, fmt.Sprintf("health %v, kubectl pods %s", h, wantPods), nil
	})
	if stage, _, _ := unstructured.NestedString(obj.Object, "status", "stage"); stage != "Validation" && stage != "Done" {
		t.Errorf("status.stage = %q, want Validation (the next stage) or Done", stage)
	}
	// Nothing to validate but the logs: the verdict follows.
	waitVerdict(t, ctx, ns, "web", "SUCCESSFUL", time.Minute)
	waitEvent(t, ctx, ns, "web", "Normal", "WorkloadsReady", "namespace "+ns)
	// kubectl describe shows the health summary and the gates.
	out, err := kubectl(ctx, "describe", "p4d", "web", "-n", ns)
	if err != nil {
		t.Fatalf("kubectl describe: %v\n%s", err, out)
	}
	for _, want := range []string{"Health:", "Deployments:  1/1", "Inventory:", "PodsRunning", "KubernetesReady"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl describe lacks %q:\n%s", want, out)
		}
	}
}

// A new chart version without a template prunes that object, and only that
// one, and only once the new revision's workloads are ready: the other
// objects stay (the same objects, not re-created), and a ConfigMap someone
// else made in the namespace is left alone.
func TestKubernetesStagePrunesRemovedTemplate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-kube-prune")
	kubeOperator(t, ctx)
	if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses"}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	createP4D(t, ctx, kubeP4D(t, ns, "web", "0.1.0", map[string]any{"extra": map[string]any{"enabled": true}}))
	obj := waitKubeReady(t, ctx, ns, "web", 1)
	if inv := strings.Join(inventoryOf(obj), " "); !strings.Contains(inv, "ConfigMap/"+ns+"/web-webapp-extra") {
		t.Fatalf("status.inventory %s lacks the extra ConfigMap", inv)
	}
	dep, err := kube.AppsV1().Deployments(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// webapp 0.1.1 has no templates/extra.yaml, and this revision's pods crash:
	// nothing of the last revision is pruned while its workloads are not ready
	// (the extra ConfigMap stays, and status.inventory still lists it).
	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "web", types.MergePatchType,
		[]byte(`{"spec":{"chart":{"version":"0.1.1","values":{"podLabels":{"phase4.io/kwok-behaviour":"crashloop"}}}}}`),
		metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "generation 2 failing on its crashing pods", func() (bool, string, error) {
		o, err := getP4D(ctx, ns, "web")
		if err != nil {
			return false, "", err
		}
		c := condition(o, "KubernetesReady")
		obj = o
		return c != nil && c["status"] == "False" && fmt.Sprint(c["observedGeneration"]) == "2", fmt.Sprint(c), nil
	})
	if _, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "web-webapp-extra", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap web-webapp-extra was pruned before the new revision's workloads were ready: %v", err)
	}
	if inv := strings.Join(inventoryOf(obj), " "); !strings.Contains(inv, "ConfigMap/"+ns+"/web-webapp-extra") {
		t.Errorf("status.inventory %s lost the last revision's ConfigMap while it still exists", inv)
	}
	// Fixed: the workloads come up, and only then is the ConfigMap pruned.
	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "web", types.MergePatchType,
		[]byte(`{"spec":{"chart":{"values":{"podLabels":null}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	obj = waitKubeReady(t, ctx, ns, "web", 3)
	if _, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "web-webapp-extra", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap web-webapp-extra still exists after the chart dropped it (err %v)", err)
	}
	want := []string{"ConfigMap/" + ns + "/web-webapp", "Service/" + ns + "/web-webapp", "Deployment/" + ns + "/web-webapp"}
	if got := inventoryOf(obj); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("status.inventory = %v, want %v", got, want)
	}
	if g := kubeGate(obj, "ResourcesCreated"); !strings.Contains(fmt.Sprint(g["message"]), "1 of the last revision's pruned once the workloads were ready") {
		t.Errorf("ResourcesCreated message does not count the pruned object: %v", g)
	}
	dep2, err := kube.AppsV1().Deployments(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
	if err != nil || dep2.UID != dep.UID || dep2.Labels["phase4.io/generation"] != "3" {
		t.Errorf("the Deployment was not kept and re-labelled: err %v, uid %s (was %s), labels %v", err, dep2.UID, dep.UID, dep2.Labels)
	}
	if _, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "web-webapp", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap web-webapp is gone: %v", err)
	}
	if _, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "someone-elses", metav1.GetOptions{}); err != nil {
		t.Errorf("a ConfigMap the operator does not own was touched: %v", err)
	}
}

// A pod that crash-loops ends the wait at once (well before
// spec.rollout.timeout) with CrashLoopBackOff naming the container, its exit
// code and the last lines of its log (KWOK serves every fake container the
// local cluster's default log); a new chart or image is needed.
func TestKubernetesStageCrashLoopFailsFast(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-kube-crash")
	kubeOperator(t, ctx)

	createP4D(t, ctx, kubeP4D(t, ns, "crash", "0.1.0", map[string]any{
		"podLabels": map[string]any{"phase4.io/kwok-behaviour": "crashloop"}}))
	obj := expectKubeFailure(t, ctx, ns, "crash", "CrashLoopBackOff", "RegenerationRequired", 90*time.Second,
		"container web", "exited with code 1", "Last log lines: phase4 local cluster: fake container started | phase4 local cluster: cannot reach the database")
	if g := kubeGate(obj, "PodsRunning"); g == nil || g["status"] != "False" || g["reason"] != "CrashLoopBackOff" {
		t.Errorf("PodsRunning gate = %v, want False/CrashLoopBackOff", g)
	}
	if g := kubeGate(obj, "ResourcesCreated"); g == nil || g["status"] != "True" {
		t.Errorf("ResourcesCreated gate = %v, want True (the objects were applied)", g)
	}
}

// A pod no node can take (a nodeSelector nobody matches) is Unschedulable,
// with the scheduler's reason, once the grace period is over.
func TestKubernetesStageUnschedulable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-kube-sched")
	kubeOperator(t, ctx)

	createP4D(t, ctx, kubeP4D(t, ns, "nowhere", "0.1.0", map[string]any{
		"nodeSelector": map[string]any{"phase4.io/no-such-label": "true"}}))
	expectKubeFailure(t, ctx, ns, "nowhere", "Unschedulable", "RegenerationRequired", 90*time.Second,
		"didn't match Pod's node affinity/selector")
}

// A ResourceQuota too small for the Deployment's pods: QuotaExceeded names
// the quota and the resource, and a person must act (Stalled at once).
func TestKubernetesStageQuotaExceeded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-kube-quota")
	if _, err := kube.CoreV1().ResourceQuotas(ns).Create(ctx, &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "one-pod"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeOperator(t, ctx)

	createP4D(t, ctx, kubeP4D(t, ns, "big", "0.1.0", nil))
	expectKubeFailure(t, ctx, ns, "big", "QuotaExceeded", "EscalatedToUser", 90*time.Second, "one-pod", "pods")
}

// The operator's RBAC does not fully cover a kind in the chart: it may
// create and patch Roles (so the Helm stage's dry run passes) but not read
// them. A Role of the chart that the last revision did not apply is created
// without a read (sent create-only), so the install goes through; the next
// generation must read the Role it applied before, and that read is refused:
// Forbidden names the verb, the resource and the operator's ServiceAccount,
// a person must act (Stalled at once), and the Role stays as it was.
func TestKubernetesStageForbidden(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-kube-rbac")
	kubeOperator(t, ctx)
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "phase4-e2e-write-roles"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles"}, Verbs: []string{"create", "patch"}}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "phase4-e2e-write-roles"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "phase4-operator", Namespace: operatorNamespace}},
	}
	if _, err := kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kube.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
	})

	createP4D(t, ctx, kubeP4D(t, ns, "roles", "0.1.0", map[string]any{"rbac": map[string]any{"create": true}}))
	waitCondition(t, ctx, ns, "roles", "KubernetesReady", "True", "WorkloadsReady", 90*time.Second)
	before, err := kube.RbacV1().Roles(ns).Get(ctx, "roles-webapp", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the chart's Role was not created: %v", err)
	}

	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "roles", types.MergePatchType,
		[]byte(`{"spec":{"chart":{"values":{"podLabels":{"revision":"two"}}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	expectKubeFailure(t, ctx, ns, "roles", "Forbidden", "EscalatedToUser", 90*time.Second,
		"may not get roles.rbac.authorization.k8s.io", "ServiceAccount "+operatorNamespace+"/phase4-operator")
	after, err := kube.RbacV1().Roles(ns).Get(ctx, "roles-webapp", metav1.GetOptions{})
	if err != nil || after.ResourceVersion != before.ResourceVersion {
		t.Errorf("the Role changed after the refused read (err %v): resourceVersion %s, was %s", err,
			after.GetResourceVersion(), before.ResourceVersion)
	}
}

// An object changed by hand (kubectl scale) is put back on the next
// reconcile, and a Warning Event says what was put back.
func TestKubernetesStageDriftIsPutBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-kube-drift")
	kubeOperator(t, ctx)

	createP4D(t, ctx, kubeP4D(t, ns, "web", "0.1.0", nil))
	waitKubeReady(t, ctx, ns, "web", 1)
	if out, err := exec.CommandContext(ctx, tool("kubectl"), "scale", "deployment/web-webapp", "-n", ns,
		"--replicas=5").CombinedOutput(); err != nil {
		t.Fatalf("kubectl scale: %v\n%s", err, out)
	}
	eventually(t, 60*time.Second, "the Deployment back at 2 replicas", func() (bool, string, error) {
		d, err := kube.AppsV1().Deployments(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return d.Spec.Replicas != nil && *d.Spec.Replicas == 2, fmt.Sprint(*d.Spec.Replicas), nil
	})
	waitEvent(t, ctx, ns, "web", "Warning", "DriftCorrected", "Deployment "+ns+"/web-webapp")
	ev := waitEvent(t, ctx, ns, "web", "Warning", "DriftCorrected", "")
	if !strings.Contains(ev.Message, ".spec.replicas") || !strings.Contains(ev.Message, "kubectl") {
		t.Errorf("DriftCorrected Event does not say which field and who changed it: %q", ev.Message)
	}
	// Still ready: nothing else changed.
	waitKubeReady(t, ctx, ns, "web", 1)
}

// A chart whose only workload is a DaemonSet (nestedctl with
// controller.kind DaemonSet, as ingress-nginx offers): status.health counts
// its DaemonSet (one pod per KWOK node, as kubectl shows) and says nothing of
// Deployments it does not have.
func TestKubernetesStageHealthCountsDaemonSets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-kube-ds")
	kubeOperator(t, ctx)

	createP4D(t, ctx, pinnedP4D(t, ns, "edge", "nestedctl", "4.12.0",
		map[string]any{"registry": "controller.image.registry", "repository": "controller.image.image"},
		map[string]any{"controller": map[string]any{"kind": "DaemonSet"}}))
	waitKubeReady(t, ctx, ns, "edge", 1)
	ds, err := kube.AppsV1().DaemonSets(ns).Get(ctx, "edge-nestedctl-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d/%d", ds.Status.NumberReady, ds.Status.DesiredNumberScheduled)
	eventually(t, 30*time.Second, "status.health to count the DaemonSet as kubectl does", func() (bool, string, error) {
		o, err := getP4D(ctx, ns, "edge")
		if err != nil {
			return false, "", err
		}
		h, _, _ := unstructured.NestedMap(o.Object, "status", "health")
		_, hasDeployments := h["deployments"]
		return h["daemonsets"] == "1/1" && !hasDeployments && ds.Status.DesiredNumberScheduled > 0 &&
			h["pods"] == want, fmt.Sprintf("health %v, DaemonSet pods ready %s", h, want), nil
	})
}

// A namespace targeted only after pods and Warning Events were already in it: the operator's
// pods and Events caches refused them while no resource targeted it (another resource made the
// caches list first), and must list the namespace once it is targeted. A pod the release's
// Deployment selects but does not own (its controller is a ConfigMap, so the ReplicaSet leaves
// it) counts in status.health.pods, and the Warning Event is in status.health.recentEvents.
func TestKubernetesStageSeesPodsFromBeforeItsNamespaceWasTargeted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	first := newNamespace(t, ctx, "e2e-kube-first")
	ns := newNamespace(t, ctx, "e2e-kube-before")

	owner, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "not-a-replicaset"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	pod, err := kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:   "was-here-before",
			Labels: map[string]string{"app.kubernetes.io/name": "webapp", "app.kubernetes.io/instance": "web"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap",
				Name: owner.Name, UID: owner.UID, Controller: &yes}},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.invalid/none:1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the pod from before to run", func() (bool, string, error) {
		p, err := kube.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return p.Status.Phase == corev1.PodRunning, string(p.Status.Phase), nil
	})
	if _, err := kube.CoreV1().Events(ns).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "was-here-before.warning"},
		InvolvedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: ns, Name: pod.Name, UID: pod.UID},
		Type:           corev1.EventTypeWarning,
		Reason:         "WarnedBeforeTargeted",
		Message:        "this Warning Event was here before any resource targeted the namespace",
		Source:         corev1.EventSource{Component: "e2e"},
		FirstTimestamp: metav1.Now(),
		LastTimestamp:  metav1.Now(),
		Count:          1,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	kubeOperator(t, ctx)
	createP4D(t, ctx, kubeP4D(t, first, "first", "0.1.0", nil))
	waitKubeReady(t, ctx, first, "first", 1) // the caches have listed, without ns
	createP4D(t, ctx, kubeP4D(t, ns, "web", "0.1.0", nil))
	waitKubeReady(t, ctx, ns, "web", 1)

	eventually(t, 30*time.Second, "status.health to count the pod from before and show its Warning Event", func() (bool, string, error) {
		o, err := getP4D(ctx, ns, "web")
		if err != nil {
			return false, "", err
		}
		h, _, _ := unstructured.NestedMap(o.Object, "status", "health")
		warned := strings.Contains(fmt.Sprint(h["recentEvents"]), "WarnedBeforeTargeted")
		// The Deployment's 2 replicas and the pod from before, all running.
		return h["pods"] == "3/3" && warned, fmt.Sprintf("health %v", h), nil
	})
}
