package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadlab/loadlab/internal/store"
	"github.com/loadlab/loadlab/internal/store/sqlitestore"
	"github.com/loadlab/loadlab/internal/store/storetest"
)

func TestRunsCommand(t *testing.T) {
	dir := t.TempDir()
	url := "sqlite://" + filepath.Join(dir, "loadgen.db")
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "loadgen.db"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	for i, id := range []string{"run-a", "run-b"} {
		r := &store.Run{ID: id, Plan: "checkout", Type: store.TypeLoad, Status: store.StatusRunning, CreatedAt: t0.Add(time.Duration(i) * time.Hour)}
		if err := st.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		s, _ := store.NewStepResult("journey", "login", 1000, int64(i*10), storetest.Histogram(uint64(i), 1000, time.Duration(i+1)*time.Millisecond), time.Minute)
		if err := st.AddStepResults(ctx, id, []store.StepResult{s}); err != nil {
			t.Fatal(err)
		}
		verdict := []store.Verdict{store.VerdictPassed, store.VerdictThresholdsFailed}[i]
		if err := st.FinishRun(ctx, id, store.Finish{Status: store.StatusCompleted, Verdict: verdict, EndedAt: r.CreatedAt.Add(time.Minute),
			SummaryText: "summary of " + id + "\n"}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	spool := "--spool=" + filepath.Join(dir, "spool")
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"list", []string{"runs", "list", "--store", url, spool}, exitOK, []string{"run-b", "run-a", "completed", "VERDICT", "thresholds failed", "passed"}},
		{"list verdict", []string{"runs", "list", "--store", url, spool, "--verdict", "thresholds_failed"}, exitOK, []string{"run-b"}},
		{"list bogus status", []string{"runs", "list", "--store", url, spool, "--status", "bogus"}, exitUsage, nil},
		{"list bogus verdict", []string{"runs", "list", "--store", url, spool, "--verdict", "great"}, exitUsage, nil},
		{"list bogus type", []string{"runs", "list", "--store", url, spool, "--type", "soak"}, exitUsage, nil},
		{"list filter", []string{"runs", "list", "--store=" + url, spool, "--status", "failed"}, exitOK, []string{"(no runs)"}},
		{"show", []string{"runs", "show", "run-a", "--store", url, spool}, exitOK, []string{"summary of run-a\n"}},
		{"compare", []string{"runs", "compare", "--store", url, spool, "run-a", "run-b"}, exitOK, []string{"journey/login", "(all)", "+1.00"}},
		{"show missing", []string{"runs", "show", "--store", url, spool, "nope"}, exitUsage, nil},
		{"show no id", []string{"runs", "show", "--store", url, spool}, exitUsage, nil},
		{"unknown sub", []string{"runs", "delete", "--store", url, spool}, exitUsage, nil},
		{"bad store", []string{"runs", "list", "--store", "postgres://x", spool}, exitUsage, nil}, // as in every command
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != tt.code {
				t.Fatalf("loadgen %s = exit %d; want %d (stderr %q)", strings.Join(tt.args, " "), code, tt.code, errb.String())
			}
			if tt.name == "show missing" && !strings.Contains(errb.String(), "run nope: not found in sqlite://") {
				t.Errorf("runs show nope: stderr %q; want it to say the run is not in the store", errb.String())
			}
			if tt.name == "list verdict" && strings.Contains(out.String(), "run-a") {
				t.Errorf("runs list --verdict thresholds_failed listed run-a (passed):\n%s", out.String())
			}
			for _, c := range tt.contains {
				if !strings.Contains(out.String(), c) {
					t.Errorf("loadgen %s output lacks %q:\n%s", strings.Join(tt.args, " "), c, out.String())
				}
			}
		})
	}

	// --json on each subcommand parses.
	for _, args := range [][]string{
		{"runs", "list", "--json", "--store", url, spool},
		{"runs", "show", "--json", "--store", url, spool, "run-b"},
		{"runs", "compare", "--json", "--store", url, spool, "run-a", "run-b"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != exitOK {
			t.Fatalf("loadgen %v = %d (%s)", args, code, errb.String())
		}
		var v any
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			t.Errorf("loadgen %v printed invalid JSON: %v\n%s", args, err, out.String())
		}
	}
	t.Setenv(store.EnvURL, url)
	var out, errb bytes.Buffer
	if code := run([]string{"runs", "list", "--json", spool}, &out, &errb); code != exitOK || !strings.Contains(out.String(), `"run-a"`) {
		t.Errorf("runs list with %s = %d, %q; want both runs", store.EnvURL, code, out.String())
	}
}

// TestRunsWarnsAboutParkedRecords: while records the store refused are
// parked, every `loadgen runs` says how many and where; once the store takes
// them on retry, the warning goes away.
func TestRunsWarnsAboutParkedRecords(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "loadgen.db")
	spoolDir := filepath.Join(dir, "spool")
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	w := store.NewWriter(st, store.WithSpoolDir(spoolDir), store.WithReplayOnStart(false))
	w.FinishRun(ctx, "orphan", store.Finish{Status: store.StatusCompleted, EndedAt: time.Now()}) // no such run: refused
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	stats, _ := w.Close(cctx)
	cancel()
	if stats.Rejected != 1 {
		t.Fatalf("writer stats = %+v; want 1 record parked", stats)
	}
	args := []string{"runs", "list", "--store", "sqlite://" + dbPath, "--spool", spoolDir}
	var out, errb bytes.Buffer
	if code := run(args, &out, &errb); code != exitOK {
		t.Fatalf("runs list = %d (%s)", code, errb.String())
	}
	want := "WARNING: 1 record(s) the store refused are parked in " + stats.RejectFile
	if !strings.Contains(errb.String(), want) || !strings.Contains(errb.String(), "retried at the next start") {
		t.Errorf("stderr = %q; want %q", errb.String(), want)
	}
	// The run shows up: the next `runs` writes the parked finish and stops warning.
	if err := st.CreateRun(ctx, &store.Run{ID: "orphan", Type: store.TypeLoad, Status: store.StatusRunning}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out.Reset()
	errb.Reset()
	if code := run(args, &out, &errb); code != exitOK || strings.Contains(errb.String(), "WARNING") || !strings.Contains(out.String(), "completed") {
		t.Errorf("runs list after the retry = %d, stdout %q, stderr %q; want the run completed and no warning", code, out.String(), errb.String())
	}
}
