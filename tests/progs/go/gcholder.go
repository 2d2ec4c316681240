// gcholder: a Go program with a known live heap and a known output, for tests/it_heap_gctrace.sh
// (std only: builds offline). Usage: gcholder HOLD_MIB CYCLES [chatter]
//
// It holds HOLD_MIB MiB in 1 MiB slices (every byte written, so it is resident), then makes
// 1 MiB of garbage in 256 KiB slices every 2 ms until CYCLES more GC cycles have finished, and
// exits (with chatter: CYCLES rounds of its script, each with a forced cycle). The runtime counts as marked what is allocated while a cycle marks (allocate-black):
// at this pace that is a few hundred KiB, so the live heap after each cycle is the held set
// within a MiB (gctrace's figure is also truncated to whole MiB).
// With "chatter", it also writes a fixed script to stdout and stderr between cycles: whole and
// partial lines, binary bytes, the two streams interleaved, lines that begin like the runtime's
// GC trace and are not, a long line. Its output is the same on every run, so a run under
// headroom can be compared with one without, byte for byte.
// tests/fixtures/gctrace/go1.19.8-hold64.txt was captured from an earlier form of it (64 MiB,
// then twenty 4 MiB slices and debug.FreeOSMemory) with GODEBUG=gctrace=1,scavtrace=1.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

var hold [][]byte

func chatter(step int) {
	out, errw := os.Stdout, os.Stderr
	switch step % 6 {
	case 0:
		fmt.Fprintf(out, "step %d: a whole line to stdout\n", step)
		fmt.Fprintf(errw, "step %d: a whole line to stderr\n", step)
	case 1:
		// a partial line on each stream, finished later, the streams interleaved
		errw.Write([]byte("partial on stderr ... "))
		out.Write([]byte("partial on stdout ... "))
		errw.Write([]byte("gc "))
		out.Write([]byte("done\n"))
		errw.Write([]byte("is not a trace\n"))
	case 2:
		// bytes a terminal would act on, a NUL, invalid UTF-8, CR without LF
		b := []byte{0, 1, 2, 0x1b, '[', '3', '1', 'm', 0xff, 0xfe, '\r', 'x', '\n'}
		errw.Write(b)
		out.Write(b[3:])
	case 3:
		// lines that begin like the runtime's and differ before their end
		errw.Write([]byte("gc 1 @0.001s 0%: not the runtime\n"))
		errw.Write([]byte("scav 12 KiB work, whatever\n"))
		errw.Write([]byte("GC forced, said the program\n"))
		errw.Write([]byte("gc 3 @0.020s 1%: 0.1+0.2+0.3 ms clock, 0.1+0/0.1/0.1+0.1 ms cpu, 4->4->2 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P!\n"))
	case 4:
		// a line longer than the pipe's buffer, to stderr
		errw.Write([]byte(strings.Repeat("0123456789abcdef", 8192) + "\n"))
	case 5:
		// a partial line left open across a GC cycle: the runtime's line comes in the middle
		errw.Write([]byte("open across a cycle: "))
	}
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: gcholder HOLD_MIB CYCLES [chatter]")
		os.Exit(2)
	}
	mib, err1 := strconv.Atoi(os.Args[1])
	cycles, err2 := strconv.Atoi(os.Args[2])
	if err1 != nil || err2 != nil || mib < 0 || cycles < 0 {
		fmt.Fprintln(os.Stderr, "HOLD_MIB and CYCLES must be counts")
		os.Exit(2)
	}
	talk := len(os.Args) > 3 && os.Args[3] == "chatter"
	if talk {
		// a program that checks for a terminal must still find one under headroom
		st, err := os.Stderr.Stat()
		fmt.Printf("stderr is a terminal: %v\n", err == nil && st.Mode()&os.ModeCharDevice != 0)
	}
	for i := 0; i < mib; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = byte(i + j)
		}
		hold = append(hold, b)
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	start := m.NumGC
	for step := 0; ; step++ {
		// chatter: a fixed script of CYCLES rounds of 6 steps, each round ending in a forced
		// cycle, so its output does not depend on how fast the collector went
		runtime.ReadMemStats(&m)
		if (!talk && int(m.NumGC-start) >= cycles) || (talk && step == 6*cycles) {
			break
		}
		if talk {
			chatter(step)
			if step%6 == 5 {
				// the runtime's line lands inside the open line. Its ~30 writes come from
				// whichever goroutine ends the cycle, while this one goes on: a write of ours
				// between two of them would cut the runtime's line, with or without headroom
				// (docs/heap.md), so this one waits until the line is surely out.
				runtime.GC()
				time.Sleep(20 * time.Millisecond)
				os.Stderr.Write([]byte("closed after it\n"))
			}
		}
		for k := 0; k < 4; k++ {
			g := make([]byte, 256<<10)
			g[k] = byte(step)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if talk {
		os.Stdout.Write([]byte("no newline at the end of stdout"))
		os.Stderr.Write([]byte("nor of stderr"))
	}
	runtime.KeepAlive(hold)
}
