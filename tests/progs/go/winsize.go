// winsize: a Go program that says the size of the terminal on its stderr, at the start and after
// each SIGWINCH, for tests/it_heap_gctrace.sh (std only: builds offline). Usage: winsize ROWS COLS
//
// It exits 0 once the size it reads is ROWS x COLS, 1 after 30 s without (a resize that never
// reached its stderr's terminal).
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
	"unsafe"
)

type winsize struct{ Row, Col, X, Y uint16 }

func size() string {
	var ws winsize
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, 2, syscall.TIOCGWINSZ, uintptr(unsafe.Pointer(&ws)))
	if e != 0 {
		return "unknown"
	}
	return fmt.Sprintf("%d %d", ws.Row, ws.Col)
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: winsize ROWS COLS")
		os.Exit(2)
	}
	want := os.Args[1] + " " + os.Args[2]
	c := make(chan os.Signal, 8)
	signal.Notify(c, syscall.SIGWINCH) // before the first read: no resize is missed
	fmt.Fprintf(os.Stderr, "size %s\n", size())
	deadline := time.After(30 * time.Second)
	for {
		select {
		case <-c:
			s := size()
			fmt.Fprintf(os.Stderr, "size %s\n", s)
			if s == want {
				return
			}
		case <-deadline:
			fmt.Fprintln(os.Stderr, "no resize seen")
			os.Exit(1)
		}
	}
}
