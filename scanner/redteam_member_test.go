package scanner

import (
	"bytes"
	"context"
	"testing"

	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/rules"
)

func utf16leOf(s string) []byte {
	var b []byte
	for _, c := range []byte(s) {
		b = append(b, c, 0)
	}
	return b
}

// TestRedteamMemberUTF16AfterNulFreeHead: an archive member (an APK's
// resources.arsc, a .dex) is read for its printable runs, UTF-16LE ones
// included, only when a NUL byte shows in its first binarySniff (8 KiB)
// bytes; otherwise it is scanned as raw text, where a UTF-16 key is
// "A\x00I\x00z\x00…" and is missed. A member of 10000 bytes 0x80 0x01
// then a UTF-16LE key: `gemscan dir` on a zip holding it exits 0. With one
// NUL in the head it is found.
func TestRedteamMemberUTF16AfterNulFreeHead(t *testing.T) {
	key := testkeys.New(941).APIKey()
	det := rules.NewDetector()
	for _, n := range []int{100, 5000, memberBuffer/2 + 10} {
		withNul := append(append([]byte{0}, bytes.Repeat([]byte{0x80, 0x01}, n)...), utf16leOf(key)...)
		if fs, _, err := scanMember(context.Background(), det, bytes.NewReader(withNul), "a.apk", "a.apk!x.bin"); err != nil || len(fs) != 1 {
			t.Fatalf("head of %d pairs, with a NUL: findings %d, err %v: want the key", n, len(fs), err)
		}
	}
	t.Skip("known: scanner/archive.go scanMember reads a member's printable runs (UTF-16 included) only if a NUL is in its first binarySniff bytes; a binary member whose first 8 KiB hold no NUL (0x80 0x01 ...) is scanned raw and a UTF-16LE key later in it is missed (exit 0); the lead must run the printable runs over any member that is not valid text, or over the raw scan's bytes too")
	for _, n := range []int{5000, memberBuffer/2 + 10} {
		noNul := append(append(bytes.Repeat([]byte{0x80, 0x01}, n), utf16leOf(key)...), 0, 0, 5)
		if fs, _, err := scanMember(context.Background(), det, bytes.NewReader(noNul), "a.apk", "a.apk!x.bin"); err != nil || len(fs) != 1 {
			t.Errorf("head of %d pairs, no NUL: findings %d, err %v: want the UTF-16 key", n, len(fs), err)
		}
	}
}
