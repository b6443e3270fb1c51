package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// The local API server has API Priority and Fairness on, as every supported
// Kubernetes does: an answer names the FlowSchema that handled it.
func requireAPF(t *testing.T, ctx context.Context) {
	t.Helper()
	client, err := rest.HTTPClientFor(restConfig)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(restConfig.Host, "/")+"/version", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET /version: %v", err)
	}
	_ = resp.Body.Close()
	if resp.Header.Get("X-Kubernetes-PF-FlowSchema-UID") == "" && resp.Header.Get("X-Kubernetes-PF-PriorityLevel-UID") == "" {
		t.Fatalf("the API server sent no X-Kubernetes-PF-* header (APF off?): %v", resp.Header)
	}
}

// With --kube-api-qps and --kube-api-burst left unset, the operator starts at
// 20 requests a second and lifts its client-side limit once the API server's
// answers show APF: /metrics says 0 (none) and the log says why.
func TestClientRateLiftedUnderAPF(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	requireAPF(t, ctx)
	o := startOperator(t, ctx)
	eventually(t, time.Minute, "phase4_kube_client_qps_limit 0 (no client-side limit)", func() (bool, string, error) {
		v := metric(scrape(o), "phase4_kube_client_qps_limit")
		return v == "0", "phase4_kube_client_qps_limit=" + v, nil
	})
	log := o.log()
	for _, want := range []string{
		"client-side API rate limit until the API server shows API Priority and Fairness, then none",
		"the API server has API Priority and Fairness on: client-side rate limit lifted",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not say %q:\n%s", want, log)
		}
	}
}

// Flags the user set win over what the API server says: the limit stays.
func TestClientRateFlagsWin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	requireAPF(t, ctx)
	installCRD(t, ctx)
	o := startOperator(t, ctx, "--kube-api-qps", "30", "--kube-api-burst", "60")
	// Ready once the cache has synced: APF's headers have come by then.
	eventually(t, time.Minute, "/readyz ok", func() (bool, string, error) {
		code, body, err := httpGet(o.probes + "/readyz")
		return err == nil && code == 200, body, nil
	})
	if v := metric(scrape(o), "phase4_kube_client_qps_limit"); v != "30" {
		t.Errorf("phase4_kube_client_qps_limit = %q, want 30 (the flag's)", v)
	}
	log := o.log()
	if !strings.Contains(log, "client-side API rate limit as the flags say") {
		t.Errorf("the log does not name the flags' limit:\n%s", log)
	}
	if strings.Contains(log, "client-side rate limit lifted") {
		t.Errorf("the limit was lifted although the flags set it:\n%s", log)
	}
}
