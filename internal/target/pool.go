package target

import (
	"context"
	"errors"
	"sync/atomic"
)

// errOverloaded is returned by pool.acquire when every worker is busy and the
// queue is full.
var errOverloaded = errors.New("overloaded")

// pool is the capacity model: workers that a request holds for its service
// time, and a bounded FIFO queue of requests waiting for one.
type pool struct {
	sem    chan struct{} // one token per busy worker; nil = no pool
	queue  int64         // most waiters
	queued atomic.Int64  // bounded waiters now
	held   atomic.Int64  // waiters released by a stall (not bounded)
}

func newPool(workers, queue int) *pool {
	p := &pool{queue: int64(queue)}
	if workers > 0 {
		p.sem = make(chan struct{}, workers)
	}
	return p
}

// acquire takes a worker, waiting in the queue if all are busy. It fails at
// once with errOverloaded when the queue is full too. Waiters are served in
// arrival order (a channel's blocked senders are woken FIFO).
//
// A request that a stall held (afterStall) waits without the queue's bound:
// a stall adds latency but never causes a 503 by itself. It still counts in
// the queue length while it waits.
func (p *pool) acquire(ctx context.Context, afterStall bool) error {
	if p.sem == nil {
		return nil
	}
	select {
	case p.sem <- struct{}{}:
		return nil
	default:
	}
	if afterStall {
		p.held.Add(1)
		defer p.held.Add(-1)
	} else {
		if p.queued.Add(1) > p.queue {
			p.queued.Add(-1)
			return errOverloaded
		}
		defer p.queued.Add(-1)
	}
	select {
	case p.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pool) release() {
	if p.sem != nil {
		<-p.sem
	}
}

func (p *pool) workers() int { return cap(p.sem) }
func (p *pool) inUse() int   { return len(p.sem) }
func (p *pool) waiting() int { return int(p.queued.Load() + p.held.Load()) }
