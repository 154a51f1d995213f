package plan

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/loadlab/loadlab/internal/testenv"
)

// yamlBlock matches a fenced ```yaml block in Markdown.
var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestDocumentedPlansValidate: every complete plan shown in README.md and docs/plan.md (a ```yaml block with
// `scenarios:` or `type:` at the top level) passes validation, so the documentation cannot drift from the language.
// CSV files resolve in testplans/, as for the shipped plans.
func TestDocumentedPlansValidate(t *testing.T) {
	root := testenv.RepoRoot(t)
	checked := 0
	for _, doc := range []string{"README.md", "docs/plan.md"} {
		b, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range yamlBlock.FindAllStringSubmatch(string(b), -1) {
			block := m[1]
			if !strings.Contains(block, "\nscenarios:") && !strings.HasPrefix(block, "scenarios:") {
				continue // a fragment (one section), not a whole plan
			}
			name := filepath.Base(doc) + "#yaml" + strconv.Itoa(i) // data files resolve at the FS root
			if _, err := Parse(name, []byte(block), WithFS(os.DirFS(filepath.Join(root, "testplans")))); err != nil {
				t.Errorf("plan shown in %s (yaml block %d) does not validate:\n%v\n---\n%s", doc, i, err, block)
			}
			checked++
		}
	}
	if checked < 2 {
		t.Errorf("checked %d documented plans; want at least 2 (README's minimal plan, docs/plan.md's example)", checked)
	}
}
