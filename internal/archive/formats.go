package archive

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/gemscan-dev/gemscan/internal/archive/xz"
	"github.com/gemscan-dev/gemscan/internal/archive/zstd"
)

// Zip compression methods that archive/zip does not register itself.
const (
	zipBzip2 = 12
	zipLzma  = 14
	zipZstd  = 93
	zipXz    = 95
)

// zip walks a zip archive's members in directory order.
func (w *walker) zip(path string, r io.ReaderAt, size int64, depth int) error {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		// Nothing is written to disk, so a name with ".." is only a name.
		return &pathError{path: path, err: fmt.Errorf("open zip: %w", err)}
	}
	zr.RegisterDecompressor(zipBzip2, func(r io.Reader) io.ReadCloser { return io.NopCloser(bzip2.NewReader(r)) })
	zr.RegisterDecompressor(zipZstd, func(r io.Reader) io.ReadCloser {
		d, err := newZstd(r)
		if err != nil {
			return io.NopCloser(errReader{err})
		}
		return io.NopCloser(d)
	})
	zr.RegisterDecompressor(zipXz, func(r io.Reader) io.ReadCloser {
		d, err := newXz(r)
		if err != nil {
			return io.NopCloser(errReader{err})
		}
		return io.NopCloser(d)
	})
	var encrypted, unsupported int
	for _, f := range zr.File {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		if f.FileInfo().IsDir() {
			continue
		}
		if f.Flags&1 != 0 {
			encrypted++
			continue
		}
		if f.Method == zipLzma {
			// Its decoder is told the member's size: the data may end
			// without an end marker (bit 1 of the flags clear).
			size := int64(min(f.UncompressedSize64, 1<<62))
			zr.RegisterDecompressor(zipLzma, func(r io.Reader) io.ReadCloser {
				d, err := newZipLzma(r, size)
				if err != nil {
					return io.NopCloser(errReader{err})
				}
				return io.NopCloser(d)
			})
		}
		rc, err := f.Open()
		if errors.Is(err, zip.ErrAlgorithm) {
			unsupported++
			continue
		}
		mp := path + "!" + memberName(f.Name)
		if err != nil {
			return &pathError{path: mp, err: err}
		}
		err = w.entry(mp, &expanding{r: rc, w: w}, int64(min(f.UncompressedSize64, 1<<62)), depth)
		rc.Close()
		if err != nil {
			return wrapMember(mp, err)
		}
	}
	if encrypted > 0 {
		w.note("%s: %d encrypted member(s) not scanned", path, encrypted)
	}
	if unsupported > 0 {
		w.notOpened("%s: %d member(s) compressed with an unsupported method not scanned", path, unsupported)
	}
	return nil
}

// tar walks a tar stream's regular files.
func (w *walker) tar(path string, r io.Reader, depth int) error {
	tr := tar.NewReader(r)
	for {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return &pathError{path: path, err: fmt.Errorf("read tar: %w", err)}
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA { //nolint:staticcheck // old archives use TypeRegA
			continue
		}
		mp := path + "!" + memberName(h.Name)
		if err := w.entry(mp, tr, h.Size, depth); err != nil {
			return wrapMember(mp, err)
		}
	}
}

// wrapMember adds a member's path to an error that does not name it yet.
func wrapMember(mp string, err error) error {
	var pe *pathError
	if errors.As(err, &pe) {
		return err
	}
	return &pathError{path: mp, err: err}
}

// pathError names the innermost member an error happened in.
type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string { return e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

// decompressor returns a reader of f's decompressed content and a function
// that releases it.
func decompressor(f Format, r io.Reader) (io.Reader, func(), error) {
	switch f {
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case Bzip2:
		return bzip2.NewReader(r), func() {}, nil
	case Xz:
		dr, err := newXz(r)
		if err != nil {
			return nil, nil, err
		}
		return dr, func() {}, nil
	case Zstd:
		d, err := newZstd(r)
		if err != nil {
			return nil, nil, err
		}
		return d, func() {}, nil
	case Lzma:
		d, err := newLzma(r)
		if err != nil {
			return nil, nil, err
		}
		return d, func() {}, nil
	}
	return nil, nil, fmt.Errorf("no decompressor for %s", f)
}

// newZstd returns a zstd decoder whose window, and so its memory (about
// twice the window), is bounded whatever the frame header asks for. It is
// our own (internal/archive/zstd): klauspost's zstd package cost start-up
// time in every run, used or not (issue #14).
// A window over the limit is an error wrapping ErrLimit.
func newZstd(r io.Reader) (io.Reader, error) {
	d, err := zstd.NewReader(r, MaxXzDict)
	if err != nil {
		return nil, err
	}
	return limitReader{d, zstd.ErrWindowTooLarge}, nil
}

// newXz returns an xz decoder that refuses, before allocating it, a
// dictionary over MaxXzDict (xz -9 uses 64 MiB): that error wraps ErrLimit.
// It is our own (internal/archive/xz): ulikunitz/xz cost start-up time in
// every run, used or not (issue #14).
func newXz(r io.Reader) (io.Reader, error) {
	xr, err := xz.NewReader(r, MaxXzDict)
	if err != nil {
		return nil, asLimit(err, xz.ErrDictTooLarge)
	}
	return limitReader{xr, xz.ErrDictTooLarge}, nil
}

// newLzma returns a reader of a .lzma file (xz's own decoder, LZMA1), its
// dictionary bounded as newXz bounds it.
func newLzma(r io.Reader) (io.Reader, error) {
	lr, err := xz.NewAloneReader(r, MaxXzDict)
	if err != nil {
		return nil, asLimit(err, xz.ErrDictTooLarge)
	}
	return limitReader{lr, xz.ErrDictTooLarge}, nil
}

// newZipLzma returns a reader of a zip member compressed with method 14
// (LZMA) whose uncompressed size is size, its dictionary bounded as
// newXz bounds it.
func newZipLzma(r io.Reader, size int64) (io.Reader, error) {
	lr, err := xz.NewZipLZMAReader(r, size, MaxXzDict)
	if err != nil {
		return nil, asLimit(err, xz.ErrDictTooLarge)
	}
	return limitReader{lr, xz.ErrDictTooLarge}, nil
}

// limitReader marks a decoder's memory-limit errors (limit) as ErrLimit,
// as every other limit of a walk is.
type limitReader struct {
	r     io.Reader
	limit error
}

func (l limitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	return n, asLimit(err, l.limit)
}

func asLimit(err, limit error) error {
	if err != nil && errors.Is(err, limit) {
		return fmt.Errorf("%w: %w", ErrLimit, err)
	}
	return err
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
