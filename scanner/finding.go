// Package scanner reads the places credentials leak from — working trees,
// git history, staged changes, standard input — runs the rules over them and
// turns what they match into located, attributed, suppressible findings.
// It never prints, exits or talks to the network.
package scanner

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/gemscan-dev/gemscan/rules"
)

// Finding is one credential at one place: the record every later stage
// (verification, reports) consumes.
type Finding struct {
	// Rule is the rule ID (rules.ExchangeKey, …).
	Rule string
	// File is the path as shown to the user; Path is the same file relative
	// to the scan root, slash-separated, and is what fingerprints use.
	File, Path string
	// Member, for a credential inside an archive, is the member holding it
	// (nested members chained with "!"): File and Path then end with "!"
	// and Member, and Line counts lines in the member. "" otherwise.
	Member string
	// Line and Column (1-based; the column counts Unicode code points)
	// locate the credential, or the encoded text holding it.
	Line, Column int
	// EndLine and EndColumn locate the end of that text (exclusive column).
	EndLine, EndColumn int
	// SecretLine is the line of the paired secret, 0 when there is none.
	SecretLine int
	// Commit, Author and Date attribute a finding in history (git mode).
	Commit, Author string
	Date           time.Time
	// InHead says whether the credential is still at Path in HEAD's tree.
	InHead bool
	// HeadLine and HeadColumn (git mode, when InHead) locate the credential
	// in HEAD's version of the file, which later commits may have moved
	// away from Line and Column (those of the introducing commit).
	HeadLine, HeadColumn int
	// RemovedBy (git mode, when not InHead) is the commit of HEAD's
	// history that removed the credential from Path, when the scanned
	// history shows it; "" otherwise (e.g. it was never on HEAD's line).
	RemovedBy string
	// Refs (git mode, whole-history scans) names the refs whose history
	// holds the introducing commit, full names ("refs/heads/feature",
	// "refs/tags/v1.2") and "HEAD" when HEAD reaches it: HEAD first, then
	// branches, tags, remote-tracking and other refs, at most MaxRefs;
	// MoreRefs counts those left out.
	Refs     []string
	MoreRefs int
	// Value is the credential (for a lone secret, the secret).
	Value string
	// Secrets are candidate secrets for an exchange key, best first.
	Secrets []string
	// Encoding names how the credential was encoded, if it was.
	Encoding string
	// Confidence is the rule's confidence in the match.
	Confidence rules.Confidence
	// Verification is the live check's answer, when one was made.
	Verification *Verification
}

// Verification is the outcome of checking a credential with its provider.
type Verification struct {
	// Status is one of the Status constants.
	Status Status `json:"status"`
	// Detail is a one-line explanation: the reason, and for a live
	// credential what it can do.
	Detail string `json:"detail"`
}

// Status is a verification outcome.
type Status string

// Verification statuses, fixed by the report contract.
const (
	StatusLive           Status = "live"
	StatusLiveRestricted Status = "live-restricted"
	StatusLikelyLive     Status = "likely-live"
	StatusBlocked        Status = "blocked"
	StatusInvalid        Status = "invalid"
	StatusRejected       Status = "rejected"
	StatusUnknown        Status = "unknown"
	StatusUnverifiable   Status = "unverifiable"
)

// IsLive reports whether s says the credential works (fully, restricted, or
// very likely).
func (s Status) IsLive() bool {
	return s == StatusLive || s == StatusLiveRestricted || s == StatusLikelyLive
}

// Secret returns the paired secret, or "".
func (f *Finding) Secret() string {
	if len(f.Secrets) == 0 {
		return ""
	}
	return f.Secrets[0]
}

// ValueSHA256 returns the hex SHA-256 of the credential.
func (f *Finding) ValueSHA256() string { return sha256Hex(f.Value) }

// SecretSHA256 returns the hex SHA-256 of the paired secret, or "".
func (f *Finding) SecretSHA256() string {
	if s := f.Secret(); s != "" {
		return sha256Hex(s)
	}
	return ""
}

// Fingerprint returns a stable identifier for the credential at its path.
// It depends on the rule, the path (with / separators) and the credential,
// so it survives line moves, rebases and new commits, and differs for the
// same credential at two paths.
func (f *Finding) Fingerprint() string {
	p := strings.ReplaceAll(f.Path, `\`, "/")
	p = strings.TrimPrefix(p, "./")
	sum := sha256.Sum256([]byte("gemscan/v1\x00" + f.Rule + "\x00" + p + "\x00" + f.Value))
	return hex.EncodeToString(sum[:16])
}

// Redacted returns the credential with all but its prefix and two characters
// hidden: "account-Ab…", "AIzaSy…", "AQ.Ab…", "Xy…".
func (f *Finding) Redacted() string { return Redact(f.Value) }

// Redact hides all of a credential but its well-known prefix and two more
// characters.
func Redact(v string) string {
	keep := 0
	for _, p := range rules.Keywords() {
		if strings.HasPrefix(v, p) {
			keep = len(p)
			break
		}
	}
	keep += 2
	if keep >= len(v) {
		return "…"
	}
	return v[:keep] + "…"
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
