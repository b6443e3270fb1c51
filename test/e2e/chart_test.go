package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
)

// canI lists what user may do in namespace ns, as `kubectl auth can-i --list`
// prints it: one "resource verb [name]" line per right (resource with its
// group, e.g. leases.coordination.k8s.io; name only for a rule held to names),
// sorted. Non-resource URLs are left out.
func canI(t *testing.T, ctx context.Context, user, ns string) []string {
	t.Helper()
	out, err := kubectl(ctx, "auth", "can-i", "--list", "--as="+user, "-n", ns)
	if err != nil {
		t.Fatalf("kubectl auth can-i --list --as=%s -n %s: %v\n%s", user, ns, err, out)
	}
	row := regexp.MustCompile(`^(\S*)\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s*$`)
	seen := map[string]bool{}
	for _, line := range strings.Split(out, "\n")[1:] {
		if strings.TrimSpace(line) == "" {
			continue
		}
		m := row.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("kubectl auth can-i --list: a line not understood: %q\n%s", line, out)
		}
		if m[1] == "" { // a non-resource URL
			continue
		}
		names := strings.Fields(m[3])
		if len(names) == 0 {
			names = []string{""}
		}
		for _, verb := range strings.Fields(m[4]) {
			for _, name := range names {
				seen[strings.TrimSpace(m[1]+" "+verb+" "+name)] = true
			}
		}
	}
	rights := make([]string, 0, len(seen))
	for r := range seen {
		rights = append(rights, r)
	}
	sort.Strings(rights)
	return rights
}

// minus is what a holds and b does not.
func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, s := range b {
		in[s] = true
	}
	var d []string
	for _, s := range a {
		if !in[s] {
			d = append(d, s)
		}
	}
	return d
}

// wantRights reads a golden list of rights (testdata/chart-rbac/NAME.txt: one
// "resource verb [name]" line each, # comments).
func wantRights(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "chart-rbac", name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	var rights []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			rights = append(rights, strings.Join(strings.Fields(line), " "))
		}
	}
	sort.Strings(rights)
	return rights
}

// checkRights compares what the operator's ServiceAccount may do in ns (less
// what any ServiceAccount may do there) with the golden lists named.
func checkRights(t *testing.T, ctx context.Context, sa, ns string, golden ...string) {
	t.Helper()
	base := canI(t, ctx, "system:serviceaccount:"+ns+":phase4-e2e-nobody", ns)
	got := minus(canI(t, ctx, sa, ns), base)
	var want []string
	for _, g := range golden {
		want = append(want, wantRights(t, g)...)
	}
	sort.Strings(want)
	if more := minus(got, want); len(more) > 0 {
		t.Errorf("%s may do more in namespace %s than %v lists (widened by accident?):\n  %s",
			sa, ns, golden, strings.Join(more, "\n  "))
	}
	if less := minus(want, got); len(less) > 0 {
		t.Errorf("%s may not do in namespace %s what %v lists (narrowed by accident?):\n  %s",
			sa, ns, golden, strings.Join(less, "\n  "))
	}
}

// The chart installs the operator as a platform team would (helm install into
// a namespace of its own): two replicas come up Ready under the restricted
// security context (the namespace enforces the restricted Pod Security
// Standard), and its ServiceAccount may do exactly what the chart's
// RBAC says (testdata/chart-rbac/), no more and no less, cluster-wide, in a
// tenant's namespace and in its own; with tenancy.defaultServiceAccount the
// rights to write what charts render are gone. helm uninstall leaves only the
// CRD. The operator's pods run on KWOK nodes, which run no code: the image
// need only be named.
func TestChartInstall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ns := newNamespace(t, ctx, "e2e-chart")
	tenant := newNamespace(t, ctx, "e2e-chart-tenant")
	release := ns // unique: its cluster-scoped objects never meet another run's
	chart := filepath.Join(repoRoot(), "charts", "phase4-operator")
	uninstalled := false
	t.Cleanup(func() {
		if !uninstalled {
			_, _ = helm(context.Background(), "uninstall", release, "-n", ns, "--wait")
		}
	})

	// The pods must pass the restricted Pod Security Standard.
	if out, err := kubectl(ctx, "label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted"); err != nil {
		t.Fatalf("label namespace: %v\n%s", err, out)
	}

	out, err := helm(ctx, "install", release, chart, "-n", ns,
		"--set", "image.repository=registry.example.com/phase4/phase4-operator", "--set", "image.tag=e2e",
		"--wait", "--timeout", "2m")
	if err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	for _, want := range []string{"kubectl -n shop get p4d -w", "kubectl -n shop describe p4d web", "kind: Phase4Deployment"} {
		if !strings.Contains(out, want) {
			t.Errorf("helm install's NOTES do not say %q:\n%s", want, out)
		}
	}
	name := release + "-phase4-operator"
	sa := "system:serviceaccount:" + ns + ":" + name

	// Two replicas, both Ready (KWOK marks them so without running the probes;
	// the chart's README says what /readyz means for a follower).
	var d *appsv1.Deployment
	eventually(t, time.Minute, "the operator's Deployment available with 2 replicas", func() (bool, string, error) {
		d, err = kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return d.Status.ReadyReplicas == 2 && d.Status.AvailableReplicas == 2 && d.Status.UpdatedReplicas == 2,
			fmt.Sprintf("ready %d, available %d", d.Status.ReadyReplicas, d.Status.AvailableReplicas), nil
	})
	checkPodSpec(t, ctx, ns, name)

	// The metrics Service selects the pods; nothing optional is rendered.
	if svc, err := kube.CoreV1().Services(ns).Get(ctx, name+"-metrics", metav1.GetOptions{}); err != nil {
		t.Errorf("metrics Service: %v", err)
	} else if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8080 || svc.Spec.Ports[0].TargetPort.String() != "metrics" {
		t.Errorf("metrics Service ports = %+v, want 8080 to the pods' metrics port", svc.Spec.Ports)
	}
	eventually(t, time.Minute, "the metrics Service's endpoints to be both pods", func() (bool, string, error) {
		ready, _, err := readyEndpoints(ctx, ns, name+"-metrics")
		return ready == 2, fmt.Sprintf("%d ready endpoints", ready), err
	})
	if _, err := kube.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a PodDisruptionBudget was installed by default (err %v)", err)
	}

	// RBAC, as `kubectl auth can-i --list` reads it back.
	checkRights(t, ctx, sa, tenant, "cluster", "acts-as-itself")
	checkRights(t, ctx, sa, ns, "cluster", "acts-as-itself", "leader-election")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "secrets", "-A"}, "no"},
		{[]string{"watch", "secrets", "-n", tenant}, "no"},
		{[]string{"create", "clusterroles"}, "no"},
		{[]string{"create", "rolebindings", "-n", tenant}, "no"},
		{[]string{"update", "leases", "-n", tenant}, "no"},
		{[]string{"update", "leases/phase4-operator", "-n", ns}, "yes"},
		{[]string{"update", "leases/another", "-n", ns}, "no"},
		{[]string{"patch", "phase4deployments.phase4.io/status", "-n", tenant}, "yes"},
		{[]string{"impersonate", "serviceaccounts", "-n", tenant}, "yes"},
	} {
		out, _ := kubectl(ctx, append([]string{"auth", "can-i", "--as=" + sa}, c.args...)...)
		// The answer is the last line (a warning may come first).
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if got := strings.TrimSpace(lines[len(lines)-1]); got != c.want {
			t.Errorf("can-i %s as the operator: %q, want %s", strings.Join(c.args, " "), got, c.want)
		}
	}

	// The multi-tenant setting: the operator never acts as itself, and may no
	// longer write what charts render. (And the optional PodDisruptionBudget.)
	out, err = helm(ctx, "upgrade", release, chart, "-n", ns, "--reuse-values",
		"--set", "tenancy.defaultServiceAccount=deployer", "--set", "podDisruptionBudget.enabled=true",
		"--wait", "--timeout", "2m")
	if err != nil {
		t.Fatalf("helm upgrade with tenancy.defaultServiceAccount: %v\n%s", err, out)
	}
	checkRights(t, ctx, sa, tenant, "cluster")
	checkRights(t, ctx, sa, ns, "cluster", "leader-election")
	if pdb, err := kube.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
		t.Errorf("PodDisruptionBudget: %v", err)
	} else if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 || pdb.Spec.Selector == nil ||
		pdb.Spec.Selector.MatchLabels["app.kubernetes.io/instance"] != release {
		t.Errorf("PodDisruptionBudget spec = %+v, want minAvailable 1 over the release's pods", pdb.Spec)
	} else {
		eventually(t, time.Minute, "the PodDisruptionBudget to allow one disruption", func() (bool, string, error) {
			pdb, err := kube.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			return pdb.Status.CurrentHealthy == 2 && pdb.Status.DisruptionsAllowed == 1, fmt.Sprintf("%+v", pdb.Status), nil
		})
	}
	d, err = kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if args := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " "); !strings.Contains(args, "--default-service-account=deployer") {
		t.Errorf("operator args %q, want --default-service-account=deployer", args)
	}

	// helm uninstall removes everything it installed but the CRD (crds/ are
	// never deleted by helm: that would delete every Phase4Deployment).
	if out, err := helm(ctx, "uninstall", release, "-n", ns, "--wait", "--timeout", "2m"); err != nil {
		t.Fatalf("helm uninstall: %v\n%s", err, out)
	}
	uninstalled = true
	selector := "app.kubernetes.io/instance=" + release
	for _, kind := range []string{"deployments,services,serviceaccounts,roles,rolebindings,poddisruptionbudgets,pods", "clusterroles,clusterrolebindings"} {
		args := []string{"get", kind, "-l", selector, "-o", "name"}
		if !strings.Contains(kind, "cluster") {
			args = append(args, "-n", ns)
		}
		eventually(t, time.Minute, "no "+kind+" of the release left", func() (bool, string, error) {
			out, err := kubectl(ctx, args...)
			if err != nil {
				return false, "", fmt.Errorf("%v: %s", err, out)
			}
			return strings.TrimSpace(out) == "", out, nil
		})
	}
	if out, err := kubectl(ctx, "get", "crd", "phase4deployments.phase4.io", "-o", "name"); err != nil {
		t.Errorf("the CRD is gone after helm uninstall: %v\n%s", err, out)
	}
}

// checkPodSpec checks what the chart put into the operator's pods, as the
// cluster holds them.
func checkPodSpec(t *testing.T, ctx context.Context, ns, name string) {
	t.Helper()
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=phase4-operator,app.kubernetes.io/instance=" + ns})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 2 {
		t.Fatalf("%d operator pods, want 2", len(pods.Items))
	}
	p := pods.Items[0]
	ps := p.Spec.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser != 65532 ||
		ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext = %+v, want runAsNonRoot, runAsUser 65532, seccomp RuntimeDefault", ps)
	}
	if p.Spec.ServiceAccountName != name {
		t.Errorf("pod ServiceAccount = %q, want %q", p.Spec.ServiceAccountName, name)
	}
	if len(p.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(p.Spec.Containers))
	}
	c := p.Spec.Containers[0]
	if c.Image != "registry.example.com/phase4/phase4-operator:e2e" {
		t.Errorf("image = %q", c.Image)
	}
	cs := c.SecurityContext
	if cs == nil || cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation ||
		cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem ||
		cs.RunAsNonRoot == nil || !*cs.RunAsNonRoot || cs.RunAsUser == nil || *cs.RunAsUser != 65532 ||
		cs.Capabilities == nil || len(cs.Capabilities.Drop) != 1 || cs.Capabilities.Drop[0] != "ALL" || len(cs.Capabilities.Add) != 0 ||
		cs.SeccompProfile == nil || cs.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container securityContext = %+v, want no privilege escalation, read-only root, non-root 65532, all capabilities dropped, seccomp RuntimeDefault", cs)
	}
	args := " " + strings.Join(c.Args, " ") + " "
	for _, want := range []string{"--leader-elect=true", "--leader-election-namespace=" + ns, "--leader-election-id=phase4-operator",
		"--metrics-bind-address=:8080", "--health-probe-bind-address=:8081", "--cache-dir=/var/cache/phase4-operator"} {
		if !strings.Contains(args, " "+want+" ") {
			t.Errorf("operator args %q lack %s", args, want)
		}
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.LivenessProbe.HTTPGet.Port.String() != "probes" {
		t.Errorf("liveness probe = %+v, want GET /healthz on the probes port", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.ReadinessProbe.HTTPGet.Port.String() != "probes" {
		t.Errorf("readiness probe = %+v, want GET /readyz on the probes port", c.ReadinessProbe)
	}
	ports := map[string]int32{}
	for _, cp := range c.Ports {
		ports[cp.Name] = cp.ContainerPort
	}
	if ports["metrics"] != 8080 || ports["probes"] != 8081 {
		t.Errorf("container ports = %v, want metrics 8080 and probes 8081", ports)
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources = %+v, want memory requests and limits", c.Resources)
	}
	podNS := false
	for _, e := range c.Env {
		podNS = podNS || (e.Name == "POD_NAMESPACE" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace")
	}
	if !podNS {
		t.Errorf("env %+v lacks POD_NAMESPACE from metadata.namespace", c.Env)
	}
	// The writable paths are emptyDirs: the root filesystem is read-only.
	vols := map[string]bool{}
	for _, v := range p.Spec.Volumes {
		vols[v.Name] = v.EmptyDir != nil
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		if vols[m.Name] && !m.ReadOnly {
			mounts[m.MountPath] = m.Name
		}
	}
	for _, path := range []string{"/tmp", "/var/cache/phase4-operator"} {
		if mounts[path] == "" {
			t.Errorf("%s is not a writable emptyDir (mounts %+v)", path, c.VolumeMounts)
		}
	}
}

// Every flag of the operator's is set by a chart value (or left out on
// purpose), and the arguments the chart renders with every option set are
// ones the operator's own flag parser takes: a flag renamed or added in
// flags.c without the chart following fails here.
func TestChartRendersTheOperatorsFlags(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bin := filepath.Join(repoRoot(), "build", "phase4-operator")
	out, err := helm(ctx, "template", "p4", filepath.Join(repoRoot(), "charts", "phase4-operator"), "-n", "ops",
		"--show-only", "templates/deployment.yaml",
		"--set", "leaderElection.namespace=kube-system,leaderElection.id=p4-lease",
		"--set", "tenancy.defaultServiceAccount=deployer,tenancy.noCrossNamespaceRefs=true",
		"--set", "operator.concurrent=8,operator.kubeApiQps=2.5,operator.kubeApiBurst=80,operator.logLevel=debug,operator.logFormat=logfmt",
		"--set", "operator.gracefulShutdownTimeout=20,terminationGracePeriodSeconds=40",
		"--set", "operator.stageRetryDelay=10s,operator.stalledRecheckInterval=10m,operator.statusProgressInterval=5s,operator.scanPollInterval=1m,operator.recheckSpread=5m",
		"--set", "operator.helmTimeout=3m,operator.unschedulableGrace=45s,operator.helmConcurrency=3,operator.helmBinary="+helmBinary(t),
		"--set-json", `operator.notifyAllow=["https://hooks.example.com/","https://ci.example.com/p4"]`,
		"--set-json", `operator.extraArgs=["--log-level=info"]`)
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(out), nil, nil)
	if err != nil {
		t.Fatalf("decode the Deployment: %v\n%s", err, out)
	}
	args := obj.(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Args

	// The operator parses them all (--help, last, stops it after the others).
	if out, err := run(ctx, nil, bin, append(append([]string{}, args...), "--help")...); err != nil {
		t.Fatalf("phase4-operator refuses the chart's arguments %q: %v\n%s", args, err, out)
	}

	set := map[string]bool{}
	for _, a := range args {
		flag, _, _ := strings.Cut(a, "=")
		set[flag] = true
	}
	help, err := run(ctx, nil, bin, "--help")
	if err != nil {
		t.Fatalf("phase4-operator --help: %v\n%s", err, help)
	}
	// Not for a Deployment: it runs in-cluster, and these only print.
	skip := map[string]bool{"--kubeconfig": true, "--context": true, "--version": true, "--help": true}
	flags := regexp.MustCompile(`(?m)^  (--[a-z][a-z-]*)`).FindAllStringSubmatch(help, -1)
	if len(flags) < 20 {
		t.Fatalf("found only %d flags in phase4-operator --help:\n%s", len(flags), help)
	}
	for _, f := range flags {
		if !skip[f[1]] && !set[f[1]] {
			t.Errorf("no chart value sets the operator's %s (values.yaml's operator section)", f[1])
		}
	}
}
