package main

import (
	"bufio"
	"context"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/testenv"
)

// TestBinarySIGTERM builds bin/target's source, runs it, and checks that
// SIGTERM lets an in-flight request finish and exits 0.
func TestBinarySIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := testenv.BuildBinary(ctx, t, t.TempDir(), "./cmd/target")
	cmd := exec.CommandContext(ctx, bin, "--addr", "127.0.0.1:0", "--service-time", "500ms", "--workers", "2")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() // only if the test fails half-way; a no-op after Wait
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatalf("no output; stderr:\n%s", stderr.String())
	}
	addr, ok := strings.CutPrefix(sc.Text(), "target listening on ")
	if !ok {
		t.Fatalf("first line = %q; want the listening address", sc.Text())
	}
	url := "http://" + addr

	type result struct {
		code int
		err  error
	}
	got := make(chan result, 1)
	sent := time.Now()
	go func() {
		resp, err := http.Get(url + "/api/teams")
		if err != nil {
			got <- result{err: err}
			return
		}
		resp.Body.Close()
		got <- result{code: resp.StatusCode}
	}()
	// Wait until the request holds a worker, as the target's own gauge says.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url + "/metrics")
		if err == nil {
			var b strings.Builder
			bufio.NewReader(resp.Body).WriteTo(&b)
			resp.Body.Close()
			if strings.Contains(b.String(), "\ntarget_pool_in_use 1\n") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the request never took a worker")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil || r.code != 200 {
		t.Errorf("in-flight request across SIGTERM = %d, %v; want 200", r.code, r.err)
	}
	if took := time.Since(sent); took < 500*time.Millisecond {
		t.Errorf("in-flight request took %v; want >= its 500ms service time", took)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("target exit after SIGTERM: %v; want 0; stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "target stopped") {
		t.Errorf("stderr lacks the shutdown log:\n%s", stderr.String())
	}
}
