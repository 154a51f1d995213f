// Package panics turns a panic into an error. Every goroutine a run starts
// (executor workers and virtual users, the pacer and housekeeping, the
// runner's loop, the modes and their helpers, the store writer) defers
// Recover, so that a bug in one run ends that run as failed, with the panic's
// value and stack kept, instead of killing the process and every other run
// it holds (loadgen serve).
//
//	go func() {
//		defer panics.Recover("executor worker", e.fail) // e.fail(*panics.Error) stops the run
//		work()
//	}()
//
//	err := panics.Catch("runner", func() error { return loop() }) // a panic comes back as *panics.Error
package panics

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
)

// Error is a recovered panic: where it happened, the value given to panic
// and the stack of the goroutine that panicked.
type Error struct {
	Where string // what was running, e.g. "executor worker"
	Value any
	Stack []byte
}

// Error is one line: "panic in WHERE: VALUE".
func (e *Error) Error() string {
	msg := fmt.Sprint(e.Value)
	msg = strings.Join(strings.Fields(msg), " ")
	if e.Where == "" {
		return "panic: " + msg
	}
	return "panic in " + e.Where + ": " + msg
}

// Unwrap returns the panic value when it is an error (a runtime.Error, say).
func (e *Error) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// New returns the Error for a value recovered in where, with the current
// goroutine's stack: call it from the deferred function that recovered.
func New(where string, v any) *Error {
	return &Error{Where: where, Value: v, Stack: debug.Stack()}
}

// Recover, deferred directly (defer panics.Recover(where, handle)), stops a
// panic of the goroutine and hands it to handle as an *Error. It does
// nothing when the goroutine is not panicking.
func Recover(where string, handle func(*Error)) {
	v := recover()
	if v == nil {
		return
	}
	handle(New(where, v))
}

// Catch runs f and returns its error, or an *Error when f panicked.
func Catch(where string, f func() error) (err error) {
	defer Recover(where, func(pe *Error) { err = pe })
	return f()
}

// As returns the *Error in err's chain, or nil.
func As(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}
