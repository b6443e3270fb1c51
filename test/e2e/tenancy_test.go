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
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// account creates ServiceAccount name in ns with a Role of rules bound to it,
// and returns its user name (system:serviceaccount:NS:NAME).
func account(t testing.TB, ctx context.Context, ns, name string, rules []rbacv1.PolicyRule) string {
	t.Helper()
	if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ServiceAccount %s/%s: %v", ns, name, err)
	}
	if _, err := kube.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create Role %s/%s: %v", ns, name, err)
	}
	if _, err := kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create RoleBinding %s/%s: %v", ns, name, err)
	}
	return "system:serviceaccount:" + ns + ":" + name
}

// tenantRules: what a tenant may do — manage Phase4Deployments, read
// ConfigMaps and Events in its namespace, nothing else.
var tenantRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"phase4.io"}, Resources: []string{"phase4deployments"},
		Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"configmaps", "events"}, Verbs: []string{"get", "list"}},
}

// deployerRules: what the webapp chart needs in its own namespace, and no
// Secrets, no cluster-scoped objects.
var deployerRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"configmaps", "services", "serviceaccounts"},
		Verbs: []string{"get", "create", "patch", "delete"}},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "create", "patch", "delete"}},
}

var deployGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// as is a dynamic client that acts as user, as `kubectl --as` does.
func as(t testing.TB, user string) dynamic.Interface {
	t.Helper()
	cfg := rest.CopyConfig(restConfig)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	return dynamic.NewForConfigOrDie(cfg)
}

// expectRefused waits for a refusal of the tenancy rules: Ready False with
// reason and Stalled True, escalated to a person (the spec or the operator's
// flags must change), nothing started (stage Pending), one Warning.
func expectRefused(t testing.TB, ctx context.Context, ns, name, reason string, contains ...string) {
	t.Helper()
	obj := expectEscalated(t, ctx, ns, name, reason)
	msg := fmt.Sprint(condition(obj, "Stalled")["message"])
	for _, want := range contains {
		if !strings.Contains(msg, want) {
			t.Errorf("%s: Stalled message lacks %q: %q", name, want, msg)
		}
	}
	if stage, _, _ := unstructured.NestedString(obj.Object, "status", "stage"); stage != "Pending" {
		t.Errorf("%s: status.stage = %q, want Pending: no stage may run", name, stage)
	}
	if c := condition(obj, "DockerReady"); c != nil {
		t.Errorf("%s: DockerReady = %v: the Docker stage ran", name, c)
	}
	waitEvent(t, ctx, ns, name, "Warning", "EscalatedToUser", reason)
}

// A tenant that may only manage Phase4Deployments in its namespace cannot,
// through the operator, reach another namespace, kube-system, a
// cluster-wide binding or a privileged build pod: each is refused with its
// reason and nothing is applied. What it may do — its own namespace, its own
// chart — still deploys, with no set-up beyond the operator's own RBAC.
func TestTenantReachesOnlyItsNamespace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-tenant")
	other := newNamespace(t, ctx, "e2e-tenant-b")
	tenant := as(t, account(t, ctx, ns, "tenant", tenantRules)).Resource(p4dGVR).Namespace(ns)
	helmOperator(t, ctx)
	create := func(obj *unstructured.Unstructured) {
		t.Helper()
		if _, err := tenant.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("the tenant creates %s: %v", obj.GetName(), err)
		}
	}
	target := func(obj *unstructured.Unstructured, into string) *unstructured.Unstructured {
		obj.Object["spec"].(map[string]any)["target"] = map[string]any{"namespace": into}
		return obj
	}

	create(target(kubeP4D(t, ns, "elsewhere", "0.1.0", nil), other))
	create(target(kubeP4D(t, ns, "system", "0.1.0", nil), "kube-system"))
	admin := kubeP4D(t, ns, "admin", "0.1.0", map[string]any{"clusterRoleBinding": map[string]any{
		"create": true, "clusterRole": "cluster-admin",
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "tenant", "namespace": ns}}}})
	admin.Object["spec"].(map[string]any)["target"] = map[string]any{"namespace": ns, "allowClusterScoped": true}
	create(admin)
	build := kubeP4D(t, ns, "builder", "0.1.0", nil)
	build.Object["spec"].(map[string]any)["image"].(map[string]any)["build"] = map[string]any{
		"template": map[string]any{"template": map[string]any{"spec": map[string]any{
			"restartPolicy": "Never", "hostNetwork": true, "hostPID": true,
			"containers": []any{map[string]any{"name": "root", "image": "busybox",
				"securityContext": map[string]any{"privileged": true},
				"volumeMounts":    []any{map[string]any{"name": "host", "mountPath": "/host"}}}},
			"volumes": []any{map[string]any{"name": "host", "hostPath": map[string]any{"path": "/"}}},
		}}}}
	create(build)
	create(kubeP4D(t, ns, "own", "0.1.0", nil))

	expectRefused(t, ctx, ns, "elsewhere", "TargetNotAllowed", other, "spec.serviceAccountName")
	expectRefused(t, ctx, ns, "system", "TargetNotAllowed", "kube-system")
	expectRefused(t, ctx, ns, "admin", "ClusterScopedNotAllowed", "only namespaced objects")
	expectRefused(t, ctx, ns, "builder", "BuildNotAllowed", "build Job")
	waitKubeReady(t, ctx, ns, "own", 1)

	// Read back: nothing of the refused ones exists anywhere.
	for _, where := range []string{other, "kube-system"} {
		deps, err := kube.AppsV1().Deployments(where).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=phase4-operator"})
		if err != nil || len(deps.Items) != 0 {
			t.Errorf("Deployments the operator applied in %s: %v (err %v)", where, deps, err)
		}
	}
	if _, err := kube.RbacV1().ClusterRoleBindings().Get(ctx, ns+"-admin-webapp", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ClusterRoleBinding %s-admin-webapp: err %v, want NotFound", ns, err)
	}
	if jobs, err := kube.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{}); err != nil || len(jobs.Items) != 0 {
		t.Errorf("Jobs in %s: %v (err %v), want none", ns, jobs, err)
	}
	if deps, err := kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{}); err != nil || len(deps.Items) != 1 || deps.Items[0].Name != "own-webapp" {
		t.Errorf("Deployments in %s: want only own-webapp, got %v (err %v)", ns, deps, err)
	}
	// The tenant still cannot read what it could not before (the operator is no way around it).
	if _, err := as(t, "system:serviceaccount:"+ns+":tenant").Resource(deployGVR).Namespace(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the tenant lists Deployments: err %v, want Forbidden", err)
	}
}

// With spec.serviceAccountName, everything is done as that account: the
// chart deploys where its Role allows; a cluster-scoped object its Role does
// not allow is refused by the API server (the dry run, as the account), and
// a Secret it may not read is not read for it.
func TestServiceAccountActsForTheResource(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-deployer")
	account(t, ctx, ns, "deployer", deployerRules)
	if _, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "values"},
		StringData: map[string]string{"values.yaml": "message: from a secret\n"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	helmOperator(t, ctx)
	withAccount := func(obj *unstructured.Unstructured) *unstructured.Unstructured {
		obj.Object["spec"].(map[string]any)["serviceAccountName"] = "deployer"
		return obj
	}

	createP4D(t, ctx, withAccount(kubeP4D(t, ns, "good", "0.1.0", nil)))
	binding := withAccount(kubeP4D(t, ns, "binding", "0.1.0", map[string]any{"clusterRoleBinding": map[string]any{
		"create": true, "subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "deployer", "namespace": ns}}}}))
	binding.Object["spec"].(map[string]any)["target"] = map[string]any{"namespace": ns, "allowClusterScoped": true}
	createP4D(t, ctx, binding)
	secret := withAccount(kubeP4D(t, ns, "secret", "0.1.0", nil))
	secret.Object["spec"].(map[string]any)["chart"].(map[string]any)["valuesFrom"] = []any{
		map[string]any{"kind": "Secret", "name": "values"}}
	createP4D(t, ctx, secret)

	waitKubeReady(t, ctx, ns, "good", 1)
	if _, err := kube.AppsV1().Deployments(ns).Get(ctx, "good-webapp", metav1.GetOptions{}); err != nil {
		t.Errorf("Deployment good-webapp: %v", err)
	}
	expectHelmFailure(t, ctx, ns, "binding", "DryRun", "DryRunRejected", "EscalatedToUser",
		"clusterrolebindings", "system:serviceaccount:"+ns+":deployer")
	if _, err := kube.RbacV1().ClusterRoleBindings().Get(ctx, ns+"-binding-webapp", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ClusterRoleBinding %s-binding-webapp: err %v, want NotFound", ns, err)
	}
	expectHelmFailure(t, ctx, ns, "secret", "ValuesValid", "Forbidden", "EscalatedToUser", "system:serviceaccount:"+ns+":deployer")
}

// --default-service-account acts for resources that name no account, in
// their own namespace: where that account may deploy, the chart deploys;
// where it does not exist, the API server refuses it, not the operator's
// own rights. --no-cross-namespace-refs holds even a named account to its
// namespace.
func TestDefaultServiceAccountAndNoCrossNamespaceRefs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-default-sa")
	bare := newNamespace(t, ctx, "e2e-default-sa-none")
	account(t, ctx, ns, "deployer", deployerRules)
	helmOperator(t, ctx, "--default-service-account", "deployer", "--no-cross-namespace-refs", "true")

	createP4D(t, ctx, kubeP4D(t, ns, "good", "0.1.0", nil))
	createP4D(t, ctx, kubeP4D(t, bare, "nobody", "0.1.0", nil))
	away := kubeP4D(t, ns, "away", "0.1.0", nil)
	away.Object["spec"].(map[string]any)["serviceAccountName"] = "deployer"
	away.Object["spec"].(map[string]any)["target"] = map[string]any{"namespace": bare}
	createP4D(t, ctx, away)

	waitKubeReady(t, ctx, ns, "good", 1)
	expectHelmFailure(t, ctx, bare, "nobody", "DryRun", "DryRunRejected", "EscalatedToUser",
		"system:serviceaccount:"+bare+":deployer")
	expectRefused(t, ctx, ns, "away", "TargetNotAllowed", "--no-cross-namespace-refs")
	if deps, err := kube.AppsV1().Deployments(bare).List(ctx, metav1.ListOptions{}); err != nil || len(deps.Items) != 0 {
		t.Errorf("Deployments in %s: %v (err %v), want none", bare, deps, err)
	}
}
