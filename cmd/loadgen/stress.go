package main

import (
	"context"
	"io"

	"github.com/loadlab/loadlab/internal/plan"
)

func init() {
	register("stress", "find the highest sustainable request rate: Max sustainable RPS = X | Breakdown at Y RPS",
		func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return modeCmd(ctx, plan.TypeStress, args, stdout, stderr)
		})
}
