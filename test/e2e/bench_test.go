package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// rssKiB is a process's resident set size from /proc.
func rssKiB(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(line)[1])
			return n
		}
	}
	return -1
}

// benchImage is the local registry's test image: every benchmark object
// goes through the whole Docker stage (Node platforms, the ServiceAccount,
// the registry, a scan report lookup) and passes.
var benchImage, benchCharts string

// benchObject is a Phase4Deployment of the webapp chart. With pods, it runs
// one replica behind its Service; without, its Deployment has no replicas and
// no Service (the local cluster's fake nodes hold a few hundred pods, not ten
// thousand), so the Kubernetes stage still applies and waits on it.
func benchObject(ns, name string, pods bool) *unstructured.Unstructured {
	values := map[string]any{"replicaCount": int64(1)}
	if !pods {
		values = map[string]any{"replicaCount": int64(0), "service": map[string]any{"enabled": false}}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "phase4.io/v1alpha1", "kind": "Phase4Deployment",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"image":  map[string]any{"repository": benchImage, "tag": "1.0", "insecure": true},
			"chart":  map[string]any{"repository": benchCharts, "name": "webapp", "version": "0.1.0", "values": values},
			"target": map[string]any{"namespace": ns},
		},
	}}
}

// statusTimes watches a namespace and records when each object first has a
// status, when its Docker stage first passed (DockerReady True), when its
// Helm stage did (HelmReady True) and when its Kubernetes stage did.
type statusTimes struct {
	mu    sync.Mutex
	seen  map[string]time.Time
	ready map[string]time.Time
	helm  map[string]time.Time
	kube  map[string]time.Time
}

func (s *statusTimes) kubeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.kube)
}

func (s *statusTimes) kubeAt(name string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.kube[name]
	return t, ok
}

func (s *statusTimes) helmCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.helm)
}

func (s *statusTimes) helmAt(name string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.helm[name]
	return t, ok
}

func (s *statusTimes) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

func (s *statusTimes) readyCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ready)
}

func (s *statusTimes) readyAt(name string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.ready[name]
	return t, ok
}

func (s *statusTimes) at(name string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.seen[name]
	return t, ok
}

// watchStatus records when each object in ns first has a status. It uses an
// informer, which re-watches (and relists) when the server closes a watch.
func watchStatus(ctx context.Context, b testing.TB, client dynamic.Interface, ns string) *statusTimes {
	st := &statusTimes{seen: map[string]time.Time{}, ready: map[string]time.Time{}, helm: map[string]time.Time{},
		kube: map[string]time.Time{}}
	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(client, 0, ns, nil)
	record := func(obj any) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return
		}
		if g, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration"); g > 0 {
			now := time.Now()
			st.mu.Lock()
			if _, dup := st.seen[u.GetName()]; !dup {
				st.seen[u.GetName()] = now
			}
			if c := condition(u, "DockerReady"); c != nil && c["status"] == "True" {
				if _, dup := st.ready[u.GetName()]; !dup {
					st.ready[u.GetName()] = now
				}
			}
			if c := condition(u, "HelmReady"); c != nil && c["status"] == "True" {
				if _, dup := st.helm[u.GetName()]; !dup {
					st.helm[u.GetName()] = now
				}
			}
			if c := condition(u, "KubernetesReady"); c != nil && c["status"] == "True" {
				if _, dup := st.kube[u.GetName()]; !dup {
					st.kube[u.GetName()] = now
				}
			}
			st.mu.Unlock()
		}
	}
	inf := factory.ForResource(p4dGVR).Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    record,
		UpdateFunc: func(_, obj any) { record(obj) },
	}); err != nil {
		b.Fatal(err)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		b.Fatal("informer did not sync")
	}
	return st
}

// createMany creates objects name-<from>..name-<to-1> with 16 writers.
func createMany(ctx context.Context, b testing.TB, client dynamic.Interface, ns string, from, to int) {
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	next := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if _, err := client.Resource(p4dGVR).Namespace(ns).Create(ctx, benchObject(ns, fmt.Sprintf("bulk-%05d", i), false), metav1.CreateOptions{}); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := from; i < to; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatalf("create: %v", err)
	default:
	}
}

// BenchmarkOperatorFootprint measures the operator's memory idle and with
// 1,000 and 10,000 Phase4Deployments past the Docker, Helm and Kubernetes
// stages (real image, real chart, applied and watched), and the time from
// create to the first status write, to DockerReady, to HelmReady and to
// KubernetesReady. Run by `make bench`; it asserts nothing about speed.
func BenchmarkOperatorFootprint(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	installCRD(b, ctx)
	ns := newNamespace(b, ctx, "bench")
	benchImage = "127.0.0.1:" + readEnv(b, filepath.Join(cacheDir(), "registry", "ports.env"))["PLAIN_PORT"] + "/phase4/app"
	benchCharts = chartsEnv(b)["CHART_REPO_URL"]
	cfg := *restConfig
	cfg.QPS, cfg.Burst = 1000, 2000
	client := dynamic.NewForConfigOrDie(&cfg)
	op := startOperator(b, ctx, "--kube-api-qps", "1000", "--kube-api-burst", "2000", "--concurrent", "8", "--log-level", "info")
	eventually(b, time.Minute, "the operator to lead and be ready", func() (bool, string, error) {
		code, _, _ := httpGet(op.probes + "/readyz")
		return code == 200 && metric(scrape(op), "phase4_leader") == "1", "", nil
	})
	st := watchStatus(ctx, b, client, ns)
	idle := rssKiB(op.cmd.Process.Pid)

	// Latency: one object at a time, so nothing queues behind another.
	single := 200
	var lat, docker, helm, kubeLat []time.Duration
	for i := 0; i < single; i++ {
		name := fmt.Sprintf("lat-%03d", i)
		start := time.Now()
		if _, err := client.Resource(p4dGVR).Namespace(ns).Create(ctx, benchObject(ns, name, true), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		eventually(b, 30*time.Second, name+" KubernetesReady", func() (bool, string, error) {
			_, ok := st.kubeAt(name)
			return ok, "", nil
		})
		at, _ := st.at(name)
		ready, _ := st.readyAt(name)
		charted, _ := st.helmAt(name)
		running, _ := st.kubeAt(name)
		lat = append(lat, at.Sub(start))
		docker = append(docker, ready.Sub(start))
		helm = append(helm, charted.Sub(start))
		kubeLat = append(kubeLat, running.Sub(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	sort.Slice(docker, func(i, j int) bool { return docker[i] < docker[j] })
	sort.Slice(helm, func(i, j int) bool { return helm[i] < helm[j] })
	sort.Slice(kubeLat, func(i, j int) bool { return kubeLat[i] < kubeLat[j] })
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	d50, d99 := docker[len(docker)/2], docker[len(docker)*99/100]
	h50, h99 := helm[len(helm)/2], helm[len(helm)*99/100]
	k50, k99 := kubeLat[len(kubeLat)/2], kubeLat[len(kubeLat)*99/100]

	fill := func(total int) int {
		createMany(ctx, b, client, ns, st.count(), total)
		eventually(b, 30*time.Minute, fmt.Sprintf("%d objects past the Kubernetes stage", total), func() (bool, string, error) {
			m := scrape(op)
			return st.kubeCount() >= total, fmt.Sprintf("%d with status seen, %d DockerReady, %d HelmReady, %d KubernetesReady; operator: cached %s, status writes %s, depth %s, log tail %q",
				st.count(), st.readyCount(), st.helmCount(), st.kubeCount(), metric(m, "phase4_cached_objects"), metric(m, "phase4_status_writes_total"),
				metric(m, "phase4_workqueue_depth"), tail(op.log(), 400)), nil
		})
		// Settled: the operator hands memory freed after the burst back every 30 s.
		time.Sleep(35 * time.Second)
		return rssKiB(op.cmd.Process.Pid)
	}
	small, large := 1000, 10000
	if v := os.Getenv("P4_BENCH_OBJECTS"); v != "" { // e.g. "300,600" for a quick run
		_, _ = fmt.Sscanf(v, "%d,%d", &small, &large)
	}
	start := time.Now()
	rss1k := fill(small)
	rss10k := fill(large)
	bulk := time.Since(start)

	b.ReportMetric(float64(idle), "idle-RSS-KiB")
	b.ReportMetric(float64(rss1k), fmt.Sprintf("%d-objects-RSS-KiB", small))
	b.ReportMetric(float64(rss10k), fmt.Sprintf("%d-objects-RSS-KiB", large))
	b.ReportMetric(float64(p50.Microseconds())/1000, "create-to-status-p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "create-to-status-p99-ms")
	b.ReportMetric(float64(h50.Microseconds())/1000, "create-to-HelmReady-p50-ms")
	b.ReportMetric(float64(k50.Microseconds())/1000, "create-to-KubernetesReady-p50-ms")
	b.ReportMetric(float64(k99.Microseconds())/1000, "create-to-KubernetesReady-p99-ms")
	b.Logf("\n| what | result |\n|---|---|\n"+
		"| RSS idle (leader, cache synced, 0 objects) | %d KiB |\n"+
		"| RSS with %d Phase4Deployments past the Docker, Helm and Kubernetes stages | %d KiB |\n"+
		"| RSS with %d Phase4Deployments past the Docker, Helm and Kubernetes stages | %d KiB (%.1f KiB per object) |\n"+
		"| create → first status write, p50 (%d creates, one at a time) | %.1f ms |\n"+
		"| create → first status write, p99 | %.1f ms |\n"+
		"| create → DockerReady True (every gate, local registry), p50 | %.1f ms |\n"+
		"| create → DockerReady True, p99 | %.1f ms |\n"+
		"| create → HelmReady True (fetch, lint, template, dry run of 3 objects, manifest Secret), p50 | %.1f ms |\n"+
		"| create → HelmReady True, p99 | %.1f ms |\n"+
		"| create → KubernetesReady True (apply 3 objects, one pod Running, the Service's endpoint ready), p50 | %.1f ms |\n"+
		"| create → KubernetesReady True, p99 | %.1f ms |\n"+
		"| %d creates by 16 writers until all past the Kubernetes stage (2 objects each, no pods) | %.1f s |\n",
		idle, small, rss1k, large, rss10k, float64(rss10k-idle)/float64(large), single,
		float64(p50.Microseconds())/1000, float64(p99.Microseconds())/1000,
		float64(d50.Microseconds())/1000, float64(d99.Microseconds())/1000,
		float64(h50.Microseconds())/1000, float64(h99.Microseconds())/1000,
		float64(k50.Microseconds())/1000, float64(k99.Microseconds())/1000, large-single, bulk.Seconds())
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// BenchmarkImageChecksPerRelease creates N releases (P4_BENCH_RELEASES,
// default 1,000) of one chart whose pods run a sidecar besides the checked
// image (regweb with its metrics exporter, no replicas), waits until every
// one is past the Helm stage, and reports how often the Helm stage asked the
// registry about the sidecar (phase4_helm_image_checks_total) and how often
// its cache answered instead: one check per image and platform for the whole
// run is the aim. Run by `make bench`; it asserts nothing about speed.
func BenchmarkImageChecksPerRelease(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	installCRD(b, ctx)
	ns := newNamespace(b, ctx, "bench-images")
	host := plainHost(b)
	n := 1000
	if v := os.Getenv("P4_BENCH_RELEASES"); v != "" {
		_, _ = fmt.Sscanf(v, "%d", &n)
	}
	cfg := *restConfig
	cfg.QPS, cfg.Burst = 1000, 2000
	client := dynamic.NewForConfigOrDie(&cfg)
	op := startOperator(b, ctx, "--kube-api-qps", "1000", "--kube-api-burst", "2000", "--concurrent", "8", "--log-level", "info")
	st := watchStatus(ctx, b, client, ns)
	release := func(name string) *unstructured.Unstructured {
		obj := pinnedP4D(b, ns, name, "regweb", "1.2.3",
			map[string]any{"registry": "image.registry", "repository": "image.repository"},
			map[string]any{"replicaCount": int64(0), "metrics": map[string]any{"enabled": true,
				"image": map[string]any{"registry": host, "repository": "phase4/app", "tag": "1.0"}}})
		return obj
	}
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if _, err := client.Resource(p4dGVR).Namespace(ns).Create(ctx, release(fmt.Sprintf("rel-%05d", i)), metav1.CreateOptions{}); err != nil {
					b.Errorf("create: %v", err)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	eventually(b, 50*time.Minute, fmt.Sprintf("%d releases past the Helm stage", n), func() (bool, string, error) {
		return st.helmCount() >= n, fmt.Sprintf("%d HelmReady", st.helmCount()), nil
	})
	took := time.Since(start)
	m := scrape(op)
	checks, hits := metric(m, "phase4_helm_image_checks_total"), metric(m, "phase4_helm_image_cache_hits_total")
	b.ReportMetric(metricValue(m, "phase4_helm_image_checks_total"), "image-checks")
	b.ReportMetric(metricValue(m, "phase4_helm_image_cache_hits_total"), "cache-hits")
	b.Logf("\n| what | result |\n|---|---|\n"+
		"| %d releases of regweb (its metrics sidecar: one other image, 1 node platform) past the Helm stage | %.1f s |\n"+
		"| registry checks of the sidecar image (phase4_helm_image_checks_total) | %s |\n"+
		"| answers from the cache (phase4_helm_image_cache_hits_total) | %s |\n",
		n, took.Seconds(), checks, hits)
}
