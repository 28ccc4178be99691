package scanner

// Suppression is never silent (DESIGN.md §3): a finding that a gemscan:allow
// line, .gemscanignore or a baseline hides is moved here rather than
// dropped, so every report can count it by reason and the JSON report can
// list it, redacted, with what suppressed it.

// Reason says what suppressed a finding. The values are part of the JSON
// report's contract.
type Reason string

// Suppression reasons.
const (
	// ReasonAllow: the credential's line (or its paired secret's line)
	// holds AllowMarker.
	ReasonAllow Reason = "allow-comment"
	// ReasonIgnoreFile: its path matches a pattern in IgnoreFile.
	ReasonIgnoreFile Reason = "ignore-file"
	// ReasonBaseline: its fingerprint is listed in a baseline.
	ReasonBaseline Reason = "baseline"
)

// Reasons lists the suppression reasons in the order reports show them.
func Reasons() []Reason { return []Reason{ReasonAllow, ReasonIgnoreFile, ReasonBaseline} }

// MaxListedSuppressed bounds how many suppressed findings a Result keeps:
// every one is counted, but a log with a million allowed lines must not
// hold a million findings in memory.
const MaxListedSuppressed = 10000

// Suppressed is a finding that a suppression hid from the report.
type Suppressed struct {
	Finding
	// Reason is what hid it.
	Reason Reason
	// Source is where the suppression lives: the file holding the
	// gemscan:allow line, the ignore file, the baseline file.
	Source string
}

// Suppressions holds a scan's suppressed findings: all counted by reason,
// the first MaxListedSuppressed listed. The zero value is ready to use; it
// is not safe for concurrent use (sources add under their own lock).
type Suppressions struct {
	// List holds the suppressed findings, in the order they were added, up
	// to MaxListedSuppressed of them.
	List   []Suppressed
	counts [3]int64
}

func reasonIndex(r Reason) int {
	switch r {
	case ReasonAllow:
		return 0
	case ReasonIgnoreFile:
		return 1
	case ReasonBaseline:
		return 2
	}
	panic("scanner: unknown suppression reason " + string(r))
}

// Add records findings suppressed for reason by source. An empty source
// names each finding's own file (where a gemscan:allow line is).
func (s *Suppressions) Add(reason Reason, source string, fs ...Finding) {
	s.counts[reasonIndex(reason)] += int64(len(fs))
	for _, f := range fs {
		if len(s.List) >= MaxListedSuppressed {
			return
		}
		src := source
		if src == "" {
			src = f.File
		}
		s.List = append(s.List, Suppressed{Finding: f, Reason: reason, Source: src})
	}
}

// Count returns how many findings reason suppressed.
func (s *Suppressions) Count(reason Reason) int64 { return s.counts[reasonIndex(reason)] }

// Total returns how many findings were suppressed, for any reason.
func (s *Suppressions) Total() int64 { return s.counts[0] + s.counts[1] + s.counts[2] }

// Unlisted returns how many suppressed findings were counted but not kept
// in List.
func (s *Suppressions) Unlisted() int64 { return s.Total() - int64(len(s.List)) }

// keep adds a finding to r: as a finding, or as
// suppressed by the ignore file or by gemscan:allow.
func (r *Result) keep(f Finding, ignored, allowed bool) {
	switch {
	case ignored:
		r.Suppressed.Add(ReasonIgnoreFile, IgnoreFile, f)
	case allowed:
		r.Suppressed.Add(ReasonAllow, "", f)
	default:
		r.Findings = append(r.Findings, f)
	}
}
