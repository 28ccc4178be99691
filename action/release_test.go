package action

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestReleaseConfigMatchesSetup keeps .goreleaser.yaml and setup.sh in step:
// the archives and checksum file the release publishes are the ones the
// Action downloads, for every platform it supports.
func TestReleaseConfigMatchesSetup(t *testing.T) {
	var cfg struct {
		Version int `yaml:"version"`
		Builds  []struct {
			Main    string   `yaml:"main"`
			Binary  string   `yaml:"binary"`
			Env     []string `yaml:"env"`
			Goos    []string `yaml:"goos"`
			Goarch  []string `yaml:"goarch"`
			Flags   []string `yaml:"flags"`
			Ldflags []string `yaml:"ldflags"`
		} `yaml:"builds"`
		Archives []struct {
			NameTemplate    string   `yaml:"name_template"`
			Formats         []string `yaml:"formats"`
			FormatOverrides []struct {
				Goos    string   `yaml:"goos"`
				Formats []string `yaml:"formats"`
			} `yaml:"format_overrides"`
		} `yaml:"archives"`
		Checksum struct {
			NameTemplate string `yaml:"name_template"`
			Algorithm    string `yaml:"algorithm"`
		} `yaml:"checksum"`
	}
	readYAML(t, "../.goreleaser.yaml", &cfg)
	if cfg.Version != 2 || len(cfg.Builds) != 1 || len(cfg.Archives) != 1 {
		t.Fatalf("unexpected shape: %+v", cfg)
	}
	b := cfg.Builds[0]
	if b.Main != "./cmd/gemscan" || b.Binary != "gemscan" || !slices.Contains(b.Env, "CGO_ENABLED=0") || !slices.Contains(b.Flags, "-trimpath") {
		t.Errorf("build: %+v", b)
	}
	// Start-up time: urfave/cli's man/Markdown generators stay out.
	if !slices.Contains(b.Flags, "-tags=urfave_cli_no_docs") {
		t.Errorf("build flags %v lack -tags=urfave_cli_no_docs", b.Flags)
	}
	for _, v := range []string{"main.buildVersion=", "main.buildCommit=", "main.buildDate="} {
		if !strings.Contains(strings.Join(b.Ldflags, " "), v) {
			t.Errorf("ldflags do not set %s", v)
		}
	}
	if !slices.Equal(b.Goos, []string{"linux", "darwin", "windows"}) || !slices.Equal(b.Goarch, []string{"amd64", "arm64"}) {
		t.Errorf("platforms %v × %v", b.Goos, b.Goarch)
	}
	a := cfg.Archives[0]
	if a.NameTemplate != "gemscan_{{ .Version }}_{{ .Os }}_{{ .Arch }}" || !slices.Equal(a.Formats, []string{"tar.gz"}) ||
		len(a.FormatOverrides) != 1 || a.FormatOverrides[0].Goos != "windows" || !slices.Equal(a.FormatOverrides[0].Formats, []string{"zip"}) {
		t.Errorf("archives: %+v", a)
	}
	if cfg.Checksum.NameTemplate != "SHA256SUMS" || cfg.Checksum.Algorithm != "sha256" {
		t.Errorf("checksum: %+v", cfg.Checksum)
	}
	script, err := os.ReadFile("setup.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`asset="gemscan_${ver}_${os}_${arch}.tar.gz"`, `asset="gemscan_${ver}_${os}_${arch}.zip"`,
		`"$base_url/$tag/SHA256SUMS"`, "Linux) os=linux", "macOS) os=darwin", "Windows) os=windows", "X64) arch=amd64", "ARM64) arch=arm64"} {
		if !strings.Contains(string(script), want) {
			t.Errorf("setup.sh lacks %s", want)
		}
	}
}

// TestYAMLFilesParse: every YAML file the project ships is well-formed (the
// workflows are linted further by actionlint in .ci/run).
func TestYAMLFilesParse(t *testing.T) {
	files := []string{"../action.yml", "../.pre-commit-hooks.yaml", "../.goreleaser.yaml"}
	for _, glob := range []string{"../.github/workflows/*.yml", "../ci/gitlab/*.yml"} {
		m, _ := filepath.Glob(glob)
		if len(m) == 0 {
			t.Errorf("no files match %s", glob)
		}
		files = append(files, m...)
	}
	for _, f := range files {
		var doc any
		readYAML(t, f, &doc)
		if doc == nil {
			t.Errorf("%s is empty", f)
		}
	}
}

// TestContainerImage: the image runs as a non-root user, statically linked.
func TestContainerImage(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	d := string(data)
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-tags urfave_cli_no_docs", "USER 10001:10001", `ENTRYPOINT ["/usr/local/bin/gemscan"]`} {
		if !strings.Contains(d, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	if strings.Contains(d, "apk add") && strings.Contains(d, "git") {
		t.Errorf("the image installs git, which no command needs")
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
