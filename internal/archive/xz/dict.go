package xz

// dict is the LZMA sliding window: a circular buffer that the decoder
// writes into and Read copies out of. It grows by doubling up to the
// dictionary size a block asks for, so a small file costs little memory
// whatever dictionary its encoder chose.
type dict struct {
	buf    []byte
	size   int   // the dictionary size: buf grows up to it, then wraps
	pos    int   // next write position in buf
	full   bool  // buf has wrapped: all of it holds history
	total  int64 // bytes written since the last reset (the LZMA position)
	unread int   // bytes before pos not yet copied out by read
}

// initialDict is the buffer a dictionary starts with, before it grows.
const initialDict = 16 << 10

// reset empties the dictionary and sets its size; it keeps the buffer.
// The caller has copied out every unread byte.
func (d *dict) reset(size int) {
	d.size = size
	n := min(size, max(initialDict, cap(d.buf)))
	if cap(d.buf) >= n {
		d.buf = d.buf[:n]
	} else {
		d.buf = make([]byte, n)
	}
	d.pos, d.full, d.total, d.unread = 0, false, 0, 0
}

// avail is how far back a match may reach.
func (d *dict) avail() int {
	if d.full {
		return len(d.buf)
	}
	return d.pos
}

// reaches reports whether a match distance less one, dist, stays inside
// the history.
func (d *dict) reaches(dist uint32) bool {
	return uint64(dist) < uint64(d.avail())
}

// wrap makes room at pos == len(buf): the buffer grows while it is smaller
// than the dictionary, and wraps to its start once it is not.
//
//go:noinline
func (d *dict) wrap() {
	if len(d.buf) < d.size {
		n := min(2*len(d.buf), d.size)
		if cap(d.buf) >= n {
			d.buf = d.buf[:n]
			return
		}
		nb := make([]byte, n)
		copy(nb, d.buf)
		d.buf = nb
		return
	}
	d.pos = 0
	d.full = true
}

// put appends one byte; the caller accounts for it with added.
func (d *dict) put(b byte) {
	if d.pos == len(d.buf) {
		d.wrap()
	}
	d.buf[d.pos] = b
	d.pos++
}

// added counts n bytes put or copied into the dictionary.
func (d *dict) added(n int) {
	d.total += int64(n)
	d.unread += n
}

// back returns the byte dist bytes back (1 is the last byte written);
// the caller has checked 1 <= dist <= avail().
func (d *dict) back(dist int) byte {
	i := d.pos - dist
	if i < 0 {
		i += len(d.buf)
	}
	return d.buf[i]
}

// prev returns the last byte written, 0 in an empty dictionary.
func (d *dict) prev() byte {
	if d.pos == 0 && !d.full {
		return 0
	}
	return d.back(1)
}

// copyMatch appends n bytes copied from dist bytes back; the caller has
// checked 1 <= dist <= avail(), and accounts for them with added.
func (d *dict) copyMatch(dist, n int) {
	for n > 0 {
		if d.pos == len(d.buf) {
			d.wrap()
		}
		src := d.pos - dist
		if src < 0 {
			src += len(d.buf)
		}
		k := min(n, len(d.buf)-d.pos, len(d.buf)-src)
		b := d.buf
		switch {
		case k <= 16:
			// Short matches are most of them: a byte loop beats a call
			// to memmove, and copies forward as LZ77 means when the
			// copy overlaps its source.
			dst, s := b[d.pos:d.pos+k], b[src:src+k]
			for i := range dst {
				dst[i] = s[i]
			}
		case src < d.pos && dist < k:
			// The copy overlaps its source: the bytes repeat with period
			// dist, so copy what is written so far, doubling each time.
			for done := 0; done < k; {
				done += copy(b[d.pos+done:d.pos+k], b[src:d.pos+done])
			}
		default:
			copy(b[d.pos:d.pos+k], b[src:src+k])
		}
		d.pos += k
		n -= k
	}
}

// write appends p.
func (d *dict) write(p []byte) {
	d.added(len(p))
	for len(p) > 0 {
		if d.pos == len(d.buf) {
			d.wrap()
		}
		k := copy(d.buf[d.pos:], p)
		p = p[k:]
		d.pos += k
	}
}

// read copies unread bytes into p.
func (d *dict) read(p []byte) int {
	n := 0
	for d.unread > 0 && len(p) > 0 {
		start, end := d.pos-d.unread, d.pos
		if start < 0 {
			start, end = start+len(d.buf), len(d.buf)
		}
		k := copy(p, d.buf[start:end])
		p = p[k:]
		n += k
		d.unread -= k
	}
	return n
}
