package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// chartFetch runs `phase4-operator chart-fetch`, the Helm stage's chart
// fetch (HTTP repository index and archive, or OCI registry) by hand.
func chartFetch(ctx context.Context, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(), "build", "phase4-operator"), append([]string{"chart-fetch"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func sha256File(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Charts come from the HTTP repository (index.yaml) and both OCI registries,
// by exact version or range, verified and cached by digest.
func TestChartFetch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	charts := readEnv(t, filepath.Join(cacheDir(), "charts", "charts.env"))
	repoDir := filepath.Join(cacheDir(), "charts", "repo")
	auth := readEnv(t, filepath.Join(cacheDir(), "registry", "auth.env"))
	ca := filepath.Join(cacheDir(), "registry", "certs", "ca.crt")
	tlsHost := strings.TrimPrefix(strings.SplitN(strings.TrimPrefix(charts["CHART_OCI_TLS"], "oci://"), "/", 2)[0], "")
	dockerConfig := filepath.Join(t.TempDir(), "config.json")
	writeFile(t, dockerConfig, fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, tlsHost,
		base64.StdEncoding.EncodeToString([]byte(auth["REGISTRY_USER"]+":"+auth["REGISTRY_PASSWORD"]))))
	v010, v020 := sha256File(t, filepath.Join(repoDir, "webapp-0.1.0.tgz")), sha256File(t, filepath.Join(repoDir, "webapp-0.2.0.tgz"))
	cache := t.TempDir()

	for _, c := range []struct {
		name string
		args []string
		ok   bool
		want []string
	}{
		{"http exact", []string{charts["CHART_REPO_URL"], "webapp", "0.1.0"}, true, []string{"version: 0.1.0", "digest: " + v010, "cached: no"}},
		{"http again, from the cache", []string{charts["CHART_REPO_URL"], "webapp", "0.1.0"}, true, []string{"digest: " + v010, "cached: yes"}},
		{"http range", []string{charts["CHART_REPO_URL"], "webapp", "~0.1"}, true, []string{"version: 0.1.1"}}, // the newest 0.1.x
		{"http range skips the prerelease", []string{charts["CHART_REPO_URL"], "webapp", ">=0.1.0"}, true, []string{"version: 0.2.0", "digest: " + v020}},
		{"http prerelease asked for", []string{charts["CHART_REPO_URL"], "webapp", ">=1.0.0-0"}, true, []string{"version: 1.0.0-rc.1"}},
		{"http missing version", []string{charts["CHART_REPO_URL"], "webapp", "9.9.9"}, false, []string{"ChartNotFound", "0.2.0", "0.1.0"}},
		{"http missing chart", []string{charts["CHART_REPO_URL"], "nope", "0.1.0"}, false, []string{"ChartNotFound"}},
		{"oci exact", []string{charts["CHART_OCI_PLAIN"], "webapp", "0.1.0", "--insecure"}, true, []string{"version: 0.1.0", "digest: " + v010}},
		{"oci range", []string{charts["CHART_OCI_PLAIN"], "webapp", "0.x", "--insecure"}, true, []string{"version: 0.2.0", "digest: " + v020}},
		{"oci missing", []string{charts["CHART_OCI_PLAIN"], "webapp", "9.9.9", "--insecure"}, false, []string{"ChartNotFound"}},
		{"oci tls with credentials", []string{charts["CHART_OCI_TLS"], "webapp", "0.1.0", "--ca-file", ca, "--docker-config", dockerConfig}, true, []string{"digest: " + v010}},
		{"oci tls without credentials", []string{charts["CHART_OCI_TLS"], "webapp", "0.1.0", "--ca-file", ca}, false, []string{"ChartRepositoryAuthFailed"}},
	} {
		out, err := chartFetch(ctx, nil, append(c.args, "--cache-dir", cache)...)
		if (err == nil) != c.ok {
			t.Errorf("%s: exit %v, want success=%v\n%s", c.name, err, c.ok, out)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", c.name, w, out)
			}
		}
	}
	cached := filepath.Join(cache, "sha256-"+strings.TrimPrefix(v010, "sha256:")+".tgz")
	if _, err := os.Stat(cached); err != nil {
		t.Errorf("the chart is not cached by digest: %v", err)
	}
	// A cached archive whose bytes no longer hash to its name is fetched again.
	if err := os.WriteFile(cached, []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := chartFetch(ctx, nil, charts["CHART_REPO_URL"], "webapp", "0.1.0", "--cache-dir", cache)
	if err != nil || !strings.Contains(out, "cached: no") || !strings.Contains(out, "digest: "+v010) {
		t.Errorf("a damaged cached archive: %v\n%s", err, out)
	}
	if out, err := chartFetch(ctx, nil, charts["CHART_REPO_URL"], "webapp", "0.1.0", "--cache-dir", cache); err != nil || !strings.Contains(out, "cached: yes") {
		t.Errorf("the archive fetched again is not cached: %v\n%s", err, out)
	}

	// A repository behind basic auth whose index lists a digest the archive does not have.
	archive, err := os.ReadFile(filepath.Join(repoDir, "webapp-0.1.0.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if u, p, ok := r.BasicAuth(); !ok || u != "charts" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="charts"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/index.yaml":
			fmt.Fprintf(w, "apiVersion: v1\nentries:\n  webapp:\n  - name: webapp\n    version: 0.1.0\n    digest: %s\n    urls: [charts/webapp-0.1.0.tgz]\n  - name: webapp\n    version: 0.1.1\n    digest: %s\n    urls: [charts/webapp-0.1.0.tgz]\n",
				strings.TrimPrefix(v010, "sha256:"), strings.Repeat("ab", 32))
		case "/charts/webapp-0.1.0.tgz":
			_, _ = w.Write(archive)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	creds := []string{"P4_CHART_USERNAME=charts", "P4_CHART_PASSWORD=s3cret"}
	// Credentials go over plain HTTP only when told so: nothing is sent.
	out, err = chartFetch(ctx, creds, srv.URL, "webapp", "0.1.0", "--cache-dir", t.TempDir())
	if err == nil || !strings.Contains(out, "InsecureCredentials") || strings.Contains(out, "s3cret") || requests.Load() != 0 {
		t.Errorf("basic auth over plain HTTP without --insecure: %v, %d request(s)\n%s", err, requests.Load(), out)
	}
	if out, err := chartFetch(ctx, creds, srv.URL, "webapp", "0.1.0", "--insecure", "--cache-dir", t.TempDir()); err != nil || !strings.Contains(out, "digest: "+v010) {
		t.Errorf("basic auth: %v\n%s", err, out)
	}
	out, err = chartFetch(ctx, creds, srv.URL, "webapp", "0.1.1", "--insecure", "--cache-dir", t.TempDir())
	if err == nil || !strings.Contains(out, "ChartDigestMismatch") {
		t.Errorf("a digest mismatch was not caught: %v\n%s", err, out)
	}
	out, err = chartFetch(ctx, []string{"P4_CHART_USERNAME=charts", "P4_CHART_PASSWORD=n0t-1t"}, srv.URL, "webapp", "0.1.0", "--insecure", "--cache-dir", t.TempDir())
	if err == nil || !strings.Contains(out, "ChartRepositoryAuthFailed") || strings.Contains(out, "n0t-1t") {
		t.Errorf("wrong password: %v\n%s", err, out)
	}

	// An index.yaml past what is read (64 MiB, streamed here) is refused
	// saying so, not with the transport's "Failure writing output".
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		line := []byte("# " + strings.Repeat("x", 1021) + "\n")
		for written := 0; written <= 65<<20; written += len(line) {
			if _, err := w.Write(line); err != nil {
				return
			}
		}
	}))
	defer huge.Close()
	out, err = chartFetch(ctx, nil, huge.URL, "webapp", "0.1.0", "--cache-dir", t.TempDir())
	if err == nil || !strings.Contains(out, "ChartTooLarge") || !strings.Contains(out, "larger than 64 MiB") ||
		strings.Contains(out, "Failure writing") {
		t.Errorf("a 65 MiB index.yaml: %v\n%s", err, out)
	}
}
