// Package e2e holds the end-to-end tests. They run against the real local
// control plane, registry and chart repository that hack/e2e starts (or the
// cluster KUBECONFIG names), and check what a user would check.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

var (
	restConfig *rest.Config
	kube       *kubernetes.Clientset
	dyn        *dynamic.DynamicClient
)

func TestMain(m *testing.M) {
	path := os.Getenv("KUBECONFIG")
	if path == "" {
		fmt.Fprintln(os.Stderr, "KUBECONFIG is not set: run the e2e tests with `make e2e` (hack/e2e starts a cluster)")
		os.Exit(1)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeconfig:", err)
		os.Exit(1)
	}
	cfg.QPS, cfg.Burst = 50, 100
	restConfig = cfg
	kube = kubernetes.NewForConfigOrDie(cfg)
	dyn = dynamic.NewForConfigOrDie(cfg)
	os.Exit(m.Run())
}

// repoRoot is the checkout this test file lives in.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func cacheDir() string {
	if d := os.Getenv("P4_CACHE"); d != "" {
		return d
	}
	return filepath.Join(repoRoot(), ".cache")
}

// readEnv reads a KEY=VALUE file written by a hack/ script.
func readEnv(t testing.TB, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%s: %v (is the hack/ service up?)", path, err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
		}
	}
	return env
}

// tool is the path of a tool hack/deps built, or the name on PATH.
func tool(name string) string {
	p := filepath.Join(cacheDir(), "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return name
}

// run runs a command and returns its combined output.
func run(ctx context.Context, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kubectl runs the cluster's kubectl against KUBECONFIG.
func kubectl(ctx context.Context, args ...string) (string, error) {
	return run(ctx, nil, tool("kubectl"), args...)
}

// eventually polls cond every 200ms until it returns true, an error, or the
// deadline passes; last describes the state seen last, for the failure message.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
