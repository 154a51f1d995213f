package modes

import (
	"context"
	"fmt"
	"time"

	"github.com/loadlab/loadlab/internal/executor"
	"github.com/loadlab/loadlab/internal/panics"
	"github.com/loadlab/loadlab/internal/plan"
)

// execution is one engine run of a derived plan, started in the background so the mode can watch it.
type execution struct {
	e      *executor.Executor
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// start builds a fresh executor for d and runs it until its schedule ends, ctx ends or stop is called.
func start(ctx context.Context, d *plan.Plan, o Options, extra ...executor.Option) (*execution, error) {
	opts := append([]executor.Option{executor.WithLogger(o.Log)}, extra...)
	opts = append(opts, o.ExecutorOptions...)
	e, err := executor.New(d, opts...)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if o.OnExecutor != nil {
		o.OnExecutor(e)
	}
	rctx, cancel := context.WithCancel(ctx)
	x := &execution{e: e, cancel: cancel, done: make(chan struct{})}
	if o.guard != nil {
		o.guard.engines.Add(1)
	}
	go func() {
		defer close(x.done)
		if o.guard != nil {
			defer o.guard.engines.Done()
		}
		// e.Run turns its goroutines' panics into its error (the mode then fails); this covers the rest.
		defer panics.Recover("engine", func(pe *panics.Error) { x.err = pe })
		x.err = e.Run(rctx)
	}()
	return x, nil
}

// wait waits for the run to end and returns its final results.
func (x *execution) wait() (*executor.Results, error) {
	<-x.done
	x.cancel()
	if x.err != nil {
		return nil, fmt.Errorf("engine: %w", x.err)
	}
	return x.e.Results(), nil
}

// stop ends the run early (a graceful stop) and waits for it.
func (x *execution) stop() (*executor.Results, error) {
	x.cancel()
	return x.wait()
}

// runToEnd runs d to the end of its schedule.
func runToEnd(ctx context.Context, d *plan.Plan, o Options) (*executor.Results, error) {
	x, err := start(ctx, d, o)
	if err != nil {
		return nil, err
	}
	return x.wait()
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// failures returns the errors of c that are the target's or the network's: requests canceled by the mode itself
// (an early stop) are not counted, nor are they counted as requests.
func failures(c *executor.Cell) (requests, errs uint64) {
	if c == nil {
		return 0, 0
	}
	canceled := c.ErrorsByReason[executor.ReasonCanceled]
	return c.Requests - canceled, c.Errors - canceled
}

// connectFailures counts the requests of c that never reached the target.
func connectFailures(c *executor.Cell) uint64 {
	if c == nil {
		return 0
	}
	return c.ErrorsByReason[executor.ReasonDNS] + c.ErrorsByReason[executor.ReasonConnect] +
		c.ErrorsByReason[executor.ReasonTLS]
}
