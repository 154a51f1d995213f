// Command hostile serves internal/testenv/hostile's misbehaving HTTP/1.1
// responses (one behaviour per request path) on a loopback address until
// SIGINT or SIGTERM, for bench/hostile-rss.sh's peak-RSS figures. It is a
// benchmark tool, not part of the product.
//
//	go build -o bin/hostile ./bench/cmd/hostile
//	bin/hostile -addr 127.0.0.1:0     # prints the base URL on stdout, then the paths on stderr
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/loadlab/loadlab/internal/testenv/hostile"
)

func main() { os.Exit(run()) }

func run() int {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on")
	flag.Parse()
	s, err := hostile.Start(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	fmt.Println(s.URL())
	for _, p := range hostile.Paths {
		fmt.Fprintf(os.Stderr, "%-26s %s\n", p.Path, p.Does)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return 0
}
