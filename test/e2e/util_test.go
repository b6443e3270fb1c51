package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// criLog formats lines as the kubelet stores container logs (CRI format),
// which is what KWOK's Logs and ClusterLogs read.
func criLog(lines ...string) string {
	var b strings.Builder
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, l := range lines {
		fmt.Fprintf(&b, "%s stdout F %s\n", now, l)
	}
	return b.String()
}
