package inflate

import "math/bits"

// A decoding table maps the next bits of the stream (least significant bit
// first, as deflate packs codes) to an entry: the low byte is how many
// bits the code takes, the next byte holds flags and the count of extra
// bits, the high half the symbol's value. A code longer than the table's
// primary bits is resolved through a subtable the primary entry points to.
const (
	fLiteral = 1 << 15 // a literal byte: the value
	fEnd     = 1 << 14 // the end-of-block symbol
	fSub     = 1 << 13 // a pointer: the value is the subtable's start, the extra count its bits
	fInvalid = 1 << 12 // no symbol (a hole in an incomplete code, or a symbol deflate forbids)
	// For lengths and distances the value is the base, and bits 8..11 the
	// number of extra bits that follow the code.
	extraMask = 0xf
)

const (
	litlenBits  = 10   // primary bits of the literal/length table
	litlenSize  = 2048 // entries: primary and subtables (at most 1334 are used)
	distBits    = 8
	distSize    = 512 // at most 402 are used
	codelenBits = 7   // the code-length code's codes are at most 7 bits: no subtables
	codelenSize = 1 << codelenBits
)

// Bases and extra bits of the length symbols 257..285 and the distance
// symbols 0..29 (RFC 1951, 3.2.5).
var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// symbolEntries holds each symbol's entry (without its code length), so
// that building a table looks them up rather than computes them.
type symbolEntries struct {
	litlen [288]uint32
	dist   [32]uint32
	codes  [19]uint32
}

func (e *symbolEntries) fill() {
	for sym := range e.litlen {
		e.litlen[sym] = litlenEntry(sym)
	}
	for sym := range e.dist {
		e.dist[sym] = distEntry(sym)
	}
	for sym := range e.codes {
		e.codes[sym] = uint32(sym) << 16
	}
}

// litlenEntry is the entry (without its code length) for literal/length
// symbol sym.
func litlenEntry(sym int) uint32 {
	switch {
	case sym < 256:
		return fLiteral | uint32(sym)<<16
	case sym == 256:
		return fEnd
	case sym <= 285:
		i := sym - 257
		return uint32(lengthBase[i])<<16 | uint32(lengthExtra[i])<<8
	}
	return fInvalid
}

// distEntry is the entry (without its code length) for distance symbol sym.
func distEntry(sym int) uint32 {
	if sym < 30 {
		return uint32(distBase[sym])<<16 | uint32(distExtra[sym])<<8
	}
	return fInvalid
}

// build fills table for the canonical Huffman code whose code lengths are
// lens (0: the symbol has no code), with primary bits and subtables after
// them. entry holds each symbol's entry without its length. It refuses an
// over-subscribed code and an incomplete one, except (as zlib and Go's
// compress/flate do) a code of a single one-bit code, whose other half is
// left invalid, and the empty code, which decodes nothing.
func build(table []uint32, primary uint, lens []uint8, entry []uint32) bool {
	var count [32]uint16 // lengths are below 16; the rest keeps lookups past 15 in range
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	// Check the code's space: left is what remains unassigned at each length.
	left := 1
	codes := 0
	maxLen := 0
	for l := 1; l < 16; l++ {
		left = left<<1 - int(count[l])
		if left < 0 {
			return false // over-subscribed
		}
		if count[l] > 0 {
			maxLen = l
		}
		codes += int(count[l])
	}
	if codes == 0 || left > 0 {
		// Empty, or incomplete: only one code of one bit is allowed.
		if codes != 0 && !(codes == 1 && maxLen == 1) {
			return false
		}
		inv := uint32(fInvalid) | uint32(primary)
		for i := range table[:1<<primary] {
			table[i] = inv
		}
		if codes == 1 {
			for sym, l := range lens {
				if l == 1 {
					e := entry[sym] | 1
					for i := 0; i < 1<<primary; i += 2 {
						table[i] = e
					}
				}
			}
		}
		return true
	}
	// Symbols sorted by code length, then value: the canonical order.
	var offs [16]uint16
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + count[l]
	}
	var sorted [288]uint16
	for sym, l := range lens {
		if l != 0 {
			sorted[offs[l]] = uint16(sym)
			offs[l]++
		}
	}
	next := sorted[:codes]
	// The codes of length l <= primary fill a table of 2^l entries, which
	// doubles (copying itself) as l grows: a code's entry then repeats
	// every 2^l entries, as a prefix code read lowest bit first must.
	// codeword is the current code, bit-reversed.
	codeword := 0
	l := 1
	for count[l] == 0 {
		l++
	}
	end := 1 << min(l, int(primary))
	if l <= int(primary) {
		for {
			for n := count[l]; n > 0; n-- {
				table[codeword] = entry[next[0]] | uint32(l)
				next = next[1:]
				if codeword == end-1 {
					// The last code (all ones): replicate to the full size.
					for ; l < int(primary); l++ {
						copy(table[end:2*end], table[:end])
						end *= 2
					}
					return true
				}
				codeword = reversedIncrement(codeword, end)
			}
			for {
				l++
				if l <= int(primary) {
					copy(table[end:2*end], table[:end])
					end *= 2
				}
				if count[l] != 0 {
					break
				}
			}
			if l > int(primary) {
				break
			}
		}
	}
	// Codes longer than primary: a subtable per distinct low primary bits.
	end = 1 << primary
	mask := 1<<primary - 1
	prefix, start, subBits := -1, 0, 0
	n := count[l]
	for {
		if codeword&mask != prefix {
			prefix = codeword & mask
			start = end
			// The subtable needs 2^(l-primary) entries, more when fewer
			// codes of this length remain than fill it.
			subBits = l - int(primary)
			used := int(n)
			for used < 1<<subBits {
				subBits++
				used = used<<1 + int(count[int(primary)+subBits])
			}
			end = start + 1<<subBits
			if end > len(table) {
				return false
			}
			table[prefix] = fSub | uint32(start)<<16 | uint32(subBits)<<8 | uint32(primary)
		}
		e := entry[next[0]] | uint32(l)
		next = next[1:]
		for i := start + codeword>>primary; i < end; i += 1 << (l - int(primary)) {
			table[i] = e
		}
		if codeword == 1<<l-1 {
			return true
		}
		codeword = reversedIncrement(codeword, 1<<l)
		n--
		for n == 0 {
			l++
			n = count[l]
		}
	}
}

// reversedIncrement returns the code after codeword in canonical order,
// both bit-reversed, within a code space of size (a power of two): add one
// to the reversed number, carrying from its highest bit down.
func reversedIncrement(codeword, size int) int {
	bit := 1 << (bits.Len(uint(codeword^(size-1))) - 1)
	return codeword&(bit-1) | bit
}
