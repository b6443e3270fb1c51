package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// helmEnv keeps helm's config, cache and registry logins where hack/charts put them.
func helmEnv() []string {
	d := filepath.Join(cacheDir(), "charts", "helm")
	return []string{"HELM_CACHE_HOME=" + d + "/cache", "HELM_CONFIG_HOME=" + d + "/config", "HELM_DATA_HOME=" + d + "/data"}
}

func helm(ctx context.Context, args ...string) (string, error) {
	return run(ctx, helmEnv(), tool("helm"), args...)
}

// `helm pull` fetches the web app chart from the HTTP repository and from
// both OCI registries.
func TestHelmPullFromRepositoryAndOCI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env := readEnv(t, filepath.Join(cacheDir(), "charts", "charts.env"))
	ca := filepath.Join(cacheDir(), "registry", "certs", "ca.crt")

	for name, args := range map[string][]string{
		"http":    {"pull", "webapp", "--repo", env["CHART_REPO_URL"], "--version", "0.1.0"},
		"oci":     {"pull", env["CHART_OCI_PLAIN"] + "/webapp", "--version", "0.1.0", "--plain-http"},
		"oci+tls": {"pull", env["CHART_OCI_TLS"] + "/webapp", "--version", "0.1.0", "--ca-file", ca},
	} {
		dest := t.TempDir()
		out, err := helm(ctx, append(args, "--destination", dest)...)
		if err != nil {
			t.Errorf("%s: helm %s: %v\n%s", name, strings.Join(args, " "), err, out)
			continue
		}
		if _, err := os.Stat(filepath.Join(dest, "webapp-0.1.0.tgz")); err != nil {
			t.Errorf("%s: pulled chart missing: %v", name, err)
		}
		// A version that is not there is refused.
		bad := append([]string{}, args...)
		for i := range bad {
			if bad[i] == "0.1.0" {
				bad[i] = "9.9.9"
			}
		}
		if out, err := helm(ctx, append(bad, "--destination", t.TempDir())...); err == nil {
			t.Errorf("%s: helm pull of version 9.9.9 succeeded:\n%s", name, out)
		}
	}
}

// The broken test charts are broken in exactly the way they claim, so the
// Helm stage's tests can rely on them; the good chart passes all three checks.
func TestTestChartsFailAsDesigned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	charts := filepath.Join(repoRoot(), "test", "e2e", "charts")
	for _, tc := range []struct {
		chart, cmd, want string
	}{
		{"webapp", "lint", ""},
		{"webapp", "template", ""},
		{"lint-error", "template", ""},
		{"lint-error", "lint", "object name does not conform to Kubernetes naming requirements"},
		{"schema-violation", "lint", "replicaCount"},
		{"schema-violation", "template", "replicaCount"},
		{"template-error", "lint", `no template "webapp.no-such-template"`},
		{"template-error", "template", `no template "webapp.no-such-template"`},
		{"secret-echo", "lint", ""}, // it fails only when given a value to leak
		{"secret-echo", "template", ""},
	} {
		args := []string{tc.cmd, filepath.Join(charts, tc.chart)}
		if tc.cmd == "lint" {
			args = append(args, "--strict")
		}
		out, err := helm(ctx, args...)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("helm %s %s failed: %v\n%s", tc.cmd, tc.chart, err, out)
		case tc.want != "" && err == nil:
			t.Errorf("helm %s %s succeeded, want an error naming %q:\n%s", tc.cmd, tc.chart, tc.want, out)
		case tc.want != "" && !strings.Contains(out, tc.want):
			t.Errorf("helm %s %s: error does not name %q:\n%s", tc.cmd, tc.chart, tc.want, out)
		}
	}
}
