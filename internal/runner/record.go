package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/report"
	"github.com/loadlab/loadlab/internal/store"
)

// journal keeps a run in its Sink: created as running at the start, a snapshot every SnapshotInterval, the kind's
// results and the report at the end. A write error never stops the run: the first one is kept and said in the
// report's store line.
type journal struct {
	failed   error
	lastSnap time.Time
	lastHost time.Time  // of the last host sample
	host     [2]float64 // host CPU and memory percent, as last sampled
	prev     [2]uint64  // requests and errors at the previous snapshot
	base     [2]uint64  // requests and errors of the run's engines that have ended
}

func (rc *journal) fail(what string, err error) {
	if err != nil && rc.failed == nil {
		rc.failed = fmt.Errorf("%s: %w", what, err)
	}
}

// write applies f to the run's sink (nothing when the run is not recorded), logging and keeping a failure.
func (r *Run) write(what string, f func(ctx context.Context, sk store.Sink) error) {
	if r.Sink == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f(ctx, r.Sink); err != nil {
		r.Log.Warn("store: "+what+" failed", "err", err)
		r.rec.fail(what, err)
	}
}

// start creates the run with status running.
func (rc *journal) start(ctx context.Context, r *Run) {
	at := r.StartedAt
	r.write("create run", func(ctx context.Context, sk store.Sink) error {
		return sk.CreateRun(ctx, &store.Run{ID: r.ID, Name: r.Plan.Name, Plan: r.Plan.Name, Type: store.Type(r.Type),
			Status: store.StatusRunning, PlanYAML: r.Plan.StoredYAML(), Owner: store.Owner(), CreatedAt: at, StartedAt: at,
			HeartbeatAt: at})
	})
	if r.Sink != nil {
		store.SettleStart(ctx, r.Sink) // the record must outlive a SIGKILL of this process
	}
}

// snapshot stores one point of the run's time series when it is due: every SnapshotInterval during the run's
// first SnapshotFineFor, every SnapshotCoarseInterval after. Requests and errors count from the run's start,
// across its engines.
func (rc *journal) snapshot(ctx context.Context, r *Run, now time.Time, s executor.Snapshot) {
	every := SnapshotInterval
	if now.Sub(r.StartedAt) > SnapshotFineFor {
		every = SnapshotCoarseInterval
	}
	if r.Sink == nil || now.Sub(rc.lastSnap) < every-r.ProgressInterval/2 {
		return
	}
	rc.lastSnap = now
	reqs, errs := rc.base[0]+s.Requests, rc.base[1]+s.Errors
	var er float64 // over the interval since the previous snapshot
	if d := reqs - rc.prev[0]; d > 0 {
		er = float64(errs-rc.prev[1]) / float64(d)
	}
	rc.prev = [2]uint64{reqs, errs}
	snap := store.Snapshot{
		TS: now.Truncate(time.Millisecond), Phase: s.Phase, RPS: s.AchievedRPS, TargetRPS: s.IntendedRate,
		ErrorRate: er, P50Ms: store.Ms(s.P50), P90Ms: store.Ms(s.P90), P95Ms: store.Ms(s.P95), P99Ms: store.Ms(s.P99),
		InFlight: s.InFlight, VUs: s.VUs, Requests: int64(reqs), Errors: int64(errs),
		CPUPct: r.cpu.lastPct, MemBytes: r.cpu.rssBytes(),
		ServiceP50Ms: store.Ms(s.ServiceP50), ServiceP90Ms: store.Ms(s.ServiceP90), ServiceP99Ms: store.Ms(s.ServiceP99),
	}
	// The host's figures cost a read of a dozen /proc files (about 15 ms on a busy 2-core box, on the generator's
	// own cores): they are sampled every HostSampleInterval and repeated in the snapshots between.
	if now.Sub(rc.lastHost) >= HostSampleInterval-r.ProgressInterval/2 {
		rc.lastHost = now
		hs, _ := r.host.Sample(ctx) // a failed read leaves its figure at 0
		rc.host = [2]float64{hs.Host.CPUUsageRatio * 100, 0}
		if hs.Host.MemoryTotalBytes > 0 {
			rc.host[1] = float64(hs.Host.MemoryUsedBytes) / float64(hs.Host.MemoryTotalBytes) * 100
		}
	}
	snap.HostCPUPct, snap.HostMemPct = rc.host[0], rc.host[1]
	r.write("add snapshot", func(ctx context.Context, sk store.Sink) error {
		return sk.AddSnapshots(ctx, r.ID, []store.Snapshot{snap})
	})
}

// engineEnded adds an ended engine's counts to the run's.
func (rc *journal) engineEnded(s executor.Snapshot) {
	rc.base[0] += s.Requests
	rc.base[1] += s.Errors
}

// finish writes the end of the run (status, error, totals, the report as JSON and as printed) and says where the
// run was recorded: with a *store.Writer, whether it had to spool (it waits up to FlushTimeout for the store).
func (rc *journal) finish(ctx context.Context, r *Run, rep Report, text string) *report.StoreInfo {
	if r.Sink == nil {
		return nil
	}
	f := store.Finish{Status: r.Status, Error: r.Error, EndedAt: r.EndedAt, Totals: r.totals, SummaryText: text}
	if rep != nil {
		f.Verdict = VerdictOf(rep)
		js, err := json.Marshal(rep)
		rc.fail("encode the report", err)
		f.SummaryJSON = js
	}
	// The run's end is written even when ctx was cancelled (an interrupted run is still stored).
	r.write("finish run", func(ctx context.Context, sk store.Sink) error { return sk.FinishRun(ctx, r.ID, f) })
	info := &report.StoreInfo{URL: store.Redacted(r.StoreURL)}
	if w, ok := r.Sink.(*store.Writer); ok {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.FlushTimeout)
		defer cancel()
		stats, _ := w.Flush(fctx)
		info.Spooled, info.Message = stats.HadToSpool() || stats.Pending > 0 || stats.Down, stats.Summary()
		if stats.Pending > 0 {
			info.Unwritten, info.Spool = stats.Pending, stats.SpoolFile
		}
	}
	if rc.failed != nil && info.Message == "" {
		info.Message = "not fully recorded: " + oneLine(rc.failed.Error())
	}
	return info
}
