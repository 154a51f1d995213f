// Package browsertest is the HTML report's browser test, for any test that writes reports: it opens each page
// from file:// in headless Chromium (chromedp) and checks that it draws every chart, logs no console error and
// makes no network request, writing a PNG screenshot of each. Test code only: it keeps chromedp out of the
// binaries.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/loadlab/loadlab/internal/testenv"
)

// Page is one report to open: its file and the charts it must draw at least.
type Page struct {
	Name   string
	Path   string
	Charts int
}

// chromiumPath finds the headless browser (Debian package chromium; scripts/ensure-chromium.sh installs it).
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Unavailable(t, "no chromium on PATH (run scripts/ensure-chromium.sh or apt-get install chromium)")
	return ""
}

// pageCheck is what the browser saw of one report.
type pageCheck struct {
	Charts    int      `json:"charts"`    // charts the page says it drew (body[data-charts])
	Canvases  int      `json:"canvases"`  // uPlot canvases in the page
	Drawn     int      `json:"drawn"`     // canvases with at least 20 opaque, coloured pixels (a series, not just axes)
	Empty     []string `json:"empty"`     // titles of the charts whose canvas has none
	Sections  int      `json:"sections"`  //
	ErrorText string   `json:"errorText"` // the page's own "could not be drawn" message, if any
}

const inspect = `(() => {
  const out = {charts: Number(document.body.getAttribute("data-charts") || -1), canvases: 0, drawn: 0, empty: [],
    sections: document.querySelectorAll("section").length, errorText: ""};
  const bad = document.querySelector("p.fail");
  if (bad) out.errorText = bad.textContent;
  document.querySelectorAll(".chart").forEach(box => {
    const c = box.querySelector("canvas");
    if (!c) { out.empty.push((box.querySelector("h3") || {}).textContent + " (no canvas)"); return; }
    out.canvases++;
    const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let coloured = 0;
    for (let i = 0; i < px.length; i += 4) {
      const r = px[i], g = px[i+1], b = px[i+2], a = px[i+3];
      if (a > 200 && Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
    }
    if (coloured >= 20) out.drawn++; else out.empty.push((box.querySelector("h3") || {}).textContent);
  });
  return out;
})()`

// Check opens every page in one headless Chromium, each in a subtest named after it. Screenshots go next to the
// pages, and into shots as report-NAME.png when shots is not "".
func Check(t *testing.T, shots string, pages ...Page) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	bin := chromiumPath(t)
	started := time.Now()
	ctx := context.Background()
	// The flags keep Chromium off the network: this machine refuses its background connections, and a report must
	// not need any.
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil { // starts the browser
		t.Fatalf("start chromium %s: %v", bin, err)
	}

	for _, r := range pages {
		t.Run(r.Name, func(t *testing.T) {
			var mu sync.Mutex
			var problems, requests []string
			tab, cancel := chromedp.NewContext(browser, chromedp.WithListener(func(ev any) {
				mu.Lock()
				defer mu.Unlock()
				switch e := ev.(type) {
				case *runtime.EventConsoleAPICalled:
					if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert || e.Type == runtime.ConsoleAPICalledTypeWarning {
						var args []string
						for _, a := range e.Args {
							args = append(args, string(a.Value)+a.Description)
						}
						problems = append(problems, fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
					}
				case *runtime.EventExceptionThrown:
					d := e.ExceptionDetails
					msg := d.Text
					if d.Exception != nil {
						msg += " " + d.Exception.Description
					}
					problems = append(problems, "exception: "+msg)
				case *log.EventEntryAdded:
					if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
						problems = append(problems, fmt.Sprintf("log %s (%s): %s %s", e.Entry.Level, e.Entry.Source, e.Entry.Text, e.Entry.URL))
					}
				case *network.EventRequestWillBeSent:
					requests = append(requests, e.Request.URL)
				}
			}))
			defer cancel()
			tctx, cancelT := context.WithTimeout(tab, 30*time.Second)
			defer cancelT()
			url := "file://" + r.Path
			if err := chromedp.Do(tctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(url),
				chromedp.WaitReady("body[data-charts]")); err != nil {
				t.Fatalf("open %s: %v", url, err)
			}
			got, err := chromedp.Run(tctx, chromedp.Evaluate[pageCheck](inspect))
			if err != nil {
				t.Fatal(err)
			}
			png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(strings.TrimSuffix(r.Path, ".html")+".png", png, 0o644); err != nil {
				t.Fatal(err)
			}
			if shots != "" {
				if err := os.WriteFile(filepath.Join(shots, "report-"+r.Name+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(50 * time.Millisecond) // let late console events arrive
			mu.Lock()
			defer mu.Unlock()
			if got.ErrorText != "" {
				t.Errorf("the page says: %s", got.ErrorText)
			}
			if got.Charts < r.Charts || got.Canvases != got.Charts || got.Drawn != got.Canvases {
				t.Errorf("%d charts, %d canvases, %d drawn (empty: %v); want at least %d charts, each drawn", got.Charts,
					got.Canvases, got.Drawn, got.Empty, r.Charts)
			}
			if len(problems) > 0 {
				t.Errorf("console errors:\n%s", strings.Join(problems, "\n"))
			}
			for _, u := range requests {
				if u != url {
					t.Errorf("the page made a network request: %s", u)
				}
			}
			if len(png) < 10000 {
				t.Errorf("screenshot is %d bytes; want a drawn page", len(png))
			}
		})
	}
	t.Logf("browser test: %d reports in %v", len(pages), time.Since(started).Round(10*time.Millisecond))
}
