package zstd

import (
	"bytes"
	"io"
	"testing"
	"time"

	kzstd "github.com/klauspost/compress/zstd"
)

// benchInputs are the source-like text compressed by klauspost at two
// levels, and random bytes (raw blocks).
func benchInputs(b *testing.B) []struct {
	name       string
	data, comp []byte
} {
	var out []struct {
		name       string
		data, comp []byte
	}
	for _, c := range []struct {
		name  string
		in    int
		level kzstd.EncoderLevel
	}{
		{"source-default", 5, kzstd.SpeedDefault},
		{"source-best", 5, kzstd.SpeedBestCompression},
		{"random", 3, kzstd.SpeedDefault},
	} {
		enc, err := kzstd.NewWriter(nil, kzstd.WithEncoderLevel(c.level))
		if err != nil {
			b.Fatal(err)
		}
		data := inputs()[c.in].data
		out = append(out, struct {
			name       string
			data, comp []byte
		}{c.name, data, enc.EncodeAll(data, nil)})
		enc.Close()
	}
	return out
}

// reportCPU adds the CPU throughput since start as a metric.
func reportCPU(b *testing.B, start time.Duration, bytes int) {
	cpu := cpuTime(b) - start
	if cpu <= 0 { // no process CPU time on this system
		return
	}
	b.ReportMetric(float64(bytes)*float64(b.N)/cpu.Seconds()/1e6, "cpu-MB/s")
}

// BenchmarkDecode compares ours with klauspost's decoder configured as
// internal/archive configures it.
func BenchmarkDecode(b *testing.B) {
	for _, in := range benchInputs(b) {
		b.Run(in.name+"/ours", func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			start := cpuTime(b)
			defer func() { reportCPU(b, start, len(in.data)) }()
			for b.Loop() {
				r, err := NewReader(bytes.NewReader(in.comp), 64<<20)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, r); err != nil || n != int64(len(in.data)) {
					b.Fatal(n, err)
				}
			}
		})
		b.Run(in.name+"/klauspost", func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			start := cpuTime(b)
			defer func() { reportCPU(b, start, len(in.data)) }()
			for b.Loop() {
				d, err := kzstd.NewReader(bytes.NewReader(in.comp), kzstd.WithDecoderConcurrency(1), kzstd.WithDecoderLowmem(true),
					kzstd.WithDecoderMaxWindow(64<<20), kzstd.WithDecoderMaxMemory(128<<20))
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, d); err != nil || n != int64(len(in.data)) {
					b.Fatal(n, err)
				}
				d.Close()
			}
		})
	}
}
