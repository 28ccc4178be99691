package rules

import (
	"bytes"
	"math"
)

// Character classes used by the token scanners.
func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// isKeyChar reports whether c may appear in a URL-safe key body.
func isKeyChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }

// isTokenChar reports whether c would continue a token: a credential that is
// glued to one of these characters is part of a longer token, not a key.
func isTokenChar(c byte) bool { return isKeyChar(c) || c == '+' || c == '/' }

// IsTokenChar reports whether c would continue a token as the rules read
// one: a credential glued to such a byte is not a word of its own.
func IsTokenChar(c byte) bool { return isTokenChar(c) }

// placeholderWords are fragments of template or documentation text,
// matched case-insensitively. A word of placeholderLongWord letters or more
// marks a body as a placeholder on its own: a random body holds one by
// chance about once in four million. A shorter word turns up in about one
// random body in 5,000 (AIzaSy…TestRnZ…), so it only counts where it reads
// as text: beside a second template word (YourKeyHere, DummyKeyForTesting),
// or as a token of its own between - or _ separators or the body's ends
// (your-key, _TEST_). TestRandomBodyFalseRejections measures what this
// costs random keys.
var placeholderWords = [][]byte{
	[]byte("your"), []byte("here"), []byte("example"), []byte("sample"),
	[]byte("dummy"), []byte("test"), []byte("placeholder"), []byte("replace"),
	[]byte("changeme"), []byte("fake"), []byte("insert"), []byte("redacted"),
	[]byte("xxxx"), []byte("secret"), []byte("apikey"), []byte("mock"),
}

// placeholderLongWord is the length from which one template word is enough.
const placeholderLongWord = 6

// placeholderText reports whether body holds template text by the rule
// placeholderWords describes. lowerBody is body in lower case.
func placeholderText(body, lowerBody []byte) bool {
	short := 0 // short words found
	for _, w := range placeholderWords {
		for off := 0; ; {
			i := bytes.Index(lowerBody[off:], w)
			if i < 0 {
				break
			}
			i += off
			j := i + len(w)
			if len(w) >= placeholderLongWord || separated(body, i, j) {
				return true
			}
			short++
			if short >= 2 {
				return true
			}
			off = j
		}
	}
	return false
}

// separated reports whether body[i:j] stands between - or _ separators or
// the ends of body.
func separated(body []byte, i, j int) bool {
	left := i == 0 || body[i-1] == '-' || body[i-1] == '_'
	right := j == len(body) || body[j] == '-' || body[j] == '_'
	return left && right
}

// bodyCheck says why a credential body is not a real credential, or "" when
// it looks like one. minEntropy is in bits per character.
func bodyCheck(body []byte, minEntropy float64) string {
	if len(body) == 0 {
		return "empty"
	}
	var lower, upper, digit, vowels, hex int
	var fill int // x, X and 0 characters
	run, maxRun := 1, 1
	var counts [256]int
	for i, c := range body {
		counts[c]++
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' {
			hex++
		}
		switch {
		case c >= 'a' && c <= 'z':
			lower++
		case c >= 'A' && c <= 'Z':
			upper++
		case c >= '0' && c <= '9':
			digit++
		}
		switch c {
		case 'a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U':
			vowels++
		case 'x', 'X', '0':
			fill++
		}
		if i > 0 {
			p := body[i-1]
			if c == p {
				run++
			} else {
				run = 1
			}
			maxRun = max(maxRun, run)
		}
	}
	switch {
	case maxRun >= 5:
		return "repeated characters"
	case sequential(body):
		return "sequential characters"
	case fill*2 >= len(body):
		return "filled with x or 0"
	case hex == len(body):
		// A hash or an ID; random credential bodies use the whole alphabet.
		return "hexadecimal"
	}
	classes := 0
	for _, n := range []int{lower, upper, digit} {
		if n > 0 {
			classes++
		}
	}
	if classes < 2 {
		return "too few character classes"
	}
	if placeholderText(body, bytes.ToLower(body)) {
		return "placeholder text"
	}
	if digit == 0 && looksLikeWords(body, vowels) {
		return "plain words"
	}
	if entropy(&counts, len(body)) < minEntropy {
		return "low entropy"
	}
	return ""
}

// seqMinLen is the shortest run of consecutive letters or digits (abcdef,
// aBcDeF, 987654) that marks a body as typed rather than random. Random
// bodies hold a run of 5 about 5 times in 100,000 (50 characters), a run of 6
// about twice in a million; TestSequenceFalseRejections measures it.
const seqMinLen = 6

// sequential reports whether body was typed as a sequence: a long run of
// consecutive characters, or consecutive pairs for half its length (abc123…).
func sequential(body []byte) bool {
	longest, steps := sequences(body)
	return len(body) > 0 && (longest >= seqMinLen || steps*2 >= len(body))
}

// sequences returns the length of the longest run of consecutive letters or
// digits in body, ascending or descending, with case ignored, and the number
// of adjacent pairs that step by one (a1b2c3 patterns have many, random text
// one in fifteen).
func sequences(body []byte) (longest, steps int) {
	longest = min(1, len(body))
	seq, dir := 1, 0
	for i := 1; i < len(body); i++ {
		p, c := body[i-1], body[i]
		step := 0
		if isAlnum(p) && isAlnum(c) {
			step = int(lowerASCII(c)) - int(lowerASCII(p))
		}
		switch {
		case step != 1 && step != -1:
			seq, dir = 1, 0
			continue
		case step == dir:
			seq++
		default:
			seq, dir = 2, step
		}
		steps++
		longest = max(longest, seq)
	}
	return longest, steps
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// looksLikeWords reports whether a digit-free body reads as words run
// together (camelCase or snake_case identifiers) rather than random text.
// Random letters are about 19% vowels; English words are nearer 38%.
// Every word must also hold a vowel (y counts) and no run of four other
// letters: without that, about one random 20-letter exchange key in 130,000
// passed as words (qisUmucPekGoxlHvusfo); TestRandomBodyFalseRejections
// measures it.
func looksLikeWords(body []byte, vowels int) bool {
	letters := 0
	for _, c := range body {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			letters++
		}
	}
	if letters == 0 || float64(vowels)/float64(letters) < 0.3 {
		return false
	}
	// Every word must be an upper-case letter (or the start) followed by at
	// least two lower-case letters: "MyProjectAccessToken".
	wordLen := 0
	voiced := false // the word holds a vowel
	consonants := 0 // the run of other letters ending here
	for i, c := range body {
		switch {
		case c >= 'A' && c <= 'Z':
			if i > 0 && (wordLen < 3 || !voiced) {
				return false
			}
			wordLen, voiced, consonants = 1, false, 0
		case c >= 'a' && c <= 'z':
			wordLen++
		case c == '_' || c == '-':
			if wordLen < 3 || !voiced {
				return false
			}
			wordLen, voiced, consonants = 0, false, 0
			continue
		default:
			return false
		}
		switch lowerASCII(c) {
		case 'a', 'e', 'i', 'o', 'u', 'y':
			voiced, consonants = true, 0
		default:
			if consonants++; consonants >= 4 {
				return false
			}
		}
	}
	return wordLen >= 3 && voiced
}

// entropy returns the Shannon entropy, in bits per character, of a string
// of length n whose byte histogram is counts.
func entropy(counts *[256]int, n int) float64 {
	// -Σ p·log2 p with p = c/n is log2 n - (Σ c·log2 c)/n: one logarithm
	// per call, the others read from a table for the counts a key body has.
	if n == 0 {
		return 0
	}
	var s float64
	for _, c := range counts {
		if c < len(cLog2c) {
			s += cLog2c[c]
		} else {
			s += float64(c) * math.Log2(float64(c))
		}
	}
	return math.Log2(float64(n)) - s/float64(n)
}

// cLog2c[c] is c·log2(c) (0 for c = 0), for entropy; constants, so the
// table costs no start-up time. TestCLog2cTable checks every entry.
var cLog2c = [...]float64{
	0, 0, 2, 4.754887502163469,
	8, 11.60964047443681, 15.509775004326936, 19.651484454403228,
	24, 28.529325012980813, 33.219280948873624, 38.05374780501027,
	43.01955000865387, 48.105716335834195, 53.302968908806456, 58.60335893412778,
	64, 69.48686830125577, 75.05865002596161, 80.71062275542812,
	86.43856189774725, 92.23866587835397, 98.10749561002054, 104.0419249893113,
	110.03910001730775, 116.09640474436812, 122.21143267166839, 128.38196255841365,
	134.6059378176129, 140.88144885869957, 147.20671786825557, 153.58008562199313,
	160,
}

// Entropy returns the Shannon entropy of s in bits per character.
func Entropy(s []byte) float64 {
	var counts [256]int
	for _, c := range s {
		counts[c]++
	}
	return entropy(&counts, len(s))
}
