package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// What GitOps tools read from a Phase4Deployment (docs/gitops.md): kstatus
// (Flux's Kustomization wait and healthChecks) and the Argo CD health check
// in docs/argocd/health.lua. Each state below is met on a live object; its
// status is recorded in testdata/status/<state>.json with the words both
// tools must give, and test/argocd/health_test.lua runs the Lua check on
// every such file (make unit).

// gitopsState is one row of the table in docs/gitops.md.
type gitopsState struct {
	name    string // the fixture's file name, without .json
	kstatus status.Status
	argocd  string // Argo CD's health word
	from    string // the condition whose message Argo CD shows
}

// gitopsFixture is what testdata/status/<state>.json holds: the words expected
// and the object as recorded (its status without timestamps).
type gitopsFixture struct {
	Expect struct {
		Kstatus     string `json:"kstatus"`
		ArgoCD      string `json:"argocd"`
		MessageFrom string `json:"messageFrom"`
	} `json:"expect"`
	Object map[string]any `json:"object"`
}

func fixturePath(name string) string {
	return filepath.Join(repoRoot(), "test", "e2e", "testdata", "status", name+".json")
}

// recorded is obj as a fixture keeps it: apiVersion, kind, name, generation,
// spec.suspend, and the status members the words are made of (conditions
// without lastTransitionTime), so a new run changes it only where it matters.
func recorded(obj *unstructured.Unstructured) map[string]any {
	meta := map[string]any{"name": obj.GetName(), "generation": obj.GetGeneration()}
	out := map[string]any{"apiVersion": obj.GetAPIVersion(), "kind": obj.GetKind(), "metadata": meta}
	if s, found, _ := unstructured.NestedBool(obj.Object, "spec", "suspend"); found {
		out["spec"] = map[string]any{"suspend": s}
	}
	st := map[string]any{}
	for _, k := range []string{"observedGeneration", "stage", "verdict"} {
		if v, ok := obj.Object["status"].(map[string]any)[k]; ok {
			st[k] = v
		}
	}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	var keep []any
	for _, c := range conds {
		m, _ := c.(map[string]any)
		n := map[string]any{}
		for k, v := range m {
			if k != "lastTransitionTime" {
				n[k] = v
			}
		}
		keep = append(keep, n)
	}
	st["conditions"] = keep
	out["status"] = st
	return out
}

// decisive is what the words depend on: the stage, the verdict, spec.suspend
// and the status and reason of the conditions GitOps tools read.
func decisive(obj map[string]any) map[string]string {
	u := &unstructured.Unstructured{Object: obj}
	d := map[string]string{}
	d["stage"], _, _ = unstructured.NestedString(obj, "status", "stage")
	d["verdict"], _, _ = unstructured.NestedString(obj, "status", "verdict")
	s, _, _ := unstructured.NestedBool(obj, "spec", "suspend")
	d["suspend"] = fmt.Sprint(s)
	for _, typ := range []string{"Ready", "Reconciling", "Stalled", "AwaitingApproval"} {
		if c := condition(u, typ); c != nil {
			d[typ] = fmt.Sprintf("%v/%v", c["status"], c["reason"])
		}
	}
	return d
}

// checkGitOps computes kstatus on the live object and compares its status
// with the recorded fixture: P4_RECORD_FIXTURES=1 writes the fixture anew;
// otherwise a fixture whose decisive fields differ from the live ones fails
// the test (record again, and check the words in docs/gitops.md).
func checkGitOps(t *testing.T, obj *unstructured.Unstructured, want gitopsState) {
	t.Helper()
	res, err := status.Compute(obj)
	if err != nil {
		t.Fatalf("%s: kstatus: %v", want.name, err)
	}
	if res.Status != want.kstatus {
		t.Errorf("%s: kstatus %s (%s), want %s; conditions %v", want.name, res.Status, res.Message, want.kstatus,
			obj.Object["status"].(map[string]any)["conditions"])
	}
	if want.from != "" && condition(obj, want.from) == nil {
		t.Errorf("%s: no %s condition, whose message Argo CD shows", want.name, want.from)
	}
	live := recorded(obj)
	path := fixturePath(want.name)
	if os.Getenv("P4_RECORD_FIXTURES") != "" {
		var f gitopsFixture
		f.Expect.Kstatus, f.Expect.ArgoCD, f.Expect.MessageFrom = string(want.kstatus), want.argocd, want.from
		f.Object = live
		b, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded %s", path)
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (record it: P4_RECORD_FIXTURES=1 E2E_FLAGS=-run=TestGitOpsStatus hack/e2e)", want.name, err)
	}
	var f gitopsFixture
	if err := utiljson.Unmarshal(b, &f); err != nil { // whole numbers as int64, as kstatus reads them
		t.Fatalf("%s: %v", path, err)
	}
	if f.Expect.Kstatus != string(want.kstatus) || f.Expect.ArgoCD != want.argocd || f.Expect.MessageFrom != want.from {
		t.Errorf("%s: expects %+v, the test wants %s/%s/%s: record it again", path, f.Expect, want.kstatus, want.argocd, want.from)
	}
	if fres, err := status.Compute(&unstructured.Unstructured{Object: f.Object}); err != nil || fres.Status != want.kstatus {
		t.Errorf("%s: kstatus of the recorded object %v (%v), want %s", path, fres, err, want.kstatus)
	}
	if got, was := decisive(live), decisive(f.Object); !reflect.DeepEqual(got, was) {
		t.Errorf("%s: the live status drifted from the recorded one:\n live     %v\n recorded %v\n"+
			"record it again (P4_RECORD_FIXTURES=1) and check docs/gitops.md", path, got, was)
	}
}

// watchUntil watches name in ns from before it exists (start it before the
// create) and returns the first version of it for which pred is true.
func watchUntil(t *testing.T, ctx context.Context, w watch.Interface, what string, timeout time.Duration,
	pred func(*unstructured.Unstructured) bool) *unstructured.Unstructured {
	t.Helper()
	deadline := time.After(timeout)
	var last any
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("the watch for %s ended; last seen %v", what, last)
			}
			obj, isObj := ev.Object.(*unstructured.Unstructured)
			if !isObj {
				continue
			}
			last = obj.Object["status"]
			if pred(obj) {
				return obj
			}
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s; last seen %v", timeout, what, last)
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		}
	}
}

func conditionIs(obj *unstructured.Unstructured, typ, status, reason string) bool {
	c := condition(obj, typ)
	return c != nil && c["status"] == status && c["reason"] == reason
}

// One operator, four resources, every state a GitOps tool meets: running,
// SUCCESSFUL, Degraded after the verdict and recovered, suspended, awaiting
// approval, retrying, FAILED (RegenerationRequired) and escalated to a person.
func TestGitOpsStatus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-gitops")
	kubeOperator(t, ctx)

	watchOf := func(name string) watch.Interface {
		w, err := dyn.Resource(p4dGVR).Namespace(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		if err != nil {
			t.Fatalf("watch %s: %v", name, err)
		}
		t.Cleanup(w.Stop)
		return w
	}
	webWatch, badWatch := watchOf("web"), watchOf("bad")

	createP4D(t, ctx, kubeP4D(t, ns, "web", "0.1.0", map[string]any{"replicaCount": 1}))
	createP4D(t, ctx, approvalP4D(t, ns, "prod", map[string]any{"replicaCount": 1}))
	bad := kubeP4D(t, ns, "bad", "0.1.0", map[string]any{"replicaCount": 1})
	bad.Object["spec"].(map[string]any)["image"].(map[string]any)["tag"] = "missing-" + ns
	bad.Object["spec"].(map[string]any)["rollout"] = map[string]any{"retries": int64(1)}
	createP4D(t, ctx, bad)
	refused := kubeP4D(t, ns, "refused", "0.1.0", nil)
	refused.Object["spec"].(map[string]any)["target"] = map[string]any{"namespace": "kube-system"}
	createP4D(t, ctx, refused)

	// Running: the first status the operator writes.
	obj := watchUntil(t, ctx, webWatch, "web running", time.Minute, func(o *unstructured.Unstructured) bool {
		return conditionIs(o, "Reconciling", "True", "Progressing")
	})
	checkGitOps(t, obj, gitopsState{"running", status.InProgressStatus, "Progressing", "Ready"})

	obj = waitVerdict(t, ctx, ns, "web", "SUCCESSFUL", 2*time.Minute)
	obj = waitCondition(t, ctx, ns, "web", "Ready", "True", "Succeeded", 30*time.Second)
	checkGitOps(t, obj, gitopsState{"successful", status.CurrentStatus, "Healthy", "Ready"})

	// Retrying, then FAILED: the Docker stage's image is missing, one retry.
	obj = watchUntil(t, ctx, badWatch, "bad retrying", 2*time.Minute, func(o *unstructured.Unstructured) bool {
		return conditionIs(o, "Reconciling", "True", "Retrying")
	})
	checkGitOps(t, obj, gitopsState{"retrying", status.InProgressStatus, "Progressing", "Ready"})
	waitVerdict(t, ctx, ns, "bad", "FAILED", 2*time.Minute)
	obj = waitCondition(t, ctx, ns, "bad", "Stalled", "True", "RegenerationRequired", 30*time.Second)
	checkGitOps(t, obj, gitopsState{"failed", status.FailedStatus, "Degraded", "Stalled"})

	obj = expectEscalated(t, ctx, ns, "refused", "TargetNotAllowed")
	checkGitOps(t, obj, gitopsState{"escalated", status.FailedStatus, "Degraded", "Stalled"})

	obj = waitAwaiting(t, ctx, ns, "prod", 1)
	checkGitOps(t, obj, gitopsState{"awaiting-approval", status.InProgressStatus, "Suspended", "AwaitingApproval"})

	// Degraded after the verdict: a pod stops being ready; then it recovers.
	pods, err := podsWithLabel(ctx, ns, "app.kubernetes.io/instance=web")
	if err != nil || len(pods) != 1 {
		t.Fatalf("the release's pods: %v, %v", pods, err)
	}
	setPodReady(t, ctx, ns, pods[0].Name, false)
	obj = waitCondition(t, ctx, ns, "web", "Stalled", "True", "Degraded", time.Minute)
	checkGitOps(t, obj, gitopsState{"degraded", status.FailedStatus, "Degraded", "Stalled"})
	setPodReady(t, ctx, ns, pods[0].Name, true)
	obj = waitCondition(t, ctx, ns, "web", "Ready", "True", "Succeeded", time.Minute)
	if c := condition(obj, "Stalled"); c != nil {
		t.Errorf("recovered, Stalled is still there: %v", c)
	}
	if res, err := status.Compute(obj); err != nil || res.Status != status.CurrentStatus {
		t.Errorf("recovered: kstatus %v (%v), want Current", res, err)
	}

	// Suspended: nothing runs; not Current (the generation is not deployed).
	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "web", "application/merge-patch+json",
		[]byte(`{"spec":{"suspend":true}}`), metav1.PatchOptions{}); err != nil {
		t.Fatalf("suspend web: %v", err)
	}
	obj = waitCondition(t, ctx, ns, "web", "Reconciling", "False", "Suspended", time.Minute)
	checkGitOps(t, obj, gitopsState{"suspended", status.InProgressStatus, "Suspended", "Ready"})
}
