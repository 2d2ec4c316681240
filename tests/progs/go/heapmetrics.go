// heapmetrics: a Go service with a known live heap, for tests/it_heap_metrics.sh. It holds
// HOLD_MIB MiB in 1 MiB slices (every byte written, so it is resident), runs a GC so the heap
// figures are after one, and serves /metrics by hand with runtime.MemStats under the names of
// Prometheus' Go client library (std only: builds offline). It prints "served N" on stdout after
// its N-th page, and with SERVES exits (status 0) after that many: a test waits for the polls it
// needs, however slow the machine, instead of a fixed duration.
// Usage: heapmetrics ADDR HOLD_MIB [SERVES]
package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

var hold [][]byte

var (
	mu     sync.Mutex
	served int
	serves int // 0: serve until killed
)

func metrics(w http.ResponseWriter, r *http.Request) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	var b bytes.Buffer
	page(&b, &m)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Write(b.Bytes())
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	mu.Lock()
	served++
	n := served
	mu.Unlock()
	fmt.Printf("served %d\n", n) // unbuffered: a test waits for this line
	if serves > 0 && n >= serves {
		os.Exit(0)
	}
}

func page(w *bytes.Buffer, m *runtime.MemStats) {
	fmt.Fprintf(w, "# HELP go_memstats_heap_alloc_bytes Number of heap bytes allocated and still in use.\n")
	fmt.Fprintf(w, "# TYPE go_memstats_heap_alloc_bytes gauge\n")
	fmt.Fprintf(w, "go_memstats_heap_alloc_bytes %d\n", m.HeapAlloc)
	fmt.Fprintf(w, "go_memstats_heap_idle_bytes %d\n", m.HeapIdle)
	fmt.Fprintf(w, "go_memstats_heap_inuse_bytes %d\n", m.HeapInuse)
	fmt.Fprintf(w, "go_memstats_heap_released_bytes %d\n", m.HeapReleased)
	fmt.Fprintf(w, "go_memstats_next_gc_bytes %d\n", m.NextGC)
	fmt.Fprintf(w, "go_gc_duration_seconds{quantile=\"0.5\"} 1.2e-05\n")
	fmt.Fprintf(w, "go_gc_duration_seconds_count %d\n", m.NumGC)
	fmt.Fprintf(w, "go_info{version=%q} 1\n", runtime.Version())
}

func main() {
	if len(os.Args) != 3 && len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: heapmetrics ADDR HOLD_MIB [SERVES]")
		os.Exit(2)
	}
	if len(os.Args) == 4 {
		n, err := strconv.Atoi(os.Args[3])
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "SERVES must be a count of at least 1")
			os.Exit(2)
		}
		serves = n
	}
	mib, err := strconv.Atoi(os.Args[2])
	if err != nil || mib < 0 {
		fmt.Fprintln(os.Stderr, "HOLD_MIB must be a count")
		os.Exit(2)
	}
	for i := 0; i < mib; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = byte(i + j)
		}
		hold = append(hold, b)
	}
	runtime.GC()
	http.HandleFunc("/metrics", metrics)
	go func() {
		// keep the set alive and the GC cycling a little, as a service would
		for {
			time.Sleep(200 * time.Millisecond)
			_ = make([]byte, 64<<10)
			runtime.KeepAlive(hold)
		}
	}()
	if err := http.ListenAndServe(os.Args[1], nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
