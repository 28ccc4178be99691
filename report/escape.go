package report

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Nothing from the scanned data (file names, authors, submodule paths,
// provider messages) reaches a terminal, a workflow command or Markdown
// unescaped (DESIGN.md §4): a file name holding ESC[2J must not clear the
// screen, one holding "\n::warning ::" must not forge a workflow command, and
// one holding a backtick must not end a code span in the job summary.

// Sanitize returns s with every character that is not printable replaced by
// its Go escape, as strconv.Quote writes it: control characters (\n, \r,
// \t, \x1b), DEL, C1 controls, format characters such as bidirectional
// overrides (\u202e) and bytes that are not UTF-8 (\xff). Printable text,
// non-ASCII letters included, is unchanged. Use it for text in which a name
// is embedded (error messages, notes); QuoteName quotes a name on its own.
func Sanitize(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case strconv.IsPrint(r):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRune(r) // 'x' with x escaped
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

// needsEscape reports whether s holds a character Sanitize escapes.
func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !strconv.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// QuoteName shows a file name, author or path the way git and ls show
// unusual names: as is when it is plain printable text, otherwise quoted
// with strconv.Quote, so that a name holding a newline cannot pass for two
// lines and "a\nb" (backslash, n) stays distinguishable from a real newline.
func QuoteName(s string) string {
	if needsEscape(s) || strings.ContainsAny(s, `"\`) {
		return strconv.Quote(s)
	}
	return s
}

// MarkdownCode shows s as a Markdown code span that is safe inside a table
// cell (every writer of the job summary uses it): control characters
// escaped, the fence longer than any run of backticks in s, and pipes escaped (GitHub splits table cells before it parses code
// spans). Nothing inside a code span renders as a link, HTML or emphasis.
func MarkdownCode(s string) string {
	t := strings.ReplaceAll(Sanitize(s), "|", `\|`)
	longest, run := 0, 0
	for i := 0; i < len(t); i++ {
		if t[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if t == "" || t[0] == '`' || t[len(t)-1] == '`' || t[0] == ' ' || t[len(t)-1] == ' ' {
		// One space each side, which CommonMark strips again.
		t = " " + t + " "
	}
	return fence + t + fence
}

// MarkdownText shows s as plain Markdown text that is safe inside a table
// cell: control characters escaped and every ASCII punctuation character
// backslash-escaped, so no emphasis, link, autolink ("https://…",
// "www.…"), HTML tag, entity or cell break can form.
func MarkdownText(s string) string {
	t := Sanitize(s)
	var b strings.Builder
	b.Grow(len(t) + 8)
	for i := 0; i < len(t); i++ {
		c := t[i]
		if strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
