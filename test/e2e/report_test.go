package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// `phase4-operator report` and `kubectl phase4 report`, end to end: the
// report of a resource whose status the operator writes, and of one whose
// status the test writes itself through the status subresource.

// reportRun is what one run of the report command printed, and its exit code.
type reportRun struct {
	stdout, stderr string
	code           int
}

// report runs build/phase4-operator (or, with plugin, `kubectl phase4` through
// a kubectl-phase4 symlink on PATH) with args and the extra environment.
func report(t testing.TB, ctx context.Context, plugin bool, env []string, args ...string) reportRun {
	t.Helper()
	bin := filepath.Join(repoRoot(), "build", "phase4-operator")
	if p := os.Getenv("P4_OPERATOR"); p != "" {
		bin = p
	}
	var cmd *exec.Cmd
	if plugin {
		dir := t.TempDir()
		if err := os.Symlink(bin, filepath.Join(dir, "kubectl-phase4")); err != nil {
			t.Fatal(err)
		}
		cmd = exec.CommandContext(ctx, tool("kubectl"), append([]string{"phase4"}, args...)...)
		env = append(env, "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	} else {
		cmd = exec.CommandContext(ctx, bin, args...)
	}
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return reportRun{stdout.String(), stderr.String(), code}
}

// utf8 asks for the emoji; the tests never depend on the caller's locale.
var utf8 = []string{"LC_ALL=", "LC_CTYPE=", "LANG=C.UTF-8"}

// reportLine is the line of out that starts with prefix (after its indentation), or "".
func reportLine(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " "), prefix) {
			return l
		}
	}
	return ""
}

// noControlBytes fails when out holds a byte a terminal would act on (only '\n' may).
func noControlBytes(t testing.TB, what, out string) {
	t.Helper()
	for i, r := range out {
		if r != '\n' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f)) {
			t.Errorf("%s: control character %U at byte %d:\n%s", what, r, i, out)
			return
		}
	}
}

// The operator passes the Docker stage of a resource; the report (and the same
// report through kubectl's plugin mechanism) shows each Docker gate passed,
// the namespace comes from the kubeconfig's context when -n is not given,
// and what cannot be read is one line on stderr with exit code 1.
func TestReportOfAResourceTheOperatorReconciles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-report")
	dockerOperator(t, ctx)

	createP4D(t, ctx, p4d(ns, "shop", map[string]any{
		"repository": plainHost(t) + "/phase4/multi", "tag": "1.0", "insecure": true}))
	waitCondition(t, ctx, ns, "shop", "DockerReady", "True", "ImageReady", time.Minute)

	direct := report(t, ctx, false, utf8, "report", "shop", "-n", ns)
	plugin := report(t, ctx, true, utf8, "report", "shop", "-n", ns)
	for what, r := range map[string]reportRun{"phase4-operator report": direct, "kubectl phase4 report": plugin} {
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%s: exit %d, stderr %q", what, r.code, r.stderr)
		}
		noControlBytes(t, what, r.stdout)
		if l := reportLine(r.stdout, "Phase4Deployment "); l != "Phase4Deployment "+ns+"/shop: generation 1, observed 1" {
			t.Errorf("%s: header %q\n%s", what, l, r.stdout)
		}
		if l := reportLine(r.stdout, "Docker: "); !strings.HasPrefix(l, "  Docker: ✅ DockerReady True (ImageReady)") {
			t.Errorf("%s: Docker stage line %q\n%s", what, l, r.stdout)
		}
		for gate, reason := range map[string]string{"Built": "ImageExists", "Pushed": "BlobsPresent",
			"Scanned": "NotScanned", "Pullable": "Pullable"} {
			want := fmt.Sprintf("    ✅ Docker/%s: True (%s): ", gate, reason)
			if l := reportLine(r.stdout, "✅ Docker/"+gate+":"); !strings.HasPrefix(l, want) {
				t.Errorf("%s: gate %s line %q, want it to start %q\n%s", what, gate, l, want, r.stdout)
			}
		}
		for _, section := range []string{"Deployment Readiness", "Gates", "Cluster Health Summary", "Verdict", "Next steps"} {
			if !regexp.MustCompile(`(?m)^` + section + `$`).MatchString(r.stdout) {
				t.Errorf("%s: no %q section\n%s", what, section, r.stdout)
			}
		}
	}
	// The Docker lines do not change between the two runs (the Helm stage may, meanwhile).
	for _, gate := range []string{"Built", "Pushed", "Scanned", "Pullable"} {
		if a, b := reportLine(direct.stdout, "✅ Docker/"+gate), reportLine(plugin.stdout, "✅ Docker/"+gate); a != b {
			t.Errorf("Docker/%s: %q directly, %q through kubectl", gate, a, b)
		}
	}

	// Plain ASCII: asked for, or when the locale does not say UTF-8.
	for _, r := range []reportRun{
		report(t, ctx, false, utf8, "report", "shop", "-n", ns, "--no-emoji"),
		report(t, ctx, true, []string{"LC_ALL=C", "LANG=C.UTF-8"}, "report", "shop", "--namespace="+ns),
	} {
		if r.code != 0 || !strings.HasPrefix(reportLine(r.stdout, "[OK] Docker/Built:"), "    [OK] Docker/Built: True (ImageExists): ") {
			t.Errorf("ASCII report: exit %d, stderr %q\n%s", r.code, r.stderr, r.stdout)
		}
		for i := 0; i < len(r.stdout); i++ {
			if r.stdout[i] >= 0x80 {
				t.Errorf("ASCII report has byte %#x at %d", r.stdout[i], i)
				break
			}
		}
	}

	// --exit-code says where the generation stands, as the verdict line does.
	r := report(t, ctx, false, utf8, "report", "shop", "-n", ns, "--exit-code")
	verdict := reportLine(r.stdout, "⏳ in progress:") + reportLine(r.stdout, "❌ stalled:") + reportLine(r.stdout, "❌ FAILED:")
	want := map[bool]int{true: 4, false: 3}[strings.Contains(verdict, "in progress")]
	if verdict == "" || r.code != want {
		t.Errorf("--exit-code: exit %d with verdict line %q, want %d\n%s", r.code, verdict, want, r.stdout)
	}

	// Without -n, the namespace is the kubeconfig context's, as kubectl's is.
	admin, err := clientcmd.LoadFromFile(os.Getenv("KUBECONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	admin.Contexts[admin.CurrentContext].Namespace = ns
	withNS := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*admin, withNS); err != nil {
		t.Fatal(err)
	}
	if r := report(t, ctx, true, append(utf8, "KUBECONFIG="+withNS), "report", "shop"); r.code != 0 ||
		!strings.HasPrefix(reportLine(r.stdout, "Phase4Deployment "), "Phase4Deployment "+ns+"/shop:") {
		t.Errorf("report without -n, context namespace %s: exit %d, stderr %q\n%s", ns, r.code, r.stderr, r.stdout)
	}
	if r := report(t, ctx, false, utf8, "report", "shop", "--kubeconfig", withNS, "-n", "default"); r.code != 1 ||
		r.stderr != "phase4-operator: Phase4Deployment default/shop not found\n" {
		t.Errorf("-n overrides the context's namespace: exit %d, stderr %q", r.code, r.stderr)
	}

	// What cannot be read: one line on stderr, exit 1, nothing on stdout.
	nobody := noRightsKubeconfig(t, ctx, ns, "nobody", admin)
	noCluster := admin.DeepCopy()
	noCluster.Clusters[noCluster.Contexts[noCluster.CurrentContext].Cluster].Server = "https://127.0.0.1:" + freePort(t)
	offline := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*noCluster, offline); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what   string
		args   []string
		stderr string
	}{
		{"not found", []string{"report", "nope", "-n", ns}, "^phase4-operator: Phase4Deployment " + ns + "/nope not found\n$"},
		{"forbidden", []string{"report", "shop", "-n", ns, "--kubeconfig", nobody},
			"^phase4-operator: cannot read Phase4Deployment " + ns + "/shop: .*forbidden.*\n$"},
		{"no cluster", []string{"report", "shop", "-n", ns, "--kubeconfig", offline},
			"^phase4-operator: cannot read Phase4Deployment " + ns + "/shop: .*127\\.0\\.0\\.1.*\n$"},
		{"no kubeconfig", []string{"report", "shop", "--kubeconfig", filepath.Join(t.TempDir(), "none")},
			"^phase4-operator: .*\n$"},
	} {
		for _, plugin := range []bool{false, true} {
			r := report(t, ctx, plugin, utf8, c.args...)
			if r.code != 1 || r.stdout != "" || !regexp.MustCompile(c.stderr).MatchString(r.stderr) {
				t.Errorf("%s (plugin %v): exit %d, stdout %q, stderr %q, want exit 1 and %s", c.what, plugin,
					r.code, r.stdout, r.stderr, c.stderr)
			}
		}
	}
	if r := report(t, ctx, true, utf8); r.code != 2 || !strings.Contains(r.stderr, "kubectl phase4 report NAME") {
		t.Errorf("kubectl phase4 with no command: exit %d, stderr %q", r.code, r.stderr)
	}
}

// noRightsKubeconfig writes a kubeconfig that acts as a new ServiceAccount of
// ns with no permission at all, and returns its path.
func noRightsKubeconfig(t testing.TB, ctx context.Context, ns, name string, admin *clientcmdapi.Config) string {
	t.Helper()
	if out, err := kubectl(ctx, "create", "serviceaccount", name, "-n", ns); err != nil {
		t.Fatalf("create serviceaccount: %v\n%s", err, out)
	}
	token, err := kubectl(ctx, "create", "token", name, "-n", ns, "--duration=1h")
	if err != nil {
		t.Fatalf("create token: %v\n%s", err, token)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: strings.TrimSpace(token)}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: "local", AuthInfo: name}
	cfg.CurrentContext = name
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// A FAILED verdict the test writes itself through the status subresource, with
// no operator running (none is started here, and each test stops its own):
// the report shows the verdict, the run's report and the remediation as the
// next step, with the escape sequences of the text turned harmless; once the
// spec changes, that verdict is of an older generation and no longer counts.
func TestReportOfAStatusWrittenByHand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-report-status")
	createP4D(t, ctx, p4d(ns, "web", map[string]any{"repository": "registry.example.com/shop/web", "tag": "1.0"}))

	const at = "2024-05-01T10:00:00Z"
	cond := func(typ, status, reason, msg string) map[string]any {
		return map[string]any{"type": typ, "status": status, "reason": reason, "message": msg,
			"lastTransitionTime": at, "observedGeneration": 1}
	}
	remediation := "Fix the chart's templates so that helm lint passes, publish a new chart version and set spec.chart.version to it."
	status := map[string]any{"status": map[string]any{
		"observedGeneration": 1,
		"stage":              "Helm",
		"verdict":            "FAILED",
		"readiness": []any{
			map[string]any{"stage": "Helm", "item": "the Docker stage passed", "done": true},
			map[string]any{"stage": "Kubernetes", "item": "the manifest is stored", "done": false},
		},
		"conditions": []any{
			cond("Ready", "False", "LintFailed", "Generation 1: FAILED at the Helm stage"),
			cond("Reconciling", "False", "LintFailed", "Generation 1: no retries left"),
			cond("Stalled", "True", "RegenerationRequired", "Generation 1: change the spec to try again"),
			cond("DockerReady", "True", "ImageReady", "image passed every Docker gate"),
			cond("HelmReady", "False", "LintFailed", "the chart does not lint"),
		},
		"gates": []any{
			map[string]any{"stage": "Docker", "name": "Built", "status": "True", "reason": "ImageExists", "message": "found"},
			map[string]any{"stage": "Docker", "name": "Signed", "status": "True", "reason": "NotRequired", "message": "no key declared"},
			map[string]any{"stage": "Helm", "name": "Lints", "status": "False", "reason": "LintFailed",
				"message": "templates/deployment.yaml:12: \x1b[31munknown\x1b[0m field \"replica\"\x1b]0;pwned\x07"},
		},
		"report": map[string]any{
			"generation": 1, "verdict": "FAILED", "startedAt": at, "finishedAt": "2024-05-01T10:01:12Z",
			"stages": []any{
				map[string]any{"name": "Docker", "result": "Passed", "duration": "12s"},
				map[string]any{"name": "Helm", "result": "Failed", "reason": "LintFailed",
					"startedAt": "2024-05-01T10:00:12Z", "finishedAt": "2024-05-01T10:01:12Z"},
			},
			"artifacts": map[string]any{"image": "registry.example.com/shop/web@sha256:0123"},
			"failure": map[string]any{"stage": "Helm", "gate": "Lints", "reason": "LintFailed",
				"message": "the chart does not lint", "remediation": remediation},
		},
	}}
	patch := func(body map[string]any) {
		t.Helper()
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"patch", "p4d", "web", "-n", ns, "--subresource=status", "--type=merge", "-p", string(b)}
		if out, err := kubectl(ctx, args...); err != nil {
			t.Fatalf("kubectl patch --subresource=status: %v\n%s", err, out)
		}
	}
	patch(status)

	for _, plugin := range []bool{false, true} {
		r := report(t, ctx, plugin, utf8, "report", "web", "-n", ns, "--exit-code")
		if r.code != 3 || r.stderr != "" {
			t.Errorf("plugin %v: FAILED with --exit-code: exit %d (want 3), stderr %q", plugin, r.code, r.stderr)
		}
		noControlBytes(t, "report", r.stdout)
		for _, want := range []string{
			"  ❌ FAILED: generation 1",
			"  report: generation 1, started 2024-05-01T10:00:00Z, finished 2024-05-01T10:01:12Z, took 1m12s",
			"  stage Docker: ✅ Passed, took 12s",
			"  stage Helm: ❌ Failed (LintFailed), took 1m0s",
			"  artifact image: registry.example.com/shop/web@sha256:0123",
			"  failure: Helm/Lints LintFailed: the chart does not lint",
			"  condition Stalled: True (RegenerationRequired): Generation 1: change the spec to try again",
			"  fix: " + remediation,
			"  stalled: Generation 1: change the spec to try again",
			"  Docker: ✅ DockerReady True (ImageReady), took 12s: image passed every Docker gate",
			"    ➖ Docker/Signed: not required: no key declared",
			"  Helm: ❌ HelmReady False (LintFailed), took 1m0s: the chart does not lint",
			"    ❌ Helm/Lints: False (LintFailed): templates/deployment.yaml:12: ?[31munknown?[0m field \"replica\"?]0;pwned?",
			"  ✅ Helm: the Docker stage passed",
			"  ⏳ Kubernetes: the manifest is stored",
			"  Kubernetes: ⏳ not started",
		} {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(r.stdout) {
				t.Errorf("plugin %v: no line %q in:\n%s", plugin, want, r.stdout)
			}
		}
	}
	// Next steps come after the verdict, the remediation first.
	r := report(t, ctx, false, utf8, "report", "web", "-n", ns)
	if r.code != 0 {
		t.Errorf("without --exit-code a FAILED verdict exits %d, want 0", r.code)
	}
	if i, j := strings.Index(r.stdout, "\nNext steps\n  fix: "), strings.Index(r.stdout, "\nVerdict\n"); i < 0 || j < 0 || i < j {
		t.Errorf("the next steps do not follow the verdict with the remediation:\n%s", r.stdout)
	}

	// A new generation: the FAILED verdict is of generation 1, and generation 2 is in progress.
	if _, err := dyn.Resource(p4dGVR).Namespace(ns).Patch(ctx, "web", types.MergePatchType,
		[]byte(`{"spec":{"rollout":{"retries":3}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	r = report(t, ctx, false, utf8, "report", "web", "-n", ns, "--exit-code")
	for _, want := range []string{
		"Phase4Deployment " + ns + "/web: generation 2, observed 1",
		"  ⏳ in progress: generation 2 (the last verdict, FAILED, was for generation 1)",
		"  waiting on: phase4-operator to observe generation 2",
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(r.stdout) {
			t.Errorf("after a spec change: no line %q in:\n%s", want, r.stdout)
		}
	}
	if r.code != 4 {
		t.Errorf("after a spec change: --exit-code %d, want 4 (in progress)", r.code)
	}
}
