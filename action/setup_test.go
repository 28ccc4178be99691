package action

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeBinary stands in for a release's gemscan: the tests check that the
// script put exactly what the release holds where the scan step runs it.
const fakeBinary = "#!/bin/sh\necho fake-gemscan \"$@\"\n"

// release is a fake GitHub release server: /TAG/ASSET.
type release struct {
	*httptest.Server
	files    map[string][]byte
	requests atomic.Int64
}

func newRelease(t *testing.T) *release {
	r := &release{files: map[string][]byte{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		data, ok := r.files[strings.TrimPrefix(req.URL.Path, "/")]
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(r.Close)
	return r
}

// publish adds an asset and a SHA256SUMS line for it (sums overrides the
// SHA256SUMS file when not nil).
func (r *release) publish(tag, asset string, data []byte, sums []byte) {
	r.files[tag+"/"+asset] = data
	if sums == nil {
		sum := sha256.Sum256(data)
		sums = []byte(hex.EncodeToString(sum[:]) + "  " + asset + "\n")
	}
	r.files[tag+"/SHA256SUMS"] = sums
}

func tarGz(t *testing.T, name, content string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct{ name, body string }{{"README.md", "# gemscan\n"}, {name, content}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipped(t *testing.T, name, content string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(content))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// runner is one simulated job: its temp dir is new, its tool cache may be
// shared with a later job to model a warm runner.
type runner struct {
	temp, toolCache string
	env             []string
}

func newRunner(t *testing.T, toolCache string, env ...string) *runner {
	if toolCache == "" {
		toolCache = t.TempDir()
	}
	return &runner{temp: t.TempDir(), toolCache: toolCache, env: env}
}

// run runs setup.sh MODE and returns its GITHUB_OUTPUT values, its combined
// output and its error.
func (r *runner) run(t *testing.T, mode string, env ...string) (map[string]string, string, error) {
	t.Helper()
	out := filepath.Join(r.temp, "github_output")
	os.Remove(out)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "setup.sh", mode)
	cmd.Env = append(os.Environ(), "RUNNER_OS=Linux", "RUNNER_ARCH=X64", "RUNNER_TEMP="+r.temp,
		"RUNNER_TOOL_CACHE="+r.toolCache, "GITHUB_OUTPUT="+out, "GITHUB_ACTION_PATH="+root,
		"INPUT_VERSION=", "ACTION_REF=")
	cmd.Env = append(cmd.Env, r.env...)
	cmd.Env = append(cmd.Env, env...)
	combined, runErr := cmd.CombinedOutput()
	outputs := map[string]string{}
	data, _ := os.ReadFile(out)
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			outputs[k] = v
		}
	}
	return outputs, string(combined), runErr
}

func runBin(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v\n%s", bin, err, out)
	}
	return string(out)
}

// TestDownloadVerifyAndCache: a cold runner downloads the release asset and
// its SHA256SUMS and runs what it verified; a warm runner (same tool cache)
// asks the server for nothing.
func TestDownloadVerifyAndCache(t *testing.T) {
	rel := newRelease(t)
	rel.publish("v0.3.1", "gemscan_0.3.1_linux_amd64.tar.gz", tarGz(t, "gemscan", fakeBinary), nil)
	cache := t.TempDir()

	cold := newRunner(t, cache, "GEMSCAN_RELEASE_BASE_URL="+rel.URL)
	start := time.Now()
	outputs, log, err := cold.run(t, "fetch", "ACTION_REF=v0.3.1")
	coldTime := time.Since(start)
	if err != nil {
		t.Fatalf("cold fetch: %v\n%s", err, log)
	}
	if outputs["build"] != "" || outputs["bin"] == "" {
		t.Fatalf("cold fetch outputs %v\n%s", outputs, log)
	}
	if got := runBin(t, outputs["bin"]); got != "fake-gemscan version\n" {
		t.Fatalf("installed binary printed %q", got)
	}
	if n := rel.requests.Load(); n != 2 {
		t.Fatalf("cold run made %d requests, want 2 (asset, SHA256SUMS)", n)
	}

	warm := newRunner(t, cache, "GEMSCAN_RELEASE_BASE_URL="+rel.URL)
	start = time.Now()
	outputs, log, err = warm.run(t, "fetch", "ACTION_REF=v0.3.1")
	warmTime := time.Since(start)
	if err != nil || outputs["bin"] == "" {
		t.Fatalf("warm fetch: %v %v\n%s", err, outputs, log)
	}
	if !strings.Contains(log, "from the tool cache") {
		t.Errorf("warm run did not say it used the tool cache:\n%s", log)
	}
	if n := rel.requests.Load(); n != 2 {
		t.Fatalf("warm run asked the server again (%d requests in all)", n)
	}
	t.Logf("setup: cold %v, warm %v", coldTime.Round(time.Millisecond), warmTime.Round(time.Millisecond))
}

// TestVersionInputWins: the `version` input picks the release whatever the
// ref; "1.2.3" and "v1.2.3" are the same.
func TestVersionInputWins(t *testing.T) {
	rel := newRelease(t)
	rel.publish("v1.2.3", "gemscan_1.2.3_linux_arm64.tar.gz", tarGz(t, "gemscan", fakeBinary), nil)
	r := newRunner(t, "", "GEMSCAN_RELEASE_BASE_URL="+rel.URL, "RUNNER_ARCH=ARM64")
	outputs, log, err := r.run(t, "fetch", "ACTION_REF=main", "INPUT_VERSION=1.2.3")
	if err != nil || outputs["bin"] == "" {
		t.Fatalf("fetch: %v %v\n%s", err, outputs, log)
	}
}

// TestWindowsZip: Windows runners get the .zip and a gemscan.exe.
func TestWindowsZip(t *testing.T) {
	rel := newRelease(t)
	rel.publish("v0.3.1", "gemscan_0.3.1_windows_amd64.zip", zipped(t, "gemscan.exe", fakeBinary), nil)
	r := newRunner(t, "", "GEMSCAN_RELEASE_BASE_URL="+rel.URL, "RUNNER_OS=Windows")
	outputs, log, err := r.run(t, "fetch", "ACTION_REF=v0.3.1")
	if err != nil || !strings.HasSuffix(outputs["bin"], "gemscan.exe") {
		t.Fatalf("fetch: %v %v\n%s", err, outputs, log)
	}
	if got := runBin(t, outputs["bin"]); got != "fake-gemscan version\n" {
		t.Fatalf("installed binary printed %q", got)
	}
}

// TestChecksumMismatchFailsClosed: an asset that does not match the
// release's SHA256SUMS is never installed or cached, and the step fails.
func TestChecksumMismatchFailsClosed(t *testing.T) {
	rel := newRelease(t)
	asset := "gemscan_0.3.1_linux_amd64.tar.gz"
	rel.publish("v0.3.1", asset, tarGz(t, "gemscan", fakeBinary), []byte(strings.Repeat("ab", 32)+"  "+asset+"\n"))
	r := newRunner(t, "", "GEMSCAN_RELEASE_BASE_URL="+rel.URL)
	outputs, log, err := r.run(t, "fetch", "ACTION_REF=v0.3.1")
	if err == nil {
		t.Fatalf("a checksum mismatch passed:\n%s", log)
	}
	if !strings.Contains(log, "::error title=gemscan::checksum mismatch") {
		t.Errorf("no error annotation:\n%s", log)
	}
	if outputs["bin"] != "" || outputs["build"] != "" {
		t.Errorf("outputs after a mismatch: %v", outputs)
	}
	if _, err := os.Stat(filepath.Join(r.temp, "gemscan-bin")); err == nil {
		t.Errorf("a binary was installed")
	}
	matches, _ := filepath.Glob(filepath.Join(r.toolCache, "gemscan", "*", "*"))
	if len(matches) > 0 {
		t.Errorf("tool cache holds %v", matches)
	}

	// A release without SHA256SUMS cannot be verified either.
	delete(rel.files, "v0.3.1/SHA256SUMS")
	if _, log, err := newRunner(t, "", "GEMSCAN_RELEASE_BASE_URL="+rel.URL).run(t, "fetch", "ACTION_REF=v0.3.1"); err == nil ||
		!strings.Contains(log, "unverified") {
		t.Fatalf("no SHA256SUMS: err %v\n%s", err, log)
	}
}

// TestNoReleaseBuildsFromSource: a ref that is no release, a release
// without this platform's asset, and an unknown platform all plan a source
// build keyed by the source's hash.
func TestNoReleaseBuildsFromSource(t *testing.T) {
	rel := newRelease(t)
	rel.publish("v0.3.1", "gemscan_0.3.1_linux_amd64.tar.gz", tarGz(t, "gemscan", fakeBinary), nil)
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"branch", []string{"ACTION_REF=main"}},
		{"commit", []string{"ACTION_REF=4b825dc642cb6eb9a060e54bf8d69288fbee4904"}},
		{"local action", []string{"ACTION_REF="}},
		{"missing asset", []string{"ACTION_REF=v0.3.1", "RUNNER_ARCH=ARM64"}},
		{"unknown platform", []string{"ACTION_REF=v0.3.1", "RUNNER_ARCH=ARM"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRunner(t, "", "GEMSCAN_RELEASE_BASE_URL="+rel.URL)
			outputs, log, err := r.run(t, "fetch", tc.env...)
			if err != nil {
				t.Fatalf("fetch: %v\n%s", err, log)
			}
			if outputs["build"] != "true" || outputs["bin"] != "" || !strings.HasPrefix(outputs["build-key"], "gemscan-build-Linux-") ||
				outputs["build-dir"] == "" || outputs["has-go"] != "true" {
				t.Fatalf("outputs %v\n%s", outputs, log)
			}
		})
	}
}

// TestMajorTagResolvesToNewestRelease: @v0 runs the newest v0.x.y release
// (numerically: v0.10.0 after v0.9.0), never v1.
func TestMajorTagResolvesToNewestRelease(t *testing.T) {
	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("commit", "-q", "--allow-empty", "-m", "r")
	for _, tag := range []string{"v0.9.0", "v0.10.0", "v1.0.0", "v0.10.0-rc1", "v0"} {
		git("tag", tag)
	}
	rel := newRelease(t)
	rel.publish("v0.10.0", "gemscan_0.10.0_linux_amd64.tar.gz", tarGz(t, "gemscan", fakeBinary), nil)
	r := newRunner(t, "", "GEMSCAN_RELEASE_BASE_URL="+rel.URL, "GEMSCAN_RELEASE_REPO_URL="+repo)
	outputs, log, err := r.run(t, "fetch", "ACTION_REF=v0")
	if err != nil || outputs["bin"] == "" || !strings.Contains(log, "gemscan v0.10.0 downloaded") {
		t.Fatalf("fetch @v0: %v %v\n%s", err, outputs, log)
	}
}

// TestBuildInCleanEnvironment builds the real gemscan from this checkout with
// a job environment that would break a naive build (another GOOS/GOARCH, cgo,
// bogus GOFLAGS), then reuses the cached build.
func TestBuildInCleanEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gemscan")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go on PATH")
	}
	r := newRunner(t, "", "GOOS=windows", "GOARCH=arm64", "CGO_ENABLED=1", "GOFLAGS=-tags=does_not_exist -mod=vendor")
	buildDir := filepath.Join(r.temp, "gemscan-build")
	start := time.Now()
	outputs, log, err := r.run(t, "build", "BUILD_DIR="+buildDir)
	cold := time.Since(start)
	if err != nil || outputs["bin"] == "" {
		t.Fatalf("build: %v %v\n%s", err, outputs, log)
	}
	if got := runBin(t, outputs["bin"]); !strings.HasPrefix(got, "gemscan ") {
		t.Fatalf("built binary printed %q", got)
	}
	start = time.Now()
	_, log, err = r.run(t, "build", "BUILD_DIR="+buildDir)
	if err != nil || !strings.Contains(log, "from the build cache") {
		t.Fatalf("second build: %v\n%s", err, log)
	}
	t.Logf("source build: cold %v, cached %v", cold.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

func TestUsage(t *testing.T) {
	r := newRunner(t, "")
	if _, log, err := r.run(t, "bogus"); err == nil || !strings.Contains(log, "usage") {
		t.Fatalf("bogus mode: %v %s", err, log)
	}
}
