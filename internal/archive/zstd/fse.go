package zstd

import "math/bits"

// fseEntry is one state of an FSE decoding table: the symbol it decodes and
// how the next state is found (base plus nb bits from the stream).
type fseEntry struct {
	sym  uint8
	nb   uint8
	base uint16
	// For sequence codes, what the symbol means: the value is value plus
	// extra bits read from the stream.
	extra uint8
	value uint32
}

// fseTable is an FSE decoding table (RFC 8878 section 4.1).
type fseTable struct {
	log uint8
	e   [1 << 9]fseEntry
}

// readCounts reads an FSE table description (RFC 8878 section 4.1.1) from
// the front of b into norm: the normalized count of each symbol, -1 for
// "less than one". It returns the number of symbols, the accuracy log and
// the bytes read.
func readCounts(b []byte, norm *[256]int16, maxSym int, maxLog uint) (nsym int, log uint, n int, err error) {
	if len(b) == 0 {
		return 0, 0, 0, corrupt("missing FSE table description")
	}
	pos := uint(0) // in bits
	peek := func(k uint) int {
		i := int(pos >> 3)
		var v uint32
		for j := 0; j < 4 && i+j < len(b); j++ {
			v |= uint32(b[i+j]) << (8 * j)
		}
		return int(v >> (pos & 7) & (1<<k - 1))
	}
	log = uint(b[0]&15) + 5
	if log > maxLog {
		return 0, 0, 0, corrupt("FSE accuracy log %d exceeds %d", log, maxLog)
	}
	pos = 4
	remaining := 1<<log + 1
	threshold := 1 << log
	nb := log + 1
	sym := 0
	prev0 := false
	for remaining > 1 {
		if prev0 {
			for {
				r := peek(2)
				pos += 2
				if sym+r > maxSym+1 {
					return 0, 0, 0, corrupt("FSE table has too many symbols")
				}
				for i := 0; i < r; i++ {
					norm[sym] = 0
					sym++
				}
				if r != 3 {
					break
				}
			}
		}
		if sym > maxSym {
			return 0, 0, 0, corrupt("FSE table has too many symbols")
		}
		max := 2*threshold - 1 - remaining
		count := peek(nb - 1)
		if count < max {
			pos += nb - 1
		} else {
			count = peek(nb)
			if count >= threshold {
				count -= max
			}
			pos += nb
		}
		count--
		if count < 0 {
			remaining--
		} else {
			remaining -= count
		}
		norm[sym] = int16(count)
		sym++
		prev0 = count == 0
		for remaining < threshold {
			nb--
			threshold >>= 1
		}
	}
	if remaining != 1 {
		return 0, 0, 0, corrupt("FSE table probabilities do not add up")
	}
	n = int(pos+7) >> 3
	if n > len(b) {
		return 0, 0, 0, corrupt("truncated FSE table description")
	}
	return sym, log, n, nil
}

// build fills t from normalized counts (RFC 8878 section 4.1.1, "FSE table
// construction").
func (t *fseTable) build(norm []int16, log uint) error {
	size := 1 << log
	high := size - 1
	var next [256]uint16
	for s, c := range norm {
		if c == -1 {
			t.e[high].sym = uint8(s)
			high--
			next[s] = 1
		} else {
			next[s] = uint16(c)
		}
	}
	pos, step, mask := 0, size>>1+size>>3+3, size-1
	for s, c := range norm {
		for i := 0; i < int(c); i++ {
			t.e[pos].sym = uint8(s)
			for pos = (pos + step) & mask; pos > high; pos = (pos + step) & mask {
			}
		}
	}
	if pos != 0 {
		return corrupt("FSE table probabilities do not fill the table")
	}
	for i := range size {
		s := t.e[i].sym
		ns := next[s]
		next[s]++
		nb := log - uint(bits.Len16(ns)-1)
		t.e[i].nb = uint8(nb)
		t.e[i].base = uint16(int(ns)<<nb - size)
	}
	t.log = uint8(log)
	return nil
}

// rle makes t a one-state table that always decodes sym.
func (t *fseTable) rle(sym uint8) {
	t.log = 0
	t.e[0] = fseEntry{sym: sym}
}

// setValues fills in what each state's symbol means as a code of kind.
func (t *fseTable) setValues(kind seqKind) {
	for i := range 1 << t.log {
		e := &t.e[i]
		switch kind.id {
		case codeLL:
			e.value, e.extra = llBase[e.sym], llBits[e.sym]
		case codeML:
			e.value, e.extra = mlBase[e.sym], mlBits[e.sym]
		default:
			e.value, e.extra = 1<<e.sym, e.sym
		}
	}
}
