package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/testenv"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// buildBinaries builds bin/loadgen and bin/target once into a temp dir.
func buildBinaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "loadlab-control-bin")
		if err != nil {
			buildErr = err
			return
		}
		// BuildBinary fails the test that builds; the tests after it fail with this.
		buildErr = errors.New("building bin/loadgen and bin/target failed in an earlier test")
		for _, pkg := range []string{"./cmd/loadgen", "./cmd/target"} {
			testenv.BuildBinary(context.Background(), t, dir, pkg)
		}
		binDir, buildErr = dir, nil
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// TestWalkthrough runs docs/api-walkthrough.sh: the curl walkthroughs of
// README.md and docs/api.md as written, against the built bin/target and
// bin/loadgen serve.
func TestWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("the walkthrough takes about 80 s")
	}
	for _, tool := range []string{"curl", "jq", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Unavailable(t, "walkthrough needs %s: %v", tool, err)
		}
	}
	bin := buildBinaries(t)
	root := testenv.RepoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "docs", "api-walkthrough.sh"))
	cmd.Env = append(os.Environ(), "BIN="+bin, "TARGET_ADDR="+testenv.FreeAddr(t), "API_ADDR="+testenv.FreeAddr(t), "WORK="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("api-walkthrough.sh: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"api-walkthrough: README.md", // README's walkthrough, run first
		`{"status":"completed","verdict":"passed"`,
		"\tload\tcompleted\tpassed", // runs list with the verdict
		"api-walkthrough: docs/api.md",
		`"status": "ok"`,
		`"status": "completed"`,        // the load test
		`"status":"aborted"`,           // the cancelled open-model run
		`"overrides":{"rate":60}`,      // the PATCH
		`the rate cap (--max-rate) is`, // 422
		`is not in the allow-list`,     // 403
		`load.phases[0].duration: must be > 0`,
		`refused as a DNS-rebinding defence`,                                 // the browser attack: Host
		`cross-origin request from \"http://evil.example\" refused`,          // Origin
		`content type \"application/x-www-form-urlencoded\" is not accepted`, // a form's stop-all
		"teams\tp50",           // benchmark table
		`"state": "COMPLETED"`, // stress
		"walkthrough-stress\tcompleted",
		`loadgen_run_info{`,
		"api-walkthrough: OK",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("walkthrough output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// startServe runs bin/loadgen serve and waits for its health endpoint.
func startServe(t *testing.T, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	addr := testenv.FreeAddr(t)
	cmd := exec.Command(filepath.Join(bin, "loadgen"), append([]string{"serve", "--addr", addr}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/api/health")
		if err == nil {
			resp.Body.Close()
			return cmd, "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not come up: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, b)
	}
	return m
}

// startRunning starts a one-minute open-model run against targetURL over serve's API at api and waits until it
// is running.
func startRunning(t *testing.T, api, targetURL string) Started {
	t.Helper()
	resp, err := http.Post(api+"/api/tests/start", "application/yaml", strings.NewReader(openPlan(targetURL, 10, time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	var started Started
	json.NewDecoder(resp.Body).Decode(&started)
	resp.Body.Close()
	waitFor(t, func() bool { return getJSON(t, api+"/api/tests/runs/"+started.RunID)["status"] == "running" })
	return started
}

// TestServeRestartMarksInterrupted: a run whose serve process is killed is
// shown as interrupted by the next serve on the same store.
func TestServeRestartMarksInterrupted(t *testing.T) {
	bin := buildBinaries(t)
	tgt := startTarget(t)
	storeURL := "sqlite://" + t.TempDir() + "/runs.db"
	cmd, api := startServe(t, bin, "--store", storeURL)
	started := startRunning(t, api, tgt.URL)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	_, api2 := startServe(t, bin, "--store", storeURL)
	got := getJSON(t, api2+"/api/tests/runs/"+started.RunID)
	if got["status"] != "interrupted" {
		t.Fatalf("after a restart, run %s = %v; want status interrupted", started.RunID, got)
	}
}

// TestServeGracefulStopInterrupts: SIGTERM stops the active run and records
// it as interrupted before serve exits 0.
func TestServeGracefulStopInterrupts(t *testing.T) {
	bin := buildBinaries(t)
	tgt := startTarget(t)
	storeURL := "sqlite://" + t.TempDir() + "/runs.db"
	cmd, api := startServe(t, bin, "--store", storeURL)
	started := startRunning(t, api, tgt.URL)
	t0 := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v", err)
	}
	t.Logf("serve stopped %v after SIGTERM", time.Since(t0))
	_, api2 := startServe(t, bin, "--store", storeURL)
	if got := getJSON(t, api2+"/api/tests/runs/"+started.RunID); got["status"] != "interrupted" {
		t.Fatalf("after SIGTERM, run status = %v; want interrupted", got["status"])
	}
}

// TestServeRefusesOpenAddrWithoutToken: a non-loopback --addr needs a token;
// bad --allow-target, --allowed-host and --cors-origin values exit 2.
func TestServeRefusesOpenAddrWithoutToken(t *testing.T) {
	bin := buildBinaries(t)
	tests := []struct {
		args     []string
		env      string
		wantCode int
		wantText string
	}{
		{[]string{"--addr", "0.0.0.0:0"}, "", 2, "refusing to listen on 0.0.0.0:0 without a token"},
		{[]string{"--addr", ":0"}, "", 2, "refusing to listen on :0 without a token"},
		{[]string{"--addr", "0.0.0.0:0", "--allow-target", "10.0.0.0/33"}, "LOADGEN_TOKEN=x", 2, `allow-target "10.0.0.0/33"`},
		{[]string{"--addr", "127.0.0.1:0", "--cors-origin", "*"}, "", 2, "cors-origin *: any web page could start runs"},
		{[]string{"--addr", "127.0.0.1:0", "--cors-origin", "app.example"}, "", 2, `cors-origin "app.example": want scheme://host[:port]`},
		{[]string{"--addr", "127.0.0.1:0", "--allowed-host", "loadgen:8089"}, "", 2, `allowed-host "loadgen:8089": want a CIDR, an IP, a host name or *.domain (without a port)`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command(filepath.Join(bin, "loadgen"), append([]string{"serve", "--store", "sqlite://" + t.TempDir() + "/x.db"}, tc.args...)...)
			cmd.Env = append(os.Environ(), "LOADGEN_TOKEN=")
			if tc.env != "" {
				cmd.Env = append(cmd.Env, tc.env)
			}
			out, _ := cmd.CombinedOutput()
			if cmd.ProcessState.ExitCode() != tc.wantCode || !strings.Contains(string(out), tc.wantText) {
				t.Fatalf("exit %d, output %q; want exit %d and %q", cmd.ProcessState.ExitCode(), out, tc.wantCode, tc.wantText)
			}
		})
	}
	// with a token, serve starts and says mutating endpoints need it
	startServeOutput(t, bin, "--token", "x")
}

// startServeOutput starts serve with args and returns its first stdout lines.
func startServeOutput(t *testing.T, bin string, args ...string) (*exec.Cmd, []string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "loadgen"), append([]string{"serve", "--addr", "127.0.0.1:0", "--store", "sqlite://" + t.TempDir() + "/x.db"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	var lines []string
	for len(lines) < 3 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 3 || !strings.Contains(lines[1], "every endpoint but /api/health and /metrics needs Authorization: Bearer") {
		t.Fatalf("serve --token output = %q; want the auth line", lines)
	}
	return cmd, lines
}
