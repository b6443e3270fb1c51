package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// localCluster returns the hack/cluster state directory when the tests run
// against the local control plane (the only one they may restart).
func localCluster(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(cacheDir(), "cluster")
	if kc, _ := filepath.Abs(os.Getenv("KUBECONFIG")); kc != filepath.Join(dir, "kubeconfig") {
		t.Skip("restarts the API server: only against the local cluster from hack/cluster")
	}
	return dir
}

func restartAPIServer(t testing.TB, ctx context.Context) {
	t.Helper()
	if out, err := run(ctx, nil, filepath.Join(repoRoot(), "hack", "cluster"), "restart", "kube-apiserver"); err != nil {
		t.Fatalf("hack/cluster restart kube-apiserver: %v\n%s", err, out)
	}
}

// compactEtcd compacts etcd's history up to now, so nothing can watch from before.
func compactEtcd(t testing.TB, dir string) {
	t.Helper()
	port := readEnv(t, filepath.Join(dir, "ports.env"))["ETCD_PORT"]
	post := func(path, body string) map[string]any {
		resp, err := http.Post("http://127.0.0.1:"+port+path, "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatalf("etcd %s: %v", path, err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != 200 {
			t.Fatalf("etcd %s: %d %v", path, resp.StatusCode, out)
		}
		return out
	}
	rev := post("/v3/maintenance/status", "{}")["header"].(map[string]any)["revision"].(string)
	post("/v3/kv/compaction", fmt.Sprintf(`{"revision":%q,"physical":true}`, rev))
}

func applyShop(t testing.TB, ctx context.Context, ns, name string) {
	t.Helper()
	manifest, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "shop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := strings.Replace(string(manifest), "name: shop\n", "name: "+name+"\n", 1)
	f := filepath.Join(t.TempDir(), name+".yaml")
	writeFile(t, f, m)
	if out, err := kubectl(ctx, "apply", "-n", ns, "-f", f); err != nil {
		t.Fatalf("kubectl apply %s: %v\n%s", name, err, out)
	}
}

// The operator keeps working across an API server restart, and when its
// watch falls so far behind that the server answers 410 Gone, it relists and
// misses nothing that happened meanwhile.
func TestSurvivesAPIServerRestartAndGone(t *testing.T) {
	dir := localCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	ns := newNamespace(t, ctx, "e2e-resilience")
	op := startOperator(t, ctx)
	applyShop(t, ctx, ns, "before")
	waitReconciled(t, ctx, ns, "before", 1)

	// 1. Restart the API server under a live watch; a new object is still reconciled.
	restartAPIServer(t, ctx)
	applyShop(t, ctx, ns, "after-restart")
	waitReconciled(t, ctx, ns, "after-restart", 1)

	// 2. Freeze the operator, change things, compact etcd and restart the API
	// server, so the operator's resourceVersion is gone everywhere; on waking
	// it must get 410 and relist.
	relists := func() int {
		v, _ := strconv.Atoi(metric(scrape(op), "phase4_relists_total"))
		return v
	}
	before := relists()
	if err := op.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			_ = op.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	applyShop(t, ctx, ns, "while-frozen")
	for i := 0; i < 20; i++ { // move etcd's revision well past the operator's
		_, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "churn-"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	compactEtcd(t, dir)
	restartAPIServer(t, ctx)
	if err := op.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	waitReconciled(t, ctx, ns, "while-frozen", 1)
	eventually(t, time.Minute, "a relist after 410 Gone", func() (bool, string, error) {
		n := relists()
		return n > before, fmt.Sprintf("relists %d (before %d)", n, before), nil
	})
	if !strings.Contains(op.log(), "watch expired, relisting") {
		t.Errorf("the operator's log does not show the relist:\n%s", op.log())
	}
}

// SIGTERM while the API server hangs: the operator waits out its grace
// period for work in flight, then cancels it and exits 0, instead of hanging
// on requests that will not be answered.
func TestShutdownWhileAPIServerHangs(t *testing.T) {
	dir := localCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	installCRD(t, ctx)
	op := startOperator(t, ctx, "--graceful-shutdown-timeout", "3")
	eventually(t, time.Minute, "the operator to lead", func() (bool, string, error) {
		return metric(scrape(op), "phase4_leader") == "1", "", nil
	})
	resume := pause(t, dir, "kube-apiserver")
	defer resume()

	// Stop it: releasing the Lease now needs an API server that does not answer.
	stopped := time.Now()
	_ = op.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-op.done:
		if err != nil {
			t.Errorf("operator exited with %v; log:\n%s", err, op.log())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("operator still running 20 s after SIGTERM with a 3 s grace period; log:\n%s", op.log())
	}
	t.Logf("exited %s after SIGTERM", time.Since(stopped).Round(100*time.Millisecond))
	if !strings.Contains(op.log(), "graceful shutdown timed out") {
		t.Errorf("the log does not say the grace period ran out:\n%s", op.log())
	}
	resume()
	eventually(t, time.Minute, "the API server to answer again", func() (bool, string, error) {
		_, err := kube.Discovery().ServerVersion()
		return err == nil, fmt.Sprint(err), nil
	})
}

// pause stops (SIGSTOP) the local cluster's component (its pid file in
// dir/pids) and returns what resumes it, which does so once however often it
// is called.
func pause(t testing.TB, dir, component string) func() {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "pids", component+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	return func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
}
