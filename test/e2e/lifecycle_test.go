package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A second cluster comes up beside the one under test (its own ports and
// state), `up` again is a no-op, and `down` leaves no process and no port.
func TestSecondClusterUpAndDownLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole second control plane")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "cluster")
	env := []string{"P4_CLUSTER_DIR=" + dir, "P4_KWOK_NODES=1"}
	script := filepath.Join(repoRoot(), "hack", "cluster")
	t.Cleanup(func() { _, _ = run(context.Background(), env, script, "down") })

	if out, err := run(ctx, env, script, "up"); err != nil {
		t.Fatalf("hack/cluster up: %v\n%s", err, out)
	}
	ports := readEnv(t, filepath.Join(dir, "ports.env"))
	pids := map[string]int{}
	for _, c := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		b, err := os.ReadFile(filepath.Join(dir, "pids", c+".pid"))
		if err != nil {
			t.Fatalf("pid file of %s: %v", c, err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || !alive(pid) {
			t.Fatalf("%s: pid %q not running", c, b)
		}
		pids[c] = pid
	}
	if len(ports) != 6 {
		t.Fatalf("ports.env has %d ports, want 6: %v", len(ports), ports)
	}
	// Its ports differ from the main cluster's, and the API server answers on its own.
	mainPorts := readEnv(t, filepath.Join(cacheDir(), "cluster", "ports.env"))
	if ports["APISERVER_PORT"] == mainPorts["APISERVER_PORT"] {
		t.Fatalf("second cluster reuses the API server port %s", ports["APISERVER_PORT"])
	}
	kc := filepath.Join(dir, "kubeconfig")
	out, err := run(ctx, nil, tool("kubectl"), "--kubeconfig", kc, "get", "nodes", "--no-headers")
	if err != nil || !strings.Contains(out, "kwok-node-0") || !strings.Contains(out, " Ready ") {
		t.Fatalf("second cluster nodes: %v\n%s", err, out)
	}
	if out, err := run(ctx, env, script, "status"); err != nil {
		t.Fatalf("hack/cluster status: %v\n%s", err, out)
	}

	// up on a running cluster changes nothing.
	if out, err := run(ctx, env, script, "up"); err != nil || !strings.Contains(out, "already up") {
		t.Fatalf("second hack/cluster up: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "pids", "kube-apiserver.pid"))
	if strings.TrimSpace(string(b)) != strconv.Itoa(pids["kube-apiserver"]) {
		t.Fatalf("idempotent up restarted kube-apiserver")
	}

	if out, err := run(ctx, env, script, "down"); err != nil {
		t.Fatalf("hack/cluster down: %v\n%s", err, out)
	}
	for c, pid := range pids {
		if alive(pid) {
			t.Errorf("%s (pid %d) still running after down", c, pid)
		}
	}
	for name, p := range ports {
		if ln, err := net.Listen("tcp", "127.0.0.1:"+p); err != nil {
			t.Errorf("%s %s still taken after down: %v", name, p, err)
		} else {
			ln.Close()
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state directory %s left after down (err %v)", dir, err)
	}
	if out, err := run(ctx, env, script, "status"); err == nil {
		t.Errorf("hack/cluster status succeeds after down:\n%s", out)
	}
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b))
	return len(fields) > 2 && fields[2] != "Z"
}
