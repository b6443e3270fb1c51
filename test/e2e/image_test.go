package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `phase4-operator image-check` runs the Docker stage's registry checks (the
// OCI distribution client, auth and manifest parsing) against the real
// registries from hack/registry and the images from hack/images.
func TestImageCheck(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := filepath.Join(cacheDir(), "registry")
	ports := readEnv(t, filepath.Join(dir, "ports.env"))
	auth := readEnv(t, filepath.Join(dir, "auth.env"))
	images := readEnv(t, filepath.Join(dir, "images.env"))
	plain := "127.0.0.1:" + ports["PLAIN_PORT"]
	secure := "127.0.0.1:" + ports["TLS_PORT"]
	ca := filepath.Join(dir, "certs", "ca.crt")
	config := func(user, password string) string {
		path := filepath.Join(t.TempDir(), "config.json")
		authField := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
		writeFile(t, path, fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, secure, authField))
		return path
	}
	good, wrong := config(auth["REGISTRY_USER"], auth["REGISTRY_PASSWORD"]), config(auth["REGISTRY_USER"], "not-the-password")

	for _, c := range []struct {
		name    string
		args    []string
		ok      bool
		want    []string
		notWant string
	}{
		{"single platform", []string{plain + "/phase4/app:1.0", "--insecure"}, true,
			[]string{"digest: " + images["APP_DIGEST"], "platforms: linux/amd64", "blobs: 2 of 2 present"}, ""},
		{"index, amd64", []string{plain + "/phase4/multi:1.0", "--insecure"}, true,
			[]string{"digest: " + images["MULTI_DIGEST"], "platforms: linux/amd64, linux/arm64", "blobs: 2 of 2 present"}, ""},
		{"index, arm64", []string{plain + "/phase4/multi:1.0", "--insecure", "--platform", "linux/arm64/v8"}, true,
			[]string{"blobs: 2 of 2 present"}, ""},
		{"pinned digest", []string{plain + "/phase4/app@" + images["APP_DIGEST"], "--insecure"}, true,
			[]string{"digest: " + images["APP_DIGEST"]}, ""},
		{"arm64 only on amd64 nodes", []string{plain + "/phase4/arm64-only:1.0", "--insecure"}, false,
			[]string{"is built for linux/arm64 only, not for platform linux/amd64"}, ""},
		{"index without the platform", []string{plain + "/phase4/multi:1.0", "--insecure", "--platform", "linux/s390x"}, false,
			[]string{"has no manifest for platform linux/s390x (it has: linux/amd64, linux/arm64)"}, ""},
		{"missing layer", []string{plain + "/phase4/bad-layer:1.0", "--insecure"}, false,
			[]string{"is incomplete: layer " + images["BAD_LAYER_DIGEST"] + " is missing"}, ""},
		{"missing tag", []string{plain + "/phase4/app:9.9", "--insecure"}, false,
			[]string{"has no manifest phase4/app@9.9: MANIFEST_UNKNOWN"}, ""},
		{"TLS without our CA", []string{secure + "/phase4/app:1.0"}, false,
			[]string{"cannot verify registry " + secure + "'s TLS certificate"}, ""},
		{"TLS, no credentials", []string{secure + "/phase4/app:1.0", "--ca-file", ca}, false,
			[]string{"registry " + secure + " asks for credentials"}, ""},
		{"TLS, wrong password", []string{secure + "/phase4/app:1.0", "--ca-file", ca, "--docker-config", wrong}, false,
			[]string{"refused the pull secret's credentials"}, "not-the-password"},
		{"TLS with credentials", []string{secure + "/phase4/multi:1.0", "--ca-file", ca, "--docker-config", good}, true,
			[]string{"digest: " + images["MULTI_DIGEST"], "blobs: 2 of 2 present"}, auth["REGISTRY_PASSWORD"]},
	} {
		out, err := exec.CommandContext(ctx, filepath.Join(repoRoot(), "build", "phase4-operator"),
			append([]string{"image-check"}, c.args...)...).CombinedOutput()
		if (err == nil) != c.ok {
			t.Errorf("%s: exit %v, want success=%v\n%s", c.name, err, c.ok, out)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%s: output lacks %q:\n%s", c.name, w, out)
			}
		}
		if c.notWant != "" && strings.Contains(string(out), c.notWant) {
			t.Errorf("%s: output shows a secret:\n%s", c.name, out)
		}
	}
}
