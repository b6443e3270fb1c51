package e2e

import (
	"fmt"
	"math/rand"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func writeFile(t testing.TB, path, content string) {
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

var (
	portsMu sync.Mutex
	ports   = map[int]bool{} // handed out by freePort in this process
)

// freePort is a TCP port on 127.0.0.1 free at the time of the call, never
// one it handed out before, and below the kernel's ephemeral range: a port
// the kernel picked (":0") could be taken by any process's outgoing
// connection before the program it is meant for binds it.
func freePort(t testing.TB) string {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
				low = n
			}
		}
	}
	portsMu.Lock()
	defer portsMu.Unlock()
	for i := 0; i < 1000; i++ {
		p := 10000 + rand.Intn(low-10000)
		if ports[p] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		ln.Close()
		ports[p] = true
		return strconv.Itoa(p)
	}
	t.Fatal("no free port below the ephemeral range")
	return ""
}
