package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// clusterAppP4D is a Phase4Deployment of the clusterapp chart (a controller with its CRD,
// ServiceAccount, ClusterRole and ClusterRoleBinding) into namespace target, which it creates,
// acting as ServiceAccount account of ns (a cluster-scoped chart needs one).
func clusterAppP4D(t testing.TB, ns, name, target, account, crdGroup string) *unstructured.Unstructured {
	obj := helmP4D(t, ns, name, map[string]any{"repository": chartsEnv(t)["CHART_REPO_URL"],
		"name": "clusterapp", "version": "0.1.0",
		"values": map[string]any{"crds": map[string]any{"enabled": true, "group": crdGroup}}})
	spec := obj.Object["spec"].(map[string]any)
	spec["target"] = map[string]any{"namespace": target, "createNamespace": true, "allowClusterScoped": true}
	spec["serviceAccountName"] = account
	return obj
}

// clusterAdmin makes ServiceAccount name of ns a cluster admin (for charts with cluster-scoped
// objects and namespaces of their own), removed at cleanup.
func clusterAdmin(t testing.TB, ctx context.Context, ns, name string) {
	t.Helper()
	if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ServiceAccount: %v", err)
	}
	binding := ns + "-" + name + "-admin"
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: binding},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ClusterRoleBinding: %v", err)
	}
	t.Cleanup(func() {
		_ = kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), binding, metav1.DeleteOptions{})
	})
}

// deleteP4D deletes a Phase4Deployment as a user does (kubectl delete, which does not wait).
func deleteP4D(t testing.TB, ctx context.Context, ns, name string) {
	t.Helper()
	if out, err := kubectl(ctx, "delete", "p4d", name, "-n", ns, "--wait=false"); err != nil {
		t.Fatalf("kubectl delete p4d %s: %v\n%s", name, err, out)
	}
}

// waitGone waits until what get reads is NotFound.
func waitGone(t testing.TB, timeout time.Duration, what string, get func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := get()
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is still there after %s (err %v)", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func waitP4DGone(t testing.TB, ctx context.Context, ns, name string, timeout time.Duration) {
	t.Helper()
	waitGone(t, timeout, "Phase4Deployment "+ns+"/"+name, func() error {
		_, err := getP4D(ctx, ns, name)
		return err
	})
}

// hasFinalizer waits until the operator has put its deletion finalizer on the resource.
func hasFinalizer(t testing.TB, ctx context.Context, ns, name string) {
	t.Helper()
	eventually(t, 30*time.Second, ns+"/"+name+" has the phase4.io/uninstall finalizer", func() (bool, string, error) {
		obj, err := getP4D(ctx, ns, name)
		if err != nil {
			return false, "", err
		}
		for _, f := range obj.GetFinalizers() {
			if f == "phase4.io/uninstall" {
				return true, "", nil
			}
		}
		return false, fmt.Sprint(obj.GetFinalizers()), nil
	})
}

// phase4Marks lists the phase4.io marks an object still carries.
func phase4Marks(meta metav1.Object) []string {
	var marks []string
	for k, v := range meta.GetLabels() {
		if strings.HasPrefix(k, "phase4.io/") || (k == "app.kubernetes.io/managed-by" && v == "phase4-operator") {
			marks = append(marks, "label "+k)
		}
	}
	for k := range meta.GetAnnotations() {
		if strings.HasPrefix(k, "phase4.io/") {
			marks = append(marks, "annotation "+k)
		}
	}
	return marks
}

// Deleting a Phase4Deployment removes what it applied and nothing else: the Deployment,
// Service, ConfigMap, ServiceAccount, ClusterRole and ClusterRoleBinding, the namespace it
// created (and nothing of it is left); a ConfigMap the release did not apply survives; a CRD
// stays under Delete and goes under DeleteCRDs. Events say so.
func TestDeletionRemovesWhatWasApplied(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-delete")
	clusterAdmin(t, ctx, ns, "deployer")
	keepGroup, goGroup := ns+".keep.example.com", ns+".go.example.com"
	t.Cleanup(func() {
		for _, g := range []string{keepGroup, goGroup} {
			_, _ = kubectl(context.Background(), "delete", "crd", "--ignore-not-found", "--wait=false", "widgets."+g)
		}
	})
	appNS, crdsNS := ns+"-app", ns+"-crds"
	t.Cleanup(func() {
		for _, n := range []string{appNS, crdsNS} {
			_ = kube.CoreV1().Namespaces().Delete(context.Background(), n, metav1.DeleteOptions{})
		}
	})
	// A ConfigMap the release does not apply, in the namespace it deploys into.
	if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "keep-me"}, Data: map[string]string{"a": "b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubeOperator(t, ctx)

	createP4D(t, ctx, clusterAppP4D(t, ns, "app", appNS, "deployer", keepGroup))
	crds := clusterAppP4D(t, ns, "crds", crdsNS, "deployer", goGroup)
	crds.Object["spec"].(map[string]any)["deletionPolicy"] = "DeleteCRDs"
	createP4D(t, ctx, crds)
	createP4D(t, ctx, kubeP4D(t, ns, "web", "0.1.0", nil))
	// A namespace the resource made, where someone else put something: it is kept.
	keptNS := ns + "-kept"
	t.Cleanup(func() { _ = kube.CoreV1().Namespaces().Delete(context.Background(), keptNS, metav1.DeleteOptions{}) })
	kept := kubeP4D(t, ns, "kept", "0.1.0", nil)
	kept.Object["spec"].(map[string]any)["target"] = map[string]any{"namespace": keptNS, "createNamespace": true}
	kept.Object["spec"].(map[string]any)["serviceAccountName"] = "deployer"
	createP4D(t, ctx, kept)
	for _, name := range []string{"app", "crds", "web", "kept"} {
		hasFinalizer(t, ctx, ns, name)
		waitKubeReady(t, ctx, ns, name, 1)
	}
	if _, err := kube.CoreV1().ConfigMaps(keptNS).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "not-the-release"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if marks := phase4Marks(mustNS(t, ctx, appNS)); len(marks) == 0 {
		t.Errorf("namespace %s made by the resource carries no phase4.io marks", appNS)
	}

	for _, name := range []string{"app", "crds", "web", "kept"} {
		deleteP4D(t, ctx, ns, name)
	}
	for _, name := range []string{"app", "crds", "web", "kept"} {
		waitP4DGone(t, ctx, ns, name, 2*time.Minute)
	}

	// Everything the releases applied is gone.
	for _, n := range []string{appNS, crdsNS} {
		n := n
		rel := "app"
		if n == crdsNS {
			rel = "crds"
		}
		cluster := n + "-" + rel + "-clusterapp"
		for what, get := range map[string]func() error{
			"Deployment " + n + "/" + rel + "-clusterapp": func() error {
				_, err := kube.AppsV1().Deployments(n).Get(ctx, rel+"-clusterapp", metav1.GetOptions{})
				return err
			},
			"ClusterRole " + cluster: func() error {
				_, err := kube.RbacV1().ClusterRoles().Get(ctx, cluster, metav1.GetOptions{})
				return err
			},
			"ClusterRoleBinding " + cluster: func() error {
				_, err := kube.RbacV1().ClusterRoleBindings().Get(ctx, cluster, metav1.GetOptions{})
				return err
			},
			"Namespace " + n: func() error {
				_, err := kube.CoreV1().Namespaces().Get(ctx, n, metav1.GetOptions{})
				return err
			},
		} {
			waitGone(t, time.Minute, what, get)
		}
	}
	for what, get := range map[string]func() error{
		"Deployment web-webapp": func() error {
			_, err := kube.AppsV1().Deployments(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
			return err
		},
		"Service web-webapp": func() error {
			_, err := kube.CoreV1().Services(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
			return err
		},
		"ConfigMap web-webapp": func() error {
			_, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
			return err
		},
		"CRD widgets." + goGroup: func() error {
			_, err := dyn.Resource(crdGVR).Get(ctx, "widgets."+goGroup, metav1.GetOptions{})
			return err
		},
	} {
		waitGone(t, time.Minute, what, get)
	}
	// What the releases did not apply, and the CRD under Delete, are still there.
	if _, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "keep-me", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap keep-me, which no release applied: %v", err)
	}
	if _, err := dyn.Resource(crdGVR).Get(ctx, "widgets."+keepGroup, metav1.GetOptions{}); err != nil {
		t.Errorf("CRD widgets.%s (deletionPolicy Delete keeps CRDs): %v", keepGroup, err)
	}
	if _, err := kube.CoreV1().ServiceAccounts(ns).Get(ctx, "deployer", metav1.GetOptions{}); err != nil {
		t.Errorf("ServiceAccount deployer, which no release applied: %v", err)
	}
	// The namespace that holds something else stays, with what is in it; the release's own
	// objects in it are gone, and the Event says why the namespace was kept.
	if _, err := kube.CoreV1().Namespaces().Get(ctx, keptNS, metav1.GetOptions{}); err != nil {
		t.Errorf("namespace %s, which holds a ConfigMap the release did not apply: %v", keptNS, err)
	}
	if _, err := kube.CoreV1().ConfigMaps(keptNS).Get(ctx, "not-the-release", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap not-the-release: %v", err)
	}
	if _, err := kube.AppsV1().Deployments(keptNS).Get(ctx, "kept-webapp", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment %s/kept-webapp: err %v, want NotFound", keptNS, err)
	}
	waitEvent(t, ctx, ns, "kept", "Normal", "Uninstalled", "it also holds ConfigMap not-the-release")
	waitEvent(t, ctx, ns, "app", "Normal", "Uninstalling", "deletionPolicy Delete")
	waitEvent(t, ctx, ns, "app", "Normal", "Uninstalled", "kept")
	waitEvent(t, ctx, ns, "web", "Normal", "Uninstalled", "3 object(s) deleted")
	waitEvent(t, ctx, ns, "crds", "Normal", "Uninstalled", "deletionPolicy DeleteCRDs")
}

func mustNS(t testing.TB, ctx context.Context, name string) metav1.Object {
	t.Helper()
	n, err := kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("namespace %s: %v", name, err)
	}
	return n
}

// deletionPolicy Orphan leaves everything running with the phase4.io marks taken off. A
// resource made again under the same name does not take over what an earlier one left marked
// as its own: AdoptionRequired (Stalled) until spec.adopt says so, then an Adopted Event.
func TestDeletionOrphanAndVisibleAdoption(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-orphan")
	kubeOperator(t, ctx)

	web := kubeP4D(t, ns, "web", "0.1.0", nil)
	web.Object["spec"].(map[string]any)["deletionPolicy"] = "Orphan"
	createP4D(t, ctx, web)
	hasFinalizer(t, ctx, ns, "web")
	obj := waitKubeReady(t, ctx, ns, "web", 1)
	oldUID := string(obj.GetUID())
	dep, err := kube.AppsV1().Deployments(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dep.GetAnnotations()["phase4.io/owner-uid"] != oldUID {
		t.Errorf("Deployment web-webapp phase4.io/owner-uid = %q, want the resource's uid %s",
			dep.GetAnnotations()["phase4.io/owner-uid"], oldUID)
	}

	deleteP4D(t, ctx, ns, "web")
	waitP4DGone(t, ctx, ns, "web", time.Minute)
	waitEvent(t, ctx, ns, "web", "Normal", "Uninstalled", "deletionPolicy Orphan")
	objects := map[string]func() (metav1.Object, error){
		"Deployment": func() (metav1.Object, error) {
			return kube.AppsV1().Deployments(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
		},
		"Service": func() (metav1.Object, error) {
			return kube.CoreV1().Services(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
		},
		"ConfigMap": func() (metav1.Object, error) {
			return kube.CoreV1().ConfigMaps(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
		},
	}
	for kind, get := range objects {
		o, err := get()
		if err != nil {
			t.Errorf("%s web-webapp after an Orphan delete: %v", kind, err)
			continue
		}
		if marks := phase4Marks(o); len(marks) != 0 {
			t.Errorf("%s web-webapp still carries %v after an Orphan delete", kind, marks)
		}
	}

	// What an Orphan delete that could not take its marks off leaves: the old owner and uid.
	for _, kind := range []string{"deployment", "service", "configmap"} {
		if out, err := kubectl(ctx, "annotate", "-n", ns, kind, "web-webapp",
			"phase4.io/owner="+ns+"/web", "phase4.io/owner-uid="+oldUID); err != nil {
			t.Fatalf("annotate %s: %v\n%s", kind, err, out)
		}
	}
	createP4D(t, ctx, kubeP4D(t, ns, "web", "0.1.0", nil))
	expectKubeFailure(t, ctx, ns, "web", "AdoptionRequired", "EscalatedToUser", 2*time.Minute,
		"web-webapp", "spec.adopt", oldUID)
	if out, err := kubectl(ctx, "patch", "p4d", "web", "-n", ns, "--type=merge", "-p", `{"spec":{"adopt":true}}`); err != nil {
		t.Fatalf("set spec.adopt: %v\n%s", err, out)
	}
	obj = waitKubeReady(t, ctx, ns, "web", 2)
	waitEvent(t, ctx, ns, "web", "Normal", "Adopted", "took over 3 object(s)")
	dep, err = kube.AppsV1().Deployments(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := dep.GetAnnotations()["phase4.io/owner-uid"]; got != string(obj.GetUID()) {
		t.Errorf("adopted Deployment phase4.io/owner-uid = %q, want the new resource's %s", got, obj.GetUID())
	}
}

// A delete never hangs: an object held by another controller's finalizer, and one the
// resource's ServiceAccount may not delete, are reported (DeletionBlocked and a Warning naming
// them) and, after spec.deletionTimeout, the finalizer is released anyway with a Warning listing
// what was left. The object the account may not delete survives: the operator did not use its
// own rights (it may delete ConfigMaps).
func TestDeletionIsBoundedByItsTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-stuck")
	account(t, ctx, ns, "nodelete", []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "create", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"services", "serviceaccounts"}, Verbs: []string{"get", "create", "patch", "delete"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "create", "patch", "delete"}},
	})
	kubeOperator(t, ctx)

	held := kubeP4D(t, ns, "held", "0.1.0", nil)
	held.Object["spec"].(map[string]any)["deletionTimeout"] = "10s"
	createP4D(t, ctx, held)
	tenant := kubeP4D(t, ns, "tenant", "0.1.0", nil)
	tenant.Object["spec"].(map[string]any)["deletionTimeout"] = "10s"
	tenant.Object["spec"].(map[string]any)["serviceAccountName"] = "nodelete"
	createP4D(t, ctx, tenant)
	waitKubeReady(t, ctx, ns, "held", 1)
	waitKubeReady(t, ctx, ns, "tenant", 1)

	// Another controller's finalizer on one applied object.
	if out, err := kubectl(ctx, "patch", "configmap", "held-webapp", "-n", ns, "--type=merge",
		"-p", `{"metadata":{"finalizers":["example.com/hold"]}}`); err != nil {
		t.Fatalf("add a foreign finalizer: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_, _ = kube.CoreV1().ConfigMaps(ns).Patch(context.Background(), "held-webapp", types.MergePatchType,
			[]byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	})

	start := time.Now()
	deleteP4D(t, ctx, ns, "held")
	deleteP4D(t, ctx, ns, "tenant")
	obj := waitCondition(t, ctx, ns, "held", "DeletionBlocked", "True", "ObjectTerminating", 30*time.Second)
	if msg := fmt.Sprint(condition(obj, "DeletionBlocked")["message"]); !strings.Contains(msg, "held-webapp") ||
		!strings.Contains(msg, "example.com/hold") {
		t.Errorf("DeletionBlocked message %q does not name the object and its finalizer", msg)
	}
	if c := condition(obj, "Reconciling"); c == nil || c["reason"] != "Deleting" {
		t.Errorf("Reconciling = %v, want reason Deleting", c)
	}
	waitEvent(t, ctx, ns, "held", "Warning", "DeletionBlocked", "held-webapp")
	obj = waitCondition(t, ctx, ns, "tenant", "DeletionBlocked", "True", "Forbidden", 30*time.Second)
	if msg := fmt.Sprint(condition(obj, "DeletionBlocked")["message"]); !strings.Contains(msg, "nodelete") {
		t.Errorf("DeletionBlocked message %q does not name the account that may not delete", msg)
	}

	waitP4DGone(t, ctx, ns, "held", time.Minute)
	waitP4DGone(t, ctx, ns, "tenant", time.Minute)
	if took := time.Since(start); took < 9*time.Second {
		t.Errorf("released after %s, before spec.deletionTimeout (10s)", took)
	}
	waitEvent(t, ctx, ns, "held", "Warning", "UninstallTimedOut", "ConfigMap "+ns+"/held-webapp")
	waitEvent(t, ctx, ns, "tenant", "Warning", "UninstallTimedOut", "ConfigMap "+ns+"/tenant-webapp")
	if _, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "tenant-webapp", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap tenant-webapp, which its account may not delete, is gone: %v", err)
	}
	if _, err := kube.AppsV1().Deployments(ns).Get(ctx, "tenant-webapp", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment tenant-webapp, which its account may delete: err %v, want NotFound", err)
	}
}

// Deleting a whole namespace does not hang on its Phase4Deployments: their uninstall sees the
// namespace terminating (the ServiceAccount it acts as, and its RoleBinding, may be gone
// already, and then every request as it is refused), makes one pass and releases the finalizer
// at once, long before spec.deletionTimeout (5 minutes here).
func TestDeletingTheNamespaceDoesNotWaitForTheTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-nsdelete")
	account(t, ctx, ns, "deployer", deployerRules)
	kubeOperator(t, ctx)
	web := kubeP4D(t, ns, "web", "0.1.0", nil)
	web.Object["spec"].(map[string]any)["serviceAccountName"] = "deployer"
	createP4D(t, ctx, web)
	hasFinalizer(t, ctx, ns, "web")
	waitKubeReady(t, ctx, ns, "web", 1)

	if err := kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, 90*time.Second, "namespace "+ns, func() error {
		_, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return err
	})
}

// A resource's smoke-test Jobs in another namespace (no ownerReference can reach them there, so
// garbage collection does not) are deleted with it; the target namespace, which it did not
// create, stays.
func TestDeletionRemovesSmokeJobsInAnotherNamespace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-delsmoke")
	target := newNamespace(t, ctx, "e2e-delsmoke-target")
	clusterAdmin(t, ctx, ns, "deployer")
	kubeOperator(t, ctx)

	web := smokeP4D(t, ns, "web", nil, map[string]any{"smokeTests": []any{smokeTest("api", nil, nil)}})
	web.Object["spec"].(map[string]any)["target"] = map[string]any{"namespace": target}
	web.Object["spec"].(map[string]any)["serviceAccountName"] = "deployer"
	createP4D(t, ctx, web)
	waitCondition(t, ctx, ns, "web", "Ready", "True", "Succeeded", 3*time.Minute)
	if jobs := smokeJobs(t, ctx, target, "web"); len(jobs) != 1 {
		t.Fatalf("smoke-test Jobs in %s: %v, want 1", target, jobNames(jobs))
	}

	deleteP4D(t, ctx, ns, "web")
	waitP4DGone(t, ctx, ns, "web", time.Minute)
	eventually(t, 30*time.Second, "the smoke-test Job in "+target+" to be gone", func() (bool, string, error) {
		jobs := smokeJobs(t, ctx, target, "web")
		return len(jobs) == 0, fmt.Sprint(jobNames(jobs)), nil
	})
	if _, err := kube.CoreV1().Namespaces().Get(ctx, target, metav1.GetOptions{}); err != nil {
		t.Errorf("namespace %s, which the resource did not create: %v", target, err)
	}
	if _, err := kube.AppsV1().Deployments(target).Get(ctx, "web-webapp", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment %s/web-webapp: err %v, want NotFound", target, err)
	}
}

// A resource made before the owner's uid was marked keeps working: what its status.inventory
// lists is its own though it carries no uid mark, and the next apply marks it with the uid.
func TestResourcesFromBeforeUidsKeepTheirObjects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-nouid")
	kubeOperator(t, ctx)
	createP4D(t, ctx, kubeP4D(t, ns, "web", "0.1.0", nil))
	obj := waitKubeReady(t, ctx, ns, "web", 1)

	// As an operator from before uids left them: the owner mark without the uid.
	for _, kind := range []string{"deployment", "service", "configmap"} {
		if out, err := kubectl(ctx, "annotate", "-n", ns, kind, "web-webapp", "phase4.io/owner-uid-"); err != nil {
			t.Fatalf("annotate %s: %v\n%s", kind, err, out)
		}
	}
	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "web", types.MergePatchType,
		[]byte(`{"spec":{"chart":{"values":{"message":"upgraded"}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitKubeReady(t, ctx, ns, "web", 2)
	cm, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "web-webapp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cm.GetAnnotations()["phase4.io/owner-uid"]; got != string(obj.GetUID()) {
		t.Errorf("ConfigMap web-webapp phase4.io/owner-uid = %q after the upgrade, want %s", got, obj.GetUID())
	}
	if evs, err := events(ctx, ns, "web"); err == nil {
		for _, e := range evs {
			if e.Reason == "AdoptionRequired" || e.Reason == "Adopted" {
				t.Errorf("Event %s %q: the resource's own objects are not adopted", e.Reason, e.Message)
			}
		}
	}
}
