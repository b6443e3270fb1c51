package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// The Logs gate reads the release's pod logs since the rollout began. KWOK
// serves a fake container's log from a file in the kubelet's CRI format
// (every line timestamped), honouring sinceTime as the kubelet does: a line
// written before the rollout began is not read.
//
// A test gives the release's pods their own log lines with a namespaced KWOK
// Logs object per pod (KWOK matches it by the pod's name; a namespaced
// ClusterLogs would compete at random with the cluster's default one). The
// pods' names are known only once they exist, and the gate may read them as
// soon as they are ready, so they start held back (phase4.io/kwok-behaviour:
// pending, which no KWOK stage moves on), get their Logs, and are let go.

const panicLine = "panic: runtime error: invalid memory address or nil pointer dereference"

// criLogAt is criLog with the lines' time given.
func criLogAt(at time.Time, lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%s stdout F %s\n", at.UTC().Format(time.RFC3339Nano), l)
	}
	return b.String()
}

// logsP4D is the webapp chart (two pods, container "web") with spec.validation.logs
// set to logs (none when nil), its pods held back when hold is set.
func logsP4D(t testing.TB, ns, name string, hold bool, logs map[string]any) *unstructured.Unstructured {
	values := map[string]any{}
	if hold {
		values["podLabels"] = map[string]any{"phase4.io/kwok-behaviour": "pending"}
	}
	obj := kubeP4D(t, ns, name, "0.1.0", values)
	if logs != nil {
		obj.Object["spec"].(map[string]any)["validation"] = map[string]any{"logs": logs}
	}
	return obj
}

// giveLogs waits for the release's two held pods, gives each a log file
// (container web) holding the lines old, written an hour before the rollout
// began, then the lines now, written now (after the rollout began: its pods
// exist), and lets them start. It returns their names.
func giveLogs(t testing.TB, ctx context.Context, ns, release string, old []string, now ...string) []string {
	t.Helper()
	selector := "app.kubernetes.io/instance=" + release
	var names []string
	eventually(t, 2*time.Minute, "the two pods of "+release+" created", func() (bool, string, error) {
		pods, err := podsWithLabel(ctx, ns, selector)
		names = names[:0]
		for _, p := range pods {
			names = append(names, p.Name)
		}
		return len(names) == 2, strings.Join(names, " "), err
	})
	content := criLogAt(time.Now().Add(-time.Hour), old...) + criLog(now...)
	file := filepath.Join(t.TempDir(), release+".log")
	writeFile(t, file, content)
	for _, pod := range names {
		logs := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs",
			"metadata": map[string]any{"name": pod, "namespace": ns},
			"spec": map[string]any{"logs": []any{map[string]any{
				"containers": []any{"web"}, "logsFile": file, "follow": false}}},
		}}
		if _, err := dyn.Resource(logsGVR).Namespace(ns).Create(ctx, logs, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create KWOK Logs for pod %s: %v", pod, err)
		}
	}
	// KWOK must serve the file before the pods start, or the gate could read
	// the default log. KWOK learns of Logs objects through a watch, and caches
	// the list it builds under the watch's last resource version
	// (sigs.k8s.io/kwok pkg/config/resources cache.go): a log request between
	// the watch event and the informer's store taking it in caches the old list
	// until the next event. So read each pod's log back (a held pod has no
	// container status, so the API server asks KWOK) and, while it is not the
	// file's, touch the Logs object: a new event, a new list.
	last := strings.TrimSpace(content)
	last = last[strings.LastIndex(last, " F ")+3:]
	for _, pod := range names {
		touches := 0
		eventually(t, time.Minute, "KWOK to serve pod "+pod+" the test's log", func() (bool, string, error) {
			raw, err := kube.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: "web"}).DoRaw(ctx)
			if err == nil && strings.Contains(string(raw), last) {
				return true, "", nil
			}
			touches++
			patch := fmt.Sprintf(`{"metadata":{"annotations":{"phase4.io/e2e-touch":"%d"}}}`, touches)
			if _, perr := dyn.Resource(logsGVR).Namespace(ns).Patch(ctx, pod, types.MergePatchType,
				[]byte(patch), metav1.PatchOptions{}); perr != nil {
				return false, "", perr
			}
			return false, fmt.Sprintf("log %q, error %v", raw, err), nil
		})
	}
	// Let them go: without the label, KWOK's phase4-pod-ready stage starts them.
	for _, pod := range names {
		if _, err := kube.CoreV1().Pods(ns).Patch(ctx, pod, types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"phase4.io/kwok-behaviour":null}}}`), metav1.PatchOptions{}); err != nil {
			t.Fatalf("let pod %s start: %v", pod, err)
		}
	}
	return names
}

// waitLogsGate waits until the Logs gate has status and reason, and returns the object.
func waitLogsGate(t testing.TB, ctx context.Context, ns, name, status, reason string) *unstructured.Unstructured {
	t.Helper()
	var obj *unstructured.Unstructured
	eventually(t, 3*time.Minute, fmt.Sprintf("%s/%s Logs gate %s (%s)", ns, name, status, reason), func() (bool, string, error) {
		var err error
		if obj, err = getP4D(ctx, ns, name); err != nil {
			return false, "", err
		}
		g := validationGate(obj, "Logs")
		return g != nil && g["status"] == status && g["reason"] == reason,
			fmt.Sprint(g, " ", condition(obj, "KubernetesReady")), nil
	})
	return obj
}

// expectClean checks a passed Logs gate and the verdict that follows it.
func expectClean(t testing.TB, ctx context.Context, ns, name string, contains ...string) {
	t.Helper()
	obj := waitLogsGate(t, ctx, ns, name, "True", "LogsClean")
	msg := fmt.Sprint(validationGate(obj, "Logs")["message"])
	for _, want := range contains {
		if !strings.Contains(msg, want) {
			t.Errorf("%s: Logs gate message lacks %q: %q", name, want, msg)
		}
	}
	obj = waitCondition(t, ctx, ns, name, "Validated", "True", "Validated", time.Minute)
	if v, _, _ := unstructured.NestedString(obj.Object, "status", "verdict"); v != "SUCCESSFUL" {
		t.Errorf("%s: status.verdict = %q, want SUCCESSFUL", name, v)
	}
	if c := condition(obj, "Ready"); c == nil || c["status"] != "True" {
		t.Errorf("%s: Ready = %v, want True", name, c)
	}
}

func TestValidationLogsGate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	kubeOperator(t, ctx)
	// The cases run side by side; the group ends when all of them have.
	t.Run("group", func(t *testing.T) { logsGateCases(t, ctx) })
}

func logsGateCases(t *testing.T, ctx context.Context) {
	// A panic logged since the rollout began fails the gate, quoting the line
	// with its pod and container; with no retry left, the verdict is FAILED.
	t.Run("PanicFailsTheGate", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, ctx, "e2e-logs-panic")
		createP4D(t, ctx, logsP4D(t, ns, "web", true, nil))
		pods := giveLogs(t, ctx, ns, "web", nil, "starting on :8080", panicLine, "goroutine 1 [running]:")

		obj := waitLogsGate(t, ctx, ns, "web", "False", "CriticalLogLines")
		g := validationGate(obj, "Logs")
		msg := fmt.Sprint(g["message"])
		if !strings.HasPrefix(msg, "2 critical line(s) in the logs since ") {
			t.Errorf("Logs gate message %q, want it to count 2 critical lines", msg)
		}
		for _, pod := range pods {
			if want := fmt.Sprintf("pod %s container web: %q", pod, panicLine); !strings.Contains(msg, want) {
				t.Errorf("Logs gate message lacks %s: %q", want, msg)
			}
		}
		obj = waitCondition(t, ctx, ns, "web", "Validated", "False", "CriticalLogLines", time.Minute)
		if c := condition(obj, "Validated"); !strings.Contains(fmt.Sprint(c["message"]), panicLine) {
			t.Errorf("Validated message lacks the line: %v", c["message"])
		}
		obj = waitCondition(t, ctx, ns, "web", "Stalled", "True", "RegenerationRequired", time.Minute)
		if c := condition(obj, "Ready"); c == nil || c["status"] != "False" {
			t.Errorf("Ready = %v, want False", c)
		}
		eventually(t, time.Minute, "status.verdict FAILED with the failure's reason", func() (bool, string, error) {
			o, err := getP4D(ctx, ns, "web")
			if err != nil {
				return false, "", err
			}
			v, _, _ := unstructured.NestedString(o.Object, "status", "verdict")
			f, _, _ := unstructured.NestedMap(o.Object, "status", "report", "failure")
			return v == "FAILED" && f["reason"] == "CriticalLogLines" && f["gate"] == "Logs" &&
				strings.Contains(fmt.Sprint(f["message"]), panicLine), fmt.Sprint(v, " ", f), nil
		})
		waitEvent(t, ctx, ns, "web", "Warning", "CriticalLogLines", "critical line(s)")
	})

	// The same lines pass when an allowPatterns entry excuses them.
	t.Run("AllowPatternExcusesTheLine", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, ctx, "e2e-logs-allow")
		createP4D(t, ctx, logsP4D(t, ns, "web", true, map[string]any{
			"allowPatterns": []any{`^panic: runtime error: invalid memory address`}}))
		giveLogs(t, ctx, ns, "web", nil, "starting on :8080", panicLine, "goroutine 1 [running]:")
		expectClean(t, ctx, ns, "web", "2 container(s) of 2 pod(s) logged no critical line since ",
			"2 line(s) excused by allowPatterns")
	})

	// A panic logged before the rollout began is not this rollout's: it is
	// not read (sinceTime), and the lines since then are clean.
	t.Run("PanicBeforeTheRolloutIsNotRead", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, ctx, "e2e-logs-old")
		createP4D(t, ctx, logsP4D(t, ns, "web", true, nil))
		giveLogs(t, ctx, ns, "web", []string{panicLine}, "starting on :8080", "ready")
		expectClean(t, ctx, ns, "web", "2 container(s) of 2 pod(s) logged no critical line since ")
	})

	// The cluster's default logs hold no critical line: the gate passes.
	t.Run("DefaultLogsPass", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, ctx, "e2e-logs-default")
		createP4D(t, ctx, logsP4D(t, ns, "web", false, nil))
		expectClean(t, ctx, ns, "web", "2 container(s) of 2 pod(s) logged no critical line since ")
	})

	// A pattern that does not compile fails the gate naming it.
	t.Run("InvalidPatternIsNamed", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, ctx, "e2e-logs-bad")
		createP4D(t, ctx, logsP4D(t, ns, "web", false, map[string]any{
			"criticalPatterns": []any{"FATAL", "panic:("}}))
		obj := waitLogsGate(t, ctx, ns, "web", "False", "InvalidLogPattern")
		if msg := fmt.Sprint(validationGate(obj, "Logs")["message"]); !strings.Contains(msg,
			`criticalPatterns[1] "panic:(" is not a valid POSIX extended regular expression`) {
			t.Errorf("Logs gate message %q, want it to name the pattern", msg)
		}
	})

	// The logs are read as the resource's identity. A ServiceAccount that may
	// deploy the chart and list its pods but not read their logs: with
	// spec.validation.logs declared, the gate stalls with Forbidden, naming
	// the account and what it lacks; with the gate only on by default, it
	// says it could not check (LogsNotReadable) and the verdict follows.
	t.Run("ForbiddenNamesTheIdentity", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, ctx, "e2e-logs-rbac")
		user := account(t, ctx, ns, "deployer", append([]rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}, deployerRules...))
		want := user + " may not read the release's pod logs (get pods/log in namespace " + ns + ")"
		obj := logsP4D(t, ns, "web", false, map[string]any{})
		obj.Object["spec"].(map[string]any)["serviceAccountName"] = "deployer"
		createP4D(t, ctx, obj)
		quiet := logsP4D(t, ns, "quiet", false, nil)
		quiet.Object["spec"].(map[string]any)["serviceAccountName"] = "deployer"
		createP4D(t, ctx, quiet)

		obj = waitLogsGate(t, ctx, ns, "web", "False", "Forbidden")
		if msg := fmt.Sprint(validationGate(obj, "Logs")["message"]); !strings.Contains(msg, want) {
			t.Errorf("Logs gate message lacks %q: %q", want, msg)
		}
		expectEscalated(t, ctx, ns, "web", "Forbidden")

		obj = waitLogsGate(t, ctx, ns, "quiet", "True", "LogsNotReadable")
		if msg := fmt.Sprint(validationGate(obj, "Logs")["message"]); !strings.Contains(msg, want) ||
			!strings.Contains(msg, "declare spec.validation.logs") {
			t.Errorf("quiet: Logs gate message %q, want it to say who may not read the logs and how to require the check", msg)
		}
		waitVerdict(t, ctx, ns, "quiet", "SUCCESSFUL", time.Minute)
	})

	// Turned off, the gate is shown as not required.
	t.Run("DisabledIsNotRequired", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, ctx, "e2e-logs-off")
		createP4D(t, ctx, logsP4D(t, ns, "web", false, map[string]any{"enabled": false}))
		obj := waitLogsGate(t, ctx, ns, "web", "True", "NotRequired")
		if msg := fmt.Sprint(validationGate(obj, "Logs")["message"]); !strings.Contains(msg, "turned off") {
			t.Errorf("Logs gate message %q, want it to say the check is turned off", msg)
		}
	})
}
