package gitdir

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Config is one git configuration file, parsed as git reads it (config.c):
// sections, quoted subsections, comments, quoted values with escapes and
// continuation lines. Includes are not followed.
//
// It replaces go-git's plumbing/format/config, whose decoder (go-git/gcfg)
// links encoding/gob and regular expressions compiled at start-up: a
// tenth of what every gemscan run, `gemscan version` included, spent
// before main. TestConfigMatchesGoGit checks it against go-git's decoder.
type Config struct {
	entries []ConfigEntry
}

// ConfigEntry is one variable's value. Section and Key are lower case (git
// compares them without case); Subsection is as written.
type ConfigEntry struct {
	Section, Subsection, Key string
	// Value is the value; a key with no "=" (git's implicit true) has
	// the empty value and Implicit set.
	Value    string
	Implicit bool
	// sub is set for a section header that names a subsection, even an
	// empty one: git reads [core ""] and [core.] as other sections than
	// [core].
	sub bool
}

// errConfig marks a configuration file git itself would refuse.
var errConfig = errors.New("bad config")

// ReadConfig reads and parses the configuration file at path; a file that
// does not exist is an empty configuration.
func ReadConfig(path string) (*Config, error) {
	data, err := ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return &Config{}, nil
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return c, nil
}

// Get returns the last value of section.subsection.key ("" subsection for
// none), as git reads a single-valued variable.
func (c *Config) Get(section, subsection, key string) (string, bool) {
	section, key = strings.ToLower(section), strings.ToLower(key)
	for i := len(c.entries) - 1; i >= 0; i-- {
		e := &c.entries[i]
		if e.Section == section && e.Subsection == subsection && e.sub == (subsection != "") && e.Key == key {
			return e.Value, true
		}
	}
	return "", false
}

// Entries returns every variable in file order.
func (c *Config) Entries() []ConfigEntry { return c.entries }

// Bool reads a value as git's boolean ("true", "yes", "on", "1", or no
// "=" at all).
func (e ConfigEntry) Bool() bool {
	if e.Implicit {
		return true
	}
	switch strings.ToLower(e.Value) {
	case "true", "yes", "on", "1":
		return true
	}
	return false
}

// ParseConfig parses the text of a git configuration file.
func ParseConfig(data []byte) (*Config, error) {
	p := configParser{data: bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), line: 1}
	if err := p.parse(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %w", errConfig, p.line, err)
	}
	return &Config{entries: p.out}, nil
}

type configParser struct {
	data                []byte
	pos, line           int
	section, subsection string
	sub                 bool // the header names a subsection
	out                 []ConfigEntry
}

const eof = -1

// next returns the next byte, with "\r\n" read as "\n", or eof.
func (p *configParser) next() int {
	if p.pos >= len(p.data) {
		return eof
	}
	c := p.data[p.pos]
	p.pos++
	if c == '\r' && p.pos < len(p.data) && p.data[p.pos] == '\n' {
		p.pos++
		c = '\n'
	}
	if c == '\n' {
		p.line++
	}
	return int(c)
}

func (p *configParser) unread(c int) {
	if c == eof {
		return
	}
	p.pos--
	if c == '\n' {
		p.line--
		if p.pos > 0 && p.data[p.pos-1] == '\r' {
			p.pos--
		}
	}
}

func isSpace(c int) bool {
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == '\n'
}
func isAlpha(c int) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isKeyChar(c int) bool {
	return isAlpha(c) || c >= '0' && c <= '9' || c == '-'
}

func lower(c int) byte {
	if c >= 'A' && c <= 'Z' {
		return byte(c + 'a' - 'A')
	}
	return byte(c)
}

func (p *configParser) parse() error {
	comment := false
	for {
		c := p.next()
		switch {
		case c == eof:
			return nil
		case c == '\n':
			comment = false
		case comment || isSpace(c):
		case c == '#' || c == ';':
			comment = true
		case c == '[':
			if err := p.header(); err != nil {
				return err
			}
		case isAlpha(c):
			// git reads a variable before any section too (with an
			// empty section name, which no lookup here asks for).
			if err := p.variable(c); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected %q", rune(c))
		}
	}
}

// header reads a section header after its "[".
func (p *configParser) header() error {
	var name []byte
	for {
		c := p.next()
		switch {
		case c == ']':
			if len(name) == 0 {
				return errors.New("empty section name")
			}
			// [section.sub], git's old form: the subsection in lower case.
			s := string(name)
			p.section, p.subsection, p.sub = strings.Cut(s, ".")
			return nil
		case isSpace(c) && c != '\n':
			return p.extendedHeader(string(name))
		case isKeyChar(c) || c == '.':
			name = append(name, lower(c))
		default:
			return errors.New("bad section header")
		}
	}
}

// extendedHeader reads [section "subsection"] after the section's name.
func (p *configParser) extendedHeader(section string) error {
	c := p.next()
	for isSpace(c) && c != '\n' {
		c = p.next()
	}
	if c != '"' {
		return errors.New("bad section header: a subsection must be quoted")
	}
	var sub []byte
	for {
		c = p.next()
		switch c {
		case eof, '\n':
			return errors.New("unterminated subsection name")
		case '"':
			if p.next() != ']' {
				return errors.New("bad section header: no ']' after the subsection")
			}
			if section == "" {
				return errors.New("empty section name")
			}
			p.section, p.subsection, p.sub = section, string(sub), true
			return nil
		case '\\':
			c = p.next()
			if c == eof || c == '\n' {
				return errors.New("unterminated subsection name")
			}
		}
		sub = append(sub, byte(c))
	}
}

// variable reads "key [= value]" from its first character.
func (p *configParser) variable(c int) error {
	key := []byte{lower(c)}
	for {
		c = p.next()
		if !isKeyChar(c) {
			break
		}
		key = append(key, lower(c))
	}
	for c != '\n' && c != eof && isSpace(c) {
		c = p.next()
	}
	e := ConfigEntry{Section: p.section, Subsection: p.subsection, Key: string(key), sub: p.sub}
	switch c {
	case '\n', eof, '#', ';':
		// No value: git's implicit true. The rest of the line is a comment.
		p.unread(c)
		if c == '#' || c == ';' {
			for c = p.next(); c != '\n' && c != eof; c = p.next() {
			}
		}
		e.Implicit = true
	case '=':
		v, err := p.value()
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		// git's values are C strings: what follows a NUL is not seen.
		if i := strings.IndexByte(v, 0); i >= 0 {
			v = v[:i]
		}
		e.Value = v
	default:
		return fmt.Errorf("bad variable name %q", string(key)+string(rune(c)))
	}
	p.out = append(p.out, e)
	return nil
}

// value reads a value after its "=", up to the end of its (last) line.
func (p *configParser) value() (string, error) {
	var v []byte
	quote, comment := false, false
	spaces := 0
	for {
		c := p.next()
		switch {
		case c == '\n' || c == eof:
			if quote {
				return "", errors.New("unterminated quoted value")
			}
			return string(v), nil
		case comment:
			continue
		case isSpace(c) && !quote:
			if len(v) > 0 {
				spaces++
			}
			continue
		case !quote && (c == ';' || c == '#'):
			comment = true
			continue
		}
		for ; spaces > 0; spaces-- {
			v = append(v, ' ')
		}
		switch c {
		case '\\':
			switch c = p.next(); c {
			case '\n':
				continue // a continuation line
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'n':
				c = '\n'
			case '\\', '"':
			default:
				return "", errors.New("bad escape in value")
			}
		case '"':
			quote = !quote
			continue
		}
		v = append(v, byte(c))
	}
}
