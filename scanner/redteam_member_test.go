package scanner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/gemscan-dev/gemscan/internal/archive/archivetest"
	"github.com/gemscan-dev/gemscan/internal/testkeys"
	"github.com/gemscan-dev/gemscan/rules"
)

// TestRedteamMemberUTF16AfterNulFreeHead: an archive member (an APK's
// resources.arsc, a .dex) is read for its printable runs, UTF-16LE ones
// included, only when a NUL byte shows in its first binarySniff (8 KiB)
// bytes; otherwise it is scanned as raw text, where a UTF-16 key is
// "A\x00I\x00z\x00…" and is missed. A member of 10000 bytes 0x80 0x01
// then a UTF-16LE key: `gemscan dir` on a zip holding it exited 0. With one
// NUL in the head it was found. Now the text is also read for its
// printable runs from the first NUL on, held whole or streamed.
func TestRedteamMemberUTF16AfterNulFreeHead(t *testing.T) {
	key := testkeys.New(941).APIKey()
	det := rules.NewDetector()
	for _, n := range []int{100, 5000, memberBuffer/2 + 10} {
		withNul := append(append([]byte{0}, bytes.Repeat([]byte{0x80, 0x01}, n)...), archivetest.UTF16LE(key)...)
		if fs, _, err := scanMember(context.Background(), det, bytes.NewReader(withNul), "a.apk", "a.apk!x.bin"); err != nil || len(fs) != 1 {
			t.Fatalf("head of %d pairs, with a NUL: findings %d, err %v: want the key", n, len(fs), err)
		}
	}
	// Held whole (up to memberBuffer), a member whose head holds no NUL
	// but whose body does is read for its printable runs too.
	noNul := append(append(bytes.Repeat([]byte{0x80, 0x01}, 5000), archivetest.UTF16LE(key)...), 0, 0, 5)
	if fs, _, err := scanMember(context.Background(), det, bytes.NewReader(noNul), "a.apk", "a.apk!x.bin"); err != nil || len(fs) != 1 {
		t.Errorf("head of 5000 pairs, no NUL: findings %d, err %v: want the UTF-16 key", len(fs), err)
	}
	// An ASCII key in such a member is reported once, not once a reading.
	both := append(append([]byte("K="+key+"\n"), bytes.Repeat([]byte{0x80, 0x01}, 5000)...), 0, 'x')
	if fs, _, err := scanMember(context.Background(), det, bytes.NewReader(both), "a.apk", "a.apk!x.bin"); err != nil || len(fs) != 1 {
		t.Errorf("ASCII key before a late NUL: findings %d, err %v: want one", len(fs), err)
	}
	// Too large to hold, it is streamed as text, and read for its
	// printable runs too from its first NUL on.
	n := memberBuffer/2 + 10
	noNul = append(append(bytes.Repeat([]byte{0x80, 0x01}, n), archivetest.UTF16LE(key)...), 0, 0, 5)
	if fs, _, err := scanMember(context.Background(), det, bytes.NewReader(noNul), "a.apk", "a.apk!x.bin"); err != nil || len(fs) != 1 {
		t.Errorf("head of %d pairs, no NUL: findings %d, err %v: want the UTF-16 key", n, len(fs), err)
	}
}

// TestRedteamMemberGluedLengthKey: in a binary member, a key that a
// printable length byte hides (a 66-byte run "AIza…" whose 'A' reads as
// its length, or the low byte of a two-byte length glued to the key) is
// found, and found once: the line written for it does not repeat a key
// the run's own line shows.
func TestRedteamMemberGluedLengthKey(t *testing.T) {
	det := rules.NewDetector()
	g := testkeys.New(942)
	for _, key := range []string{g.APIKey(), g.AQKey()} {
		pad := func(n int) string { return strings.Repeat("9", n) }
		arscLen := 0x100 + 0x41 // 0x81 0x41: 321 bytes, its low byte 'A'
		cases := map[string][]byte{
			"run as long as its first letter": []byte("\x00\x01\x02" + key + "&x=" + pad(int(key[0])+1-len(key)-3) + "\x00\x03"),
			"two-byte length glued":           []byte("\x00\x01\x00\x81\x41\x81\x41" + key + "&" + pad(arscLen-len(key)-1) + "\x00\x00"),
			"length byte stripped":            []byte("\x00\x01" + string(rune(len(key)+4)) + key + "&x=9" + "\x00\x03"),
			"after a space":                   []byte("\x00\x01\x02 " + key + "&x=9\x00\x03"),
			"glued to a letter, no length":    []byte("\x00\x01\x02x" + key + "&x=9\x00\x03"),
		}
		for name, data := range cases {
			fs, _, err := scanMember(context.Background(), det, bytes.NewReader(data), "a.apk", "a.apk!classes.dex")
			if err != nil || len(fs) != 1 || fs[0].Value != key {
				t.Errorf("%s, key %.4s…: findings %v, err %v: want the key once", name, key, located(fs), err)
			}
		}
	}
}

// TestRedteamMemberStreamedLateNul: a member streamed as text whose
// printable runs are also scanned from its first NUL on reports a key both
// readings see once, and fails closed: a read error after the NUL, or a
// cancelled scan, is the member's error, and the scan returns.
func TestRedteamMemberStreamedLateNul(t *testing.T) {
	key := testkeys.New(943).APIKey()
	det := rules.NewDetector()
	filler := bytes.Repeat([]byte{0x80, 0x01}, memberBuffer/2+10)
	t.Run("once", func(t *testing.T) {
		data := append(append(append(slices.Clone(filler), "\nK="+key+"\n"...), archivetest.UTF16LE(key)...), 0, 0)
		fs, _, err := scanMember(context.Background(), det, bytes.NewReader(data), "a.apk", "a.apk!x.bin")
		if err != nil || len(fs) != 1 || fs[0].Value != key {
			t.Fatalf("findings %v, err %v: want the key once", located(fs), err)
		}
	})
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("boom")
		data := append(slices.Clone(filler), archivetest.UTF16LE("x=1")...)
		r := io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom))
		if _, _, err := scanMember(context.Background(), det, r, "a.apk", "a.apk!x.bin"); !errors.Is(err, boom) {
			t.Fatalf("err %v: want the read error", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		release := make(chan struct{})
		defer close(release)
		data := append(slices.Clone(filler), archivetest.UTF16LE("x=1")...)
		r := io.MultiReader(bytes.NewReader(data), blockingReader{cancel, release})
		if _, _, err := scanMember(ctx, det, r, "a.apk", "a.apk!x.bin"); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v: want the cancellation", err)
		}
	})
}

// blockingReader cancels its scan, then blocks until released.
type blockingReader struct {
	cancel  context.CancelFunc
	release chan struct{}
}

func (b blockingReader) Read([]byte) (int, error) {
	b.cancel()
	<-b.release
	return 0, io.EOF
}
