#include "textflag.h"

// func teddyAVX2(masks *[8][32]byte, data []byte, from int) (i int, mask uint32)
//
// For each 32-byte block: the low and high nibbles of the bytes at offsets
// 0 to 3 look up the bucket bits of the fingerprints allowing them (VPSHUFB
// on the tables), and the bits left after ANDing all eight lookups name the
// buckets that may start at each position.
TEXT ·teddyAVX2(SB), NOSPLIT, $0-52
	MOVQ masks+0(FP), AX
	MOVQ data_base+8(FP), SI
	MOVQ data_len+16(FP), DX
	MOVQ from+32(FP), BX
	SUBQ $35, DX // a block at i reads data[i : i+35]
	VMOVDQU 0(AX), Y2
	VMOVDQU 32(AX), Y3
	VMOVDQU 64(AX), Y4
	VMOVDQU 96(AX), Y5
	VMOVDQU 128(AX), Y6
	VMOVDQU 160(AX), Y7
	VMOVDQU 192(AX), Y8
	VMOVDQU 224(AX), Y9
	MOVQ $0x0f0f0f0f0f0f0f0f, CX
	MOVQ CX, X10
	VPBROADCASTQ X10, Y10 // low nibble mask
	VPXOR Y11, Y11, Y11   // zero

loop:
	CMPQ BX, DX
	JGT  none

	VMOVDQU 0(SI)(BX*1), Y0
	VPSRLW  $4, Y0, Y1
	VPAND   Y10, Y0, Y0
	VPAND   Y10, Y1, Y1
	VPSHUFB Y0, Y2, Y0
	VPSHUFB Y1, Y3, Y1
	VPAND   Y0, Y1, Y12

	VMOVDQU 1(SI)(BX*1), Y0
	VPSRLW  $4, Y0, Y1
	VPAND   Y10, Y0, Y0
	VPAND   Y10, Y1, Y1
	VPSHUFB Y0, Y4, Y0
	VPSHUFB Y1, Y5, Y1
	VPAND   Y0, Y1, Y0
	VPAND   Y0, Y12, Y12

	VMOVDQU 2(SI)(BX*1), Y0
	VPSRLW  $4, Y0, Y1
	VPAND   Y10, Y0, Y0
	VPAND   Y10, Y1, Y1
	VPSHUFB Y0, Y6, Y0
	VPSHUFB Y1, Y7, Y1
	VPAND   Y0, Y1, Y0
	VPAND   Y0, Y12, Y12

	VMOVDQU 3(SI)(BX*1), Y0
	VPSRLW  $4, Y0, Y1
	VPAND   Y10, Y0, Y0
	VPAND   Y10, Y1, Y1
	VPSHUFB Y0, Y8, Y0
	VPSHUFB Y1, Y9, Y1
	VPAND   Y0, Y1, Y0
	VPAND   Y0, Y12, Y12

	VPCMPEQB  Y11, Y12, Y12
	VPMOVMSKB Y12, CX
	NOTL      CX
	TESTL     CX, CX
	JNZ       found
	ADDQ      $32, BX
	JMP       loop

found:
	VZEROUPPER
	MOVQ BX, i+40(FP)
	MOVL CX, mask+48(FP)
	RET

none:
	VZEROUPPER
	MOVQ BX, i+40(FP)
	MOVL $0, mask+48(FP)
	RET
