package e2e

import (
	"context"
	"encoding/json"
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

// Helm hooks run as Helm runs them. nestedctl, written like ingress-nginx,
// has a pre-install,pre-upgrade Job that makes the admission webhook's
// certificate and a post-install,post-upgrade Job that patches it in, both
// with ttlSecondsAfterFinished: 0 and the delete policy
// before-hook-creation,hook-succeeded. The pre hook completes before the
// workloads exist, the post hook runs once they are ready, neither is in the
// inventory nor ever reported as drift; an upgrade runs the upgrade hooks.
// The upgrade also drops the chart's ServiceAccount and serviceAccountName:
// the new pods run as "default" (the field dropped is really gone) and the
// ServiceAccount is pruned.

// jobEvents are the Events about Job name in ns, oldest first.
func jobEvents(t testing.TB, ctx context.Context, ns, name string) []corev1.Event {
	t.Helper()
	list, err := kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Job,involvedObject.name=" + name})
	if err != nil {
		t.Fatalf("Events of Job %s/%s: %v", ns, name, err)
	}
	return list.Items
}

func eventTime(e corev1.Event) time.Time {
	if !e.EventTime.IsZero() {
		return e.EventTime.Time
	}
	if !e.FirstTimestamp.IsZero() {
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

func TestKubernetesStageRunsHelmHooks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-hooks")
	host := plainHost(t)
	kubeOperator(t, ctx)

	values := map[string]any{"controller": map[string]any{"admissionWebhooks": map[string]any{"enabled": true,
		"patch": map[string]any{"image": map[string]any{"registry": host, "image": "phase4/app", "tag": "1.0"}}}}}
	obj := pinnedP4D(t, ns, "ingress", "nestedctl", "4.12.0",
		map[string]any{"registry": "controller.image.registry", "repository": "controller.image.image"}, values)
	createP4D(t, ctx, obj)
	got := waitKubeReady(t, ctx, ns, "ingress", 1)

	hooks, _, _ := unstructured.NestedMap(got.Object, "status", "hooks")
	if fmt.Sprint(hooks["generation"]) != "1" || hooks["event"] != "install" || hooks["pre"] != "Succeeded" || hooks["post"] != "Succeeded" {
		t.Errorf("status.hooks = %v, want generation 1, install, pre and post Succeeded", hooks)
	}
	if g := kubeGate(got, "HooksCompleted"); g == nil || g["status"] != "True" || !strings.Contains(fmt.Sprint(g["message"]), "post-install") {
		t.Errorf("gate HooksCompleted = %v, want True naming the post-install hooks", g)
	}
	for _, e := range inventoryOf(got) {
		if strings.HasPrefix(e, "Job/") {
			t.Errorf("status.inventory has hook %s: hooks are not part of the release's objects", e)
		}
	}
	dep, err := kube.AppsV1().Deployments(ns).Get(ctx, "ingress-nestedctl-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The hooks ran (their Jobs' Events) and are gone (hook-succeeded, and the TTL of 0).
	for _, job := range []string{"ingress-nestedctl-admission-create", "ingress-nestedctl-admission-patch"} {
		eventually(t, 30*time.Second, "Job "+job+" deleted after it succeeded", func() (bool, string, error) {
			_, err := kube.BatchV1().Jobs(ns).Get(ctx, job, metav1.GetOptions{})
			return apierrors.IsNotFound(err), fmt.Sprint(err), nil
		})
		if len(jobEvents(t, ctx, ns, job)) == 0 {
			t.Errorf("no Events of hook Job %s: it never ran", job)
		}
	}
	// The pre hook completed before the Deployment was created; the post hook began after.
	create := jobEvents(t, ctx, ns, "ingress-nestedctl-admission-create")
	var completed time.Time
	for _, e := range create {
		if e.Reason == "Completed" {
			completed = eventTime(e)
		}
	}
	if completed.IsZero() || dep.CreationTimestamp.Time.Before(completed.Truncate(time.Second)) {
		t.Errorf("pre-install hook completed at %v, Deployment created at %v: want the hook first (events %v)", completed, dep.CreationTimestamp, create)
	}
	patch := jobEvents(t, ctx, ns, "ingress-nestedctl-admission-patch")
	if len(patch) > 0 && eventTime(patch[0]).Before(dep.CreationTimestamp.Time) {
		t.Errorf("post-install hook began at %v, before the Deployment existed (%v)", eventTime(patch[0]), dep.CreationTimestamp)
	}
	if dep.Spec.Template.Spec.ServiceAccountName != "ingress-nestedctl" {
		t.Errorf("Deployment runs as %q, want the chart's ServiceAccount ingress-nestedctl", dep.Spec.Template.Spec.ServiceAccountName)
	}

	// Upgrade: no ServiceAccount any more. The upgrade hooks run; the pods run as default.
	// A merge patch of the spec: an Update of the whole object read a moment before would
	// conflict with a status write the operator makes meanwhile.
	values["serviceAccount"] = map[string]any{"create": false}
	body, err := json.Marshal(map[string]any{"spec": map[string]any{"chart": map[string]any{"values": values}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "ingress", types.MergePatchType, body, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	got = waitKubeReady(t, ctx, ns, "ingress", 2)
	hooks, _, _ = unstructured.NestedMap(got.Object, "status", "hooks")
	if fmt.Sprint(hooks["generation"]) != "2" || hooks["event"] != "upgrade" || hooks["pre"] != "Succeeded" || hooks["post"] != "Succeeded" {
		t.Errorf("status.hooks after the upgrade = %v, want generation 2, upgrade, pre and post Succeeded", hooks)
	}
	dep, err = kube.AppsV1().Deployments(ns).Get(ctx, "ingress-nestedctl-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sa := dep.Spec.Template.Spec.ServiceAccountName; sa != "default" {
		t.Errorf("after the upgrade the Deployment runs as %q, want default (the chart no longer names one)", sa)
	}
	eventually(t, 30*time.Second, "the new pods running as default", func() (bool, string, error) {
		pods := podImages(t, ctx, ns, "ingress")
		for _, p := range pods {
			if p.Spec.ServiceAccountName != "default" || p.DeletionTimestamp != nil {
				return false, fmt.Sprintf("pod %s runs as %q", p.Name, p.Spec.ServiceAccountName), nil
			}
		}
		return len(pods) > 0, fmt.Sprintf("%d pods", len(pods)), nil
	})
	eventually(t, 30*time.Second, "the ServiceAccount pruned", func() (bool, string, error) {
		_, err := kube.CoreV1().ServiceAccounts(ns).Get(ctx, "ingress-nestedctl", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err), nil
	})
	// Hooks are never drift: no DriftCorrected Event in all this.
	evs, err := kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=ingress,involvedObject.kind=Phase4Deployment"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs.Items {
		if e.Reason == "DriftCorrected" {
			t.Errorf("a DriftCorrected Event after the hooks ran: %s", e.Message)
		}
	}
}
