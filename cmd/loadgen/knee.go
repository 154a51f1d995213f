package main

import (
	"context"
	"io"

	"github.com/loadlab/loadlab/internal/plan"
)

func init() {
	register("knee", "step the load up, find the knee, fit the Universal Scalability Law, name the saturated resource",
		func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return modeCmd(ctx, plan.TypeKnee, args, stdout, stderr)
		})
}
