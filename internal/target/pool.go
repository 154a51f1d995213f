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
	queued atomic.Int64  // waiters now
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
func (p *pool) acquire(ctx context.Context) error {
	if p.sem == nil {
		return nil
	}
	select {
	case p.sem <- struct{}{}:
		return nil
	default:
	}
	if p.queued.Add(1) > p.queue {
		p.queued.Add(-1)
		return errOverloaded
	}
	defer p.queued.Add(-1)
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
func (p *pool) waiting() int { return int(p.queued.Load()) }
