// headroom demo service (Go, net/http): HTTP endpoints whose memory behaviour is known, so a
// recording of it under load can be checked against the expectation. See examples/README.md for
// the endpoint contract shared with the Rust and C services. /metrics is the Prometheus client
// library's standard page (its Go and process collectors: go_memstats_*, go_gc_duration_seconds),
// from Debian's golang-github-prometheus-client-golang-dev, built offline (GOPATH mode over
// /usr/share/gocode; scripts/build-examples.sh).
//
// The Go runtime returns freed heap to the OS lazily (a background scavenger), so after a
// burst of /work its RSS stays up; /release calls debug.FreeOSMemory() to force it back.
package main

import (
	"container/list"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const (
	page  = 4096
	maxKB = 1 << 20 // 1 GiB per request: a typo should not take the machine down
	maxMS = 60000
)

type state struct {
	mu       sync.Mutex
	cache    [][]byte
	queue    *list.List
	requests atomic.Uint64
	inflight atomic.Int64
	workB    atomic.Int64
	cacheB   atomic.Int64
	cacheN   atomic.Int64
	queueB   atomic.Int64
	queueN   atomic.Int64
	drained  atomic.Uint64
	releases atomic.Uint64
	relMode  bool
}

// touched returns a buffer of n bytes with every page written (resident, not just reserved)
// and a checksum the response carries so the writes cannot be optimised away.
func touched(n int) ([]byte, uint64) {
	b := make([]byte, n)
	var sum uint64
	for i := 0; i < n; i += page {
		b[i] = 0x5a
		sum += uint64(b[i])
	}
	return b, sum
}

func queryNum(r *http.Request, key string, def, max uint64) (uint64, error) {
	v, ok := r.URL.Query()[key]
	if !ok || len(v) == 0 {
		return def, nil
	}
	n, err := strconv.ParseUint(v[0], 10, 64)
	if err != nil || n > max {
		return 0, fmt.Errorf("%s=%s is not an integer in 0..=%d", key, v[0], max)
	}
	return n, nil
}

func (s *state) statsJSON() string {
	return fmt.Sprintf(`{"service":"go","build":"%s","requests":%d,"inflight":%d,"work_bytes":%d,`+
		`"cache_bytes":%d,"cache_items":%d,"queue_bytes":%d,"queue_items":%d,"queue_drained":%d,`+
		`"releases":%d,"release_mode":%t}`+"\n",
		runtime.Version(), s.requests.Load(), s.inflight.Load(), s.workB.Load(), s.cacheB.Load(),
		s.cacheN.Load(), s.queueB.Load(), s.queueN.Load(), s.drained.Load(), s.releases.Load(),
		s.relMode)
}

// release drops the cache and the queue and forces a GC that returns free pages to the OS.
func (s *state) release() int64 {
	s.mu.Lock()
	s.cache = nil
	s.queue.Init()
	freed := s.cacheB.Swap(0) + s.queueB.Swap(0)
	s.cacheN.Store(0)
	s.queueN.Store(0)
	s.mu.Unlock()
	debug.FreeOSMemory()
	s.releases.Add(1)
	return freed
}

func (s *state) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if r.Method != http.MethodGet {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	jsonReply := func(body string) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}
	switch r.URL.Path {
	case "/health":
		fmt.Fprint(w, "ok\n")
	case "/stats":
		jsonReply(s.statsJSON())
	case "/release":
		freed := s.release()
		jsonReply(fmt.Sprintf(`{"freed_bytes":%d,"trimmed":true}`+"\n", freed))
	case "/work":
		kb, err := queryNum(r, "kb", 64, maxKB)
		ms, err2 := queryNum(r, "ms", 20, maxMS)
		if err == nil {
			err = err2
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n := int64(kb * 1024)
		s.inflight.Add(1)
		s.workB.Add(n)
		buf, sum := touched(int(n))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		runtime.KeepAlive(buf)
		s.workB.Add(-n)
		s.inflight.Add(-1)
		jsonReply(fmt.Sprintf(`{"bytes":%d,"held_ms":%d,"sum":%d}`+"\n", len(buf), ms, sum))
	case "/cache", "/queue":
		kb, err := queryNum(r, "kb", 64, maxKB)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		buf, _ := touched(int(kb * 1024))
		n := int64(len(buf))
		s.mu.Lock()
		if r.URL.Path == "/cache" {
			s.cache = append(s.cache, buf)
			s.cacheN.Add(1)
			total := s.cacheB.Add(n)
			s.mu.Unlock()
			jsonReply(fmt.Sprintf(`{"added_bytes":%d,"cache_bytes":%d}`+"\n", n, total))
		} else {
			s.queue.PushBack(buf)
			s.queueN.Add(1)
			total := s.queueB.Add(n)
			s.mu.Unlock()
			jsonReply(fmt.Sprintf(`{"added_bytes":%d,"queue_bytes":%d}`+"\n", n, total))
		}
	default:
		http.Error(w, "endpoints: /health /work /cache /queue /release /stats", http.StatusNotFound)
	}
}

// drain is the slow consumer of the unbounded queue: one item per period.
func (s *state) drain(period time.Duration) {
	for range time.Tick(period) {
		s.mu.Lock()
		if e := s.queue.Front(); e != nil {
			b := s.queue.Remove(e).([]byte)
			s.queueB.Add(-int64(len(b)))
			s.queueN.Add(-1)
			s.drained.Add(1)
		}
		s.mu.Unlock()
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func die(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "demo-go-svc: "+format+"\n", a...)
	flag.Usage()
	os.Exit(2)
}

func main() {
	listen := flag.String("listen", envOr("DEMO_LISTEN", "127.0.0.1:8080"),
		"loopback address to serve on (env DEMO_LISTEN; port 0 = any)")
	drainMS := flag.Int("drain-ms", 0, "the queue drainer frees one item every N ms (env DEMO_DRAIN_MS; default 100)")
	relMode := flag.Bool("release", os.Getenv("DEMO_RELEASE") != "" && os.Getenv("DEMO_RELEASE") != "0",
		"release mode: debug.FreeOSMemory() every --release-ms (env DEMO_RELEASE=1)")
	relMS := flag.Int("release-ms", 0, "period of the release mode (env DEMO_RELEASE_MS; default 1000)")
	flag.Parse()
	if flag.NArg() > 0 {
		die("unknown argument '%s'", flag.Arg(0))
	}
	num := func(name string, v int, env string, def, min, max int) time.Duration {
		if v == 0 {
			var err error
			if v, err = strconv.Atoi(envOr(env, strconv.Itoa(def))); err != nil {
				die("%s '%s' is not an integer", env, os.Getenv(env))
			}
		}
		if v < min || v > max {
			die("--%s %d is not in %d..=%d", name, v, min, max)
		}
		return time.Duration(v) * time.Millisecond
	}
	drain := num("drain-ms", *drainMS, "DEMO_DRAIN_MS", 100, 1, 3600000)
	relPeriod := num("release-ms", *relMS, "DEMO_RELEASE_MS", 1000, 10, 3600000)

	host, _, err := net.SplitHostPort(*listen)
	ip := net.ParseIP(host)
	if err != nil || ip == nil {
		die("--listen '%s' is not ADDR:PORT (e.g. 127.0.0.1:8080, [::1]:8080)", *listen)
	}
	if !ip.IsLoopback() {
		die("--listen '%s' is not a loopback address (127.0.0.0/8 or ::1)", *listen)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo-go-svc: cannot listen on %s: %v\n", *listen, err)
		os.Exit(1)
	}

	s := &state{queue: list.New(), relMode: *relMode}
	go s.drain(drain)
	if *relMode {
		go func() {
			// Only free pages go back; the cache and the queue are the service's data.
			for range time.Tick(relPeriod) {
				debug.FreeOSMemory()
				s.releases.Add(1)
			}
		}()
	}
	// The bound address (port 0 picks one): scripts read this line.
	fmt.Printf("demo-go-svc listening on %s\n", ln.Addr())
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler()) // the default registry: Go runtime and process collectors
	mux.Handle("/", s)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintf(os.Stderr, "demo-go-svc: server error: %v\n", err)
		os.Exit(1)
	}
}
