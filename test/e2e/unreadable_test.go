package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// nestedValues is {"a":{"a":...{"a":"deep"}...}}, depth objects deep.
func nestedValues(depth int) map[string]any {
	var v any = "deep"
	for i := 0; i < depth; i++ {
		v = map[string]any{"a": v}
	}
	return v.(map[string]any)
}

// expectUnreadable waits for the status that says the operator cannot read
// name, with its Warning Event, and returns the Stalled condition.
func expectUnreadable(t testing.TB, ctx context.Context, ns, name string, gen int64) map[string]any {
	t.Helper()
	obj := waitCondition(t, ctx, ns, name, "Stalled", "True", "ResourceUnreadable", time.Minute)
	stalled := condition(obj, "Stalled")
	for _, typ := range []string{"Ready", "Reconciling"} {
		if c := condition(obj, typ); c == nil || c["status"] != "False" || c["reason"] != "ResourceUnreadable" {
			t.Errorf("%s: %s = %v, want False/ResourceUnreadable", name, typ, c)
		}
	}
	msg := fmt.Sprint(stalled["message"])
	for _, want := range []string{fmt.Sprintf("Generation %d:", gen), "cannot read this resource",
		"spec.chart.values nests deeper than 1000 levels", "fix it and apply it again"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%s: Stalled message lacks %q: %q", name, want, msg)
		}
	}
	if observed, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration"); observed != gen {
		t.Errorf("%s: status.observedGeneration = %d, want %d", name, observed, gen)
	}
	waitEvent(t, ctx, ns, name, "Warning", "ResourceUnreadable", "nests deeper than 1000 levels")
	return stalled
}

// unreadableEvents sums the count of the Warning Events saying name cannot be read.
func unreadableEvents(t testing.TB, ctx context.Context, ns, name string) int32 {
	t.Helper()
	evs, err := events(ctx, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	var n int32
	for _, e := range evs {
		if e.Type == "Warning" && e.Reason == "ResourceUnreadable" {
			n += max(e.Count, 1)
		}
	}
	return n
}

func expectReady(t testing.TB, o *operator) {
	t.Helper()
	eventually(t, 30*time.Second, "/readyz ok", func() (bool, string, error) {
		code, body, err := httpGet(o.probes + "/readyz")
		return err == nil && code == 200, fmt.Sprint(code, " ", body, err), nil
	})
}

func unparsable(o *operator, series string) int {
	v, _ := strconv.Atoi(metric(scrape(o), series+`{resource="phase4deployments"}`))
	return v
}

// One bad object is one bad object. A Phase4Deployment whose values nest
// 1,100 levels deep (the API server takes it; cJSON reads 1,000) gets a status
// saying it cannot be read and a Warning Event, while a good one next to it
// deploys and /readyz is ready; across an operator restart too, with no
// second Event, and a resource created after the restart deploys. Fixed, the
// normal path takes over; deleted, nothing is kept. Values 100 levels deep
// can be read, and are refused by the Helm stage with the depth and where.
func TestOneBadObjectIsOneBadObject(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-unreadable")
	op := kubeOperator(t, ctx)

	createP4D(t, ctx, kubeP4D(t, ns, "deep", "0.1.0", nestedValues(1100)))
	createP4D(t, ctx, kubeP4D(t, ns, "good", "0.1.0", nil))
	stalled := expectUnreadable(t, ctx, ns, "deep", 1)
	waitKubeReady(t, ctx, ns, "good", 1)
	expectReady(t, op)
	if n := unparsable(op, "phase4_informer_unparsable_total"); n < 1 {
		t.Errorf("phase4_informer_unparsable_total = %d, want >= 1", n)
	}
	if n := unparsable(op, "phase4_informer_unparsable_objects"); n != 1 {
		t.Errorf("phase4_informer_unparsable_objects = %d, want 1", n)
	}
	if log := op.log(); !strings.Contains(log, "skipped an object that cannot be parsed") ||
		!strings.Contains(log, "name=deep") || strings.Contains(log, `"a":{"a"`) {
		t.Errorf("the log does not name the skipped object (or shows its content):\n%s", log)
	}

	// Restart: the list holds the deep object now. The cache syncs all the same.
	warnings := unreadableEvents(t, ctx, ns, "deep")
	_ = op.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-op.done:
		if err != nil {
			t.Fatalf("operator exited with %v after SIGTERM", err)
		}
	case <-ctx.Done():
		t.Fatal("operator did not exit")
	}
	op = kubeOperator(t, ctx)
	expectReady(t, op)
	if strings.Contains(op.log(), "list failed") {
		t.Errorf("the list failed after the restart:\n%s", op.log())
	}
	createP4D(t, ctx, kubeP4D(t, ns, "after", "0.1.0", nil))
	waitKubeReady(t, ctx, ns, "after", 1)
	waitKubeReady(t, ctx, ns, "good", 1)
	if n := unparsable(op, "phase4_informer_unparsable_objects"); n != 1 {
		t.Errorf("after the restart, phase4_informer_unparsable_objects = %d, want 1", n)
	}
	// The status already said so: nothing written again, no second Warning.
	again := expectUnreadable(t, ctx, ns, "deep", 1)
	if again["lastTransitionTime"] != stalled["lastTransitionTime"] {
		t.Errorf("Stalled changed across the restart: %v, then %v", stalled, again)
	}
	if n := unreadableEvents(t, ctx, ns, "deep"); n != warnings {
		t.Errorf("%d ResourceUnreadable Warnings after the restart, %d before", n, warnings)
	}

	// Values 100 levels deep are read, and refused by the Helm stage.
	createP4D(t, ctx, kubeP4D(t, ns, "moderate", "0.1.0", nestedValues(100)))
	expectHelmFailure(t, ctx, ns, "moderate", "ValuesValid", "ValuesSourceInvalid", "EscalatedToUser",
		"spec.chart.values nest deeper than 64 levels, at .a.a.a", "flatten them")
	waitEvent(t, ctx, ns, "moderate", "Warning", "ValuesSourceInvalid", "nest deeper than 64 levels")

	// Fixed, the normal path takes over.
	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "deep", types.MergePatchType,
		[]byte(`{"spec":{"chart":{"values":null}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitKubeReady(t, ctx, ns, "deep", 2)
	if c := condition(waitReconciled(t, ctx, ns, "deep", 2), "Stalled"); c != nil && c["reason"] == "ResourceUnreadable" {
		t.Errorf("Stalled still says ResourceUnreadable once fixed: %v", c)
	}

	// Another deep one, deleted: nothing of it is kept.
	createP4D(t, ctx, kubeP4D(t, ns, "deep2", "0.1.0", nestedValues(1100)))
	expectUnreadable(t, ctx, ns, "deep2", 1)
	if err := dyn.Resource(p4dGVR).Namespace(ns).Delete(ctx, "deep2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "nothing kept of the deleted object", func() (bool, string, error) {
		n := unparsable(op, "phase4_informer_unparsable_objects")
		return n == 0, fmt.Sprintf("phase4_informer_unparsable_objects %d", n), nil
	})
}
