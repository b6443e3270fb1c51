package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// statusWrite is one write of a Phase4Deployment's status seen through a
// watch: the status as written and when it was seen.
type statusWrite struct {
	at     time.Time
	rv     string
	status map[string]any
}

// shownView is what a reader sees of a status: the columns of `kubectl get
// p4d -o wide` (stage, verdict, Ready, approval, digest, Ready's message) and
// every condition's type, status, reason and message (`kubectl describe`).
func shownView(st map[string]any) string {
	obj := &unstructured.Unstructured{Object: map[string]any{"status": st}}
	stage, _, _ := unstructured.NestedString(st, "stage")
	verdict, _, _ := unstructured.NestedString(st, "verdict")
	digest, _, _ := unstructured.NestedString(st, "image", "digest")
	ready, approval := condition(obj, "Ready"), condition(obj, "AwaitingApproval")
	lines := []string{fmt.Sprint("columns: ", stage, " | ", verdict, " | ", ready["status"], " | ",
		approval["reason"], " | ", digest, " | ", ready["message"])}
	conds, _, _ := unstructured.NestedSlice(st, "conditions")
	var cs []string
	for _, c := range conds {
		m, _ := c.(map[string]any)
		cs = append(cs, fmt.Sprintf("%v=%v/%v: %v", m["type"], m["status"], m["reason"], m["message"]))
	}
	sort.Strings(cs)
	return strings.Join(append(lines, cs...), "\n  ")
}

// defaultLine is what a status shows in the default columns of kubectl get
// p4d (the CRD's printer columns without priority; IMAGE and AGE do not come
// from the status).
func defaultLine(st map[string]any) string {
	obj := &unstructured.Unstructured{Object: map[string]any{"status": st}}
	stage, _, _ := unstructured.NestedString(st, "stage")
	verdict, _, _ := unstructured.NestedString(st, "verdict")
	ready := condition(obj, "Ready")
	return fmt.Sprint(stage, " | ", verdict, " | ", ready["status"], " | ", ready["message"])
}

// transitions lists what changed from one status to the next that is a
// transition: a gate's or a condition's status or reason (a gate not yet
// listed counts as Unknown/Checking: not started), the stage or the verdict.
// A gate's message, the health counts and the like are progress, not
// transitions.
func transitions(prev, next map[string]any) []string {
	var out []string
	pick := func(st map[string]any, list, key string, gates bool) map[string]string {
		m := map[string]string{}
		items, _, _ := unstructured.NestedSlice(st, list)
		for _, it := range items {
			g, _ := it.(map[string]any)
			k := fmt.Sprint(g[key])
			if gates {
				k = fmt.Sprint(g["stage"], "/", g["name"])
			}
			v := fmt.Sprint(g["status"], "/", g["reason"])
			if gates && v == "Unknown/Checking" {
				continue
			}
			m[k] = v
		}
		return m
	}
	diff := func(what string, a, b map[string]string) {
		for k, v := range b {
			if a[k] != v {
				out = append(out, fmt.Sprintf("%s %s %s -> %s", what, k, a[k], v))
			}
		}
		for k, v := range a {
			if _, ok := b[k]; !ok {
				out = append(out, fmt.Sprintf("%s %s %s -> (none)", what, k, v))
			}
		}
	}
	diff("gate", pick(prev, "gates", "", true), pick(next, "gates", "", true))
	diff("condition", pick(prev, "conditions", "type", false), pick(next, "conditions", "type", false))
	for _, k := range []string{"stage", "verdict"} {
		a, _, _ := unstructured.NestedString(prev, k)
		b, _, _ := unstructured.NestedString(next, k)
		if a != b {
			out = append(out, fmt.Sprintf("%s %s -> %s", k, a, b))
		}
	}
	sort.Strings(out)
	return out
}

// changedPaths names the top-level status members (and, for gates and
// conditions, the entries) that differ between two statuses, to say what a
// write carried when the test fails.
func changedPaths(prev, next map[string]any) string {
	var out []string
	for k := range merged(prev, next) {
		if reflect.DeepEqual(prev[k], next[k]) {
			continue
		}
		if k == "gates" || k == "conditions" {
			key := "type"
			if k == "gates" {
				key = "name"
			}
			a, _ := prev[k].([]any)
			b, _ := next[k].([]any)
			idx := map[string]any{}
			for _, it := range a {
				m, _ := it.(map[string]any)
				idx[fmt.Sprint(m["stage"], m[key])] = m
			}
			for _, it := range b {
				m, _ := it.(map[string]any)
				if !reflect.DeepEqual(idx[fmt.Sprint(m["stage"], m[key])], m) {
					out = append(out, fmt.Sprintf("%s[%v%v]", k, m["stage"], m[key]))
				}
			}
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func merged(a, b map[string]any) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

// progressRefresh is how long after the write before it a write that
// carries no transition is a refresh of a long wait's progress (the
// operator's --status-progress-interval default, less a margin), not noise.
const progressRefresh = 9 * time.Second

// One generation's status writes, seen from outside through a watch, for the
// sample (the webapp chart with a health check and the logs checked), on
// create and after a spec change: at most one write per transition (a gate
// or a condition changing status or reason, a new stage, the verdict) plus
// the generation's first status, and no write that leaves what `kubectl get
// p4d` and `kubectl describe` show of it (the columns, every condition) as it
// was. Issue 19: `kubectl get p4d -w` printed ~14 lines a generation of
// which most repeated the one before.
func TestStatusWritesPerGeneration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-writes")
	var hits atomic.Int64
	serveBehindService(t, ctx, ns, "health", healthHandler(&hits))
	kubeOperator(t, ctx)

	w, err := dyn.Resource(p4dGVR).Namespace(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=shop"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var mu sync.Mutex
	var writes []statusWrite
	go func() {
		var last map[string]any
		for ev := range w.ResultChan() {
			obj, ok := ev.Object.(*unstructured.Unstructured)
			if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
				continue
			}
			st, _, _ := unstructured.NestedMap(obj.Object, "status")
			if st == nil || reflect.DeepEqual(st, last) {
				continue // a write of metadata or spec (the finalizer, the spec change)
			}
			last = st
			mu.Lock()
			writes = append(writes, statusWrite{at: time.Now(), rv: obj.GetResourceVersion(), status: st})
			mu.Unlock()
		}
	}()

	obj := withValidation(t, ns, "shop", 2, map[string]any{"http": []any{
		map[string]any{"name": "health", "service": "health", "port": 80, "path": "/healthz", "interval": "500ms"}}})
	createP4D(t, ctx, obj)
	waitVerdict(t, ctx, ns, "shop", "SUCCESSFUL", 3*time.Minute)
	patch := []byte(`{"spec":{"chart":{"values":{"replicaCount":2}}}}`)
	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "shop", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "generation 2 SUCCESSFUL", func() (bool, string, error) {
		o, err := getP4D(ctx, ns, "shop")
		if err != nil {
			return false, "", err
		}
		v, _, _ := unstructured.NestedString(o.Object, "status", "verdict")
		gen, _, _ := unstructured.NestedInt64(o.Object, "status", "report", "generation")
		return v == "SUCCESSFUL" && gen == 2, fmt.Sprint(v, " ", gen), nil
	})
	// The verdict's write is the last of a generation; anything after it would be a write
	// the generation did not need, so the watch runs on a little (a poll cannot wait for
	// the absence of a write).
	time.Sleep(2 * time.Second)
	mu.Lock()
	seen := append([]statusWrite(nil), writes...)
	mu.Unlock()

	for gen := int64(1); gen <= 2; gen++ {
		var prev map[string]any
		var prevAt time.Time
		count, moves, spared := 0, 0, 0 // spared: the first status and progress refreshes
		var report []string
		for i, wr := range seen {
			og, _, _ := unstructured.NestedInt64(wr.status, "observedGeneration")
			if og != gen {
				if og < gen {
					prev, prevAt = wr.status, wr.at
				}
				continue
			}
			count++
			tr := transitions(prev, wr.status)
			pg, _, _ := unstructured.NestedInt64(prev, "observedGeneration")
			first := prev == nil || pg != gen // the generation's first status: at once, whatever it holds
			after := time.Duration(0)
			if !prevAt.IsZero() {
				after = wr.at.Sub(prevAt).Round(time.Millisecond)
			}
			refresh := !first && after >= progressRefresh
			b, _ := json.Marshal(tr)
			report = append(report, fmt.Sprintf("write %d (rv %s, +%v, first %v): %s\n    carried: %s\n    shows: %s",
				i, wr.rv, after, first, b, changedPaths(prev, wr.status), shownView(wr.status)))
			if first || refresh {
				spared++
			} else {
				moves += len(tr)
				if len(tr) == 0 {
					t.Errorf("generation %d: write %d (rv %s) carries no transition (only %s)", gen, i, wr.rv, changedPaths(prev, wr.status))
				}
				if defaultLine(prev) == defaultLine(wr.status) {
					t.Errorf("generation %d: write %d (rv %s) prints the line the write before printed in kubectl get p4d -w (%s); it carried only %s",
						gen, i, wr.rv, defaultLine(wr.status), changedPaths(prev, wr.status))
				}
			}
			prev, prevAt = wr.status, wr.at
		}
		t.Logf("generation %d: %d status writes (%d the first status or a progress refresh), %d transitions:\n  %s",
			gen, count, spared, moves, strings.Join(report, "\n  "))
		if count == 0 {
			t.Errorf("generation %d: no status write seen", gen)
		} else if count-spared > moves {
			t.Errorf("generation %d: %d status writes for %d transitions (at most one each, plus the first status)", gen, count, moves)
		}
	}
}
