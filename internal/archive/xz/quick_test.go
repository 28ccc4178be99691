package xz

import (
	"bytes"
	"io"
	"os/exec"
	"testing"
)

func TestQuick(t *testing.T) {
	data := bytes.Repeat([]byte("hello world, this is some text. "), 10000)
	cmd := exec.Command("xz", "-c", "-6")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(out), 1<<26)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("mismatch %d vs %d", len(got), len(data))
	}
}
