// Command goldengen writes the golden data the Python tests compare the project against:
// robfig/cron v3 schedule times (cron.json) and encoding/json decodings of index documents
// (index.json). Run it once, commit its output; see ../README.md.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// provenance is written at the top of every golden file.
type provenance struct {
	Go        string `json:"go"`
	Packages  string `json:"packages"`
	Tzdata    string `json:"tzdata"`
	Generator string `json:"generator"`
}

func main() {
	out := flag.String("out", "..", "directory the golden files are written to")
	tzdata := flag.String("tzdata", "", "the tzdata package version the zone rules came from")
	packages := flag.String("packages", "", "the Debian packages the build used")
	flag.Parse()

	// Velero's schedules without a CRON_TZ=/TZ= prefix run in the server's local zone, which is
	// UTC in Velero's images; the project assumes the same.
	time.Local = time.UTC

	prov := provenance{
		Go:        runtime.Version(),
		Packages:  *packages,
		Tzdata:    *tzdata,
		Generator: "tests/golden/gen",
	}
	must(write(filepath.Join(*out, "cron.json"), map[string]any{"provenance": prov, "cases": cronCases()}))
	must(write(filepath.Join(*out, "index.json"), map[string]any{"provenance": prov, "cases": indexCases()}))
}

func write(path string, value any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(value); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// instant is a time as the golden files carry it: exact, and readable.
type instant struct {
	Zero  bool   `json:"zero"`
	Unix  int64  `json:"unix"`
	Nanos int    `json:"nanos"`
	UTC   string `json:"utc"`
}

func instantOf(t time.Time) instant {
	return instant{Zero: t.IsZero(), Unix: t.Unix(), Nanos: t.Nanosecond(), UTC: t.UTC().Format(time.RFC3339Nano)}
}
