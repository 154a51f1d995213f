package plan

import (
	"os"
	"testing"
)

func TestScratch(t *testing.T) {
	f := os.Getenv("PLANFILE")
	if f == "" {
		t.Skip()
	}
	p, err := LoadFile(f)
	if err != nil {
		t.Log("\n" + err.Error())
		return
	}
	t.Logf("%+v", p)
}
