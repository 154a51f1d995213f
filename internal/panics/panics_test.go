package panics

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func boom() { panic("boom\nsecond line") }

func TestCatch(t *testing.T) {
	err := Catch("worker", func() error { boom(); return nil })
	pe := As(err)
	if pe == nil {
		t.Fatalf("Catch = %v; want a *Error", err)
	}
	if got, want := pe.Error(), "panic in worker: boom second line"; got != want {
		t.Errorf("Error() = %q; want %q (one line)", got, want)
	}
	if !strings.Contains(string(pe.Stack), "panics.boom") {
		t.Errorf("stack does not name the panicking function:\n%s", pe.Stack)
	}
	if err := Catch("x", func() error { return errors.ErrUnsupported }); err != errors.ErrUnsupported {
		t.Errorf("Catch without a panic = %v; want f's error", err)
	}
	if err := Catch("x", func() error { return nil }); err != nil {
		t.Errorf("Catch without a panic = %v; want nil", err)
	}
}

func TestRuntimeErrorUnwraps(t *testing.T) {
	err := Catch("", func() error {
		var m map[string]int
		m["x"] = 1 // assignment to a nil map
		return nil
	})
	var re runtime.Error
	if !errors.As(err, &re) {
		t.Fatalf("Catch = %v; want it to wrap the runtime.Error", err)
	}
	if !strings.HasPrefix(err.Error(), "panic: assignment to entry in nil map") {
		t.Errorf("Error() = %q", err.Error())
	}
	// panic(nil) is a panic too (runtime.PanicNilError since Go 1.21).
	if err := Catch("nil", func() error { panic(nil) }); As(err) == nil {
		t.Errorf("panic(nil): Catch = %v; want a *Error", err)
	}
}

func TestRecoverInGoroutine(t *testing.T) {
	var wg sync.WaitGroup
	var got *Error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer Recover("vu", func(pe *Error) { got = pe })
		boom()
	}()
	wg.Wait()
	if got == nil || got.Where != "vu" || got.Value != "boom\nsecond line" {
		t.Fatalf("Recover handed %+v", got)
	}
	// Not panicking: the handler is not called.
	called := false
	func() { defer Recover("x", func(*Error) { called = true }) }()
	if called {
		t.Error("Recover called its handler without a panic")
	}
}
