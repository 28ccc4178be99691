package zstd

import "encoding/binary"

// Literal length and match length codes: the baseline of each code and the
// number of extra bits read after it (RFC 8878 section 3.1.1.3.2.1.1).
var (
	llBase = [36]uint32{
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
		16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024, 2048, 4096,
		8192, 16384, 32768, 65536}
	llBits = [36]uint8{
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12,
		13, 14, 15, 16}
	mlBase = [53]uint32{
		3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
		19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
		35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051,
		4099, 8195, 16387, 32771, 65539}
	mlBits = [53]uint8{
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11,
		12, 13, 14, 15, 16}
)

// The predefined distributions (RFC 8878 section 3.1.1.3.2.2).
var (
	llDefault = [36]int16{4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1}
	mlDefault = [53]int16{1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1}
	ofDefault = [29]int16{1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1}
)

// The three sequence codes.
const (
	codeLL = iota
	codeOF
	codeML
)

// seqKind describes one of the three sequence code alphabets.
type seqKind struct {
	id     int
	name   string
	maxSym int
	maxLog uint
}

// compressed decodes a compressed block onto the end of z.hist.
func (z *Reader) compressed(b []byte) error {
	lits, b, err := z.literals(b)
	if err != nil {
		return err
	}
	return z.sequences(b, lits)
}

// sequences decodes the sequences section (RFC 8878 section 3.1.1.3.2) and
// executes it (section 3.1.1.4): literals and matches are appended to
// z.hist, whose capacity reserve made room for a block.
func (z *Reader) sequences(b, lits []byte) error {
	if len(b) == 0 {
		return corrupt("missing sequences section")
	}
	nseq, hl := int(b[0]), 1
	switch {
	case nseq == 255:
		if len(b) < 3 {
			return corrupt("truncated sequences header")
		}
		nseq, hl = int(b[1])|int(b[2])<<8+0x7F00, 3
	case nseq >= 128:
		if len(b) < 2 {
			return corrupt("truncated sequences header")
		}
		nseq, hl = (nseq-128)<<8|int(b[1]), 2
	}
	b = b[hl:]
	start := len(z.hist)
	if nseq == 0 {
		if len(b) != 0 {
			return corrupt("%d bytes after an empty sequences section", len(b))
		}
		if len(lits) > z.outMax {
			return corrupt("block decodes to more than %d bytes", z.outMax)
		}
		z.hist = append(z.hist, lits...)
		return nil
	}
	if len(b) == 0 {
		return corrupt("missing sequence compression modes")
	}
	modes := b[0]
	if modes&3 != 0 {
		return corrupt("reserved bits set in sequence compression modes")
	}
	b = b[1:]
	var err error
	if z.ll, b, err = z.seqTable(modes>>6, b, z.ll, &z.llOwn, &z.llPre, seqKind{codeLL, "literal length", 35, 9}); err != nil {
		return err
	}
	if z.of, b, err = z.seqTable(modes>>4&3, b, z.of, &z.ofOwn, &z.ofPre, seqKind{codeOF, "offset", 31, 8}); err != nil {
		return err
	}
	if z.ml, b, err = z.seqTable(modes>>2&3, b, z.ml, &z.mlOwn, &z.mlPre, seqKind{codeML, "match length", 52, 9}); err != nil {
		return err
	}
	var br bitReader
	if err := br.init(b); err != nil {
		return err
	}
	llT, ofT, mlT := z.ll, z.of, z.ml
	llS := br.read(uint(llT.log))
	ofS := br.read(uint(ofT.log))
	mlS := br.read(uint(mlT.log))
	rep := z.rep
	out := z.hist[:cap(z.hist)]
	pos, end, window := start, start+z.outMax, z.window
	// The bit reader's state lives in locals through the loop, so that it
	// stays in registers; the rare slow paths go through br.
	v, n, off, in := br.v, br.n, br.off, br.in
	for i := nseq; i > 0; i-- {
		// States are below 512 by construction; the mask tells the
		// compiler so.
		lle, ofe, mle := llT.e[llS&511], ofT.e[ofS&511], mlT.e[mlS&511]
		ofb, mlb, llb := uint(ofe.extra), uint(mle.extra), uint(lle.extra)
		if off >= 8 { // refill to at least 57 bits, as bitReader.refill
			k := (63 - n) >> 3
			v = v<<(k*8) | binary.LittleEndian.Uint64(in[off-8:])>>(64-k*8)
			off -= int(k)
			n += k * 8
		}
		var ofv, ml, ll int
		if n >= ofb+mlb+llb {
			n -= ofb
			ofv = int(ofe.value) + int(v>>n&(1<<ofb-1))
			n -= mlb
			ml = int(mle.value) + int(v>>n&(1<<mlb-1))
			n -= llb
			ll = int(lle.value) + int(v>>n&(1<<llb-1))
		} else {
			br.v, br.n, br.off = v, n, off
			ofv = int(ofe.value) + int(br.read(ofb))
			ml = int(mle.value) + int(br.read(mlb))
			ll = int(lle.value) + int(br.read(llb))
			v, n, off = br.v, br.n, br.off
		}
		var offset int
		if ofv > 3 {
			offset = ofv - 3
			rep[2], rep[1], rep[0] = rep[1], rep[0], offset
		} else {
			r := ofv - 1
			if ll == 0 {
				r++
			}
			switch r {
			case 0:
				offset = rep[0]
			case 1:
				offset = rep[1]
				rep[1], rep[0] = rep[0], offset
			case 2:
				offset = rep[2]
				rep[2], rep[1], rep[0] = rep[1], rep[0], offset
			default:
				offset = rep[0] - 1
				if offset == 0 {
					return corrupt("repeat offset 1 minus 1")
				}
				rep[2], rep[1], rep[0] = rep[1], rep[0], offset
			}
		}
		if i > 1 {
			lnb, mnb, onb := uint(lle.nb), uint(mle.nb), uint(ofe.nb)
			if n < 26 && off >= 8 {
				k := (63 - n) >> 3
				v = v<<(k*8) | binary.LittleEndian.Uint64(in[off-8:])>>(64-k*8)
				off -= int(k)
				n += k * 8
			}
			if n >= lnb+mnb+onb {
				n -= lnb
				llS = uint64(lle.base) + v>>n&(1<<lnb-1)
				n -= mnb
				mlS = uint64(mle.base) + v>>n&(1<<mnb-1)
				n -= onb
				ofS = uint64(ofe.base) + v>>n&(1<<onb-1)
			} else {
				br.v, br.n, br.off = v, n, off
				llS = uint64(lle.base) + br.read(lnb)
				mlS = uint64(mle.base) + br.read(mnb)
				ofS = uint64(ofe.base) + br.read(onb)
				v, n, off = br.v, br.n, br.off
			}
		}

		if ll > len(lits) {
			return corrupt("sequence needs %d literals, %d are left", ll, len(lits))
		}
		if ll+ml > end-pos {
			return corrupt("block decodes to more than %d bytes", z.outMax)
		}
		if ll <= 16 && len(lits) >= 16 && len(out)-pos >= 16 {
			// Short literals: two words, what lies past ll is
			// overwritten later.
			binary.LittleEndian.PutUint64(out[pos:], binary.LittleEndian.Uint64(lits))
			binary.LittleEndian.PutUint64(out[pos+8:], binary.LittleEndian.Uint64(lits[8:]))
			pos += ll
		} else {
			pos += copy(out[pos:], lits[:ll])
		}
		lits = lits[ll:]
		if offset > pos || offset > window || offset <= 0 { // <= 0: overflow on 32-bit platforms
			return corrupt("match offset %d reaches before the window", offset)
		}
		src := pos - offset
		switch {
		case offset >= 8 && ml <= 64 && len(out)-pos >= ml+8:
			// Word by word: with offset >= 8 each word read is complete
			// before it is read, even when the match overlaps itself.
			for j := 0; j < ml; j += 8 {
				binary.LittleEndian.PutUint64(out[pos+j:], binary.LittleEndian.Uint64(out[src+j:]))
			}
		case ml <= offset:
			copy(out[pos:pos+ml], out[src:])
		default:
			// The match overlaps its own output: copy what is there, in
			// growing steps that keep the period.
			for j, stop := pos, pos+ml; j < stop; {
				j += copy(out[j:stop], out[src:j])
			}
		}
		pos += ml
	}
	br.v, br.n, br.off = v, n, off
	if !br.done() {
		return corrupt("sequences bit stream not consumed exactly")
	}
	if len(lits) > end-pos {
		return corrupt("block decodes to more than %d bytes", z.outMax)
	}
	pos += copy(out[pos:], lits)
	z.hist = out[:pos]
	z.rep = rep
	return nil
}

// seqTable reads the table for one sequence code in the given mode and
// returns it with the rest of b. prev is the table to repeat; own stores a
// table the block describes; pre stores the predefined one.
func (z *Reader) seqTable(mode byte, b []byte, prev, own, pre *fseTable, k seqKind) (*fseTable, []byte, error) {
	switch mode {
	case 0:
		if !z.predefined {
			z.buildPredefined()
		}
		return pre, b, nil
	case 1:
		if len(b) == 0 {
			return nil, nil, corrupt("missing %s RLE symbol", k.name)
		}
		if int(b[0]) > k.maxSym {
			return nil, nil, corrupt("%s code %d exceeds %d", k.name, b[0], k.maxSym)
		}
		own.rle(b[0])
		own.setValues(k)
		return own, b[1:], nil
	case 2:
		var norm [256]int16
		nsym, log, n, err := readCounts(b, &norm, k.maxSym, k.maxLog)
		if err != nil {
			return nil, nil, err
		}
		if err := own.build(norm[:nsym], log); err != nil {
			return nil, nil, err
		}
		own.setValues(k)
		return own, b[n:], nil
	}
	if prev == nil {
		return nil, nil, corrupt("%s table repeated with none before", k.name)
	}
	return prev, b, nil
}

// buildPredefined builds the predefined tables, on first use.
func (z *Reader) buildPredefined() {
	// The predefined distributions are valid, so build cannot fail.
	_ = z.llPre.build(llDefault[:], 6)
	_ = z.ofPre.build(ofDefault[:], 5)
	_ = z.mlPre.build(mlDefault[:], 6)
	z.llPre.setValues(seqKind{id: codeLL})
	z.ofPre.setValues(seqKind{id: codeOF})
	z.mlPre.setValues(seqKind{id: codeML})
	z.predefined = true
}
