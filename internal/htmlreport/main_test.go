package htmlreport_test

import (
	"testing"

	"github.com/loadlab/loadlab/internal/testenv"
)

// TestMain keeps the default store and spool of every test in a temporary directory (testenv.Main).
func TestMain(m *testing.M) { testenv.Main(m) }
