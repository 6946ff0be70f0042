package lint

import (
	"fmt"

	zl "github.com/zmap/zlint/v3/lint"
)

// Status is the verdict of one lint on one certificate, most severe first: fatal (the lint could
// not run to completion), error (a MUST is broken), warn (a SHOULD), notice (worth knowing), pass,
// NA (the lint does not apply to this kind of certificate) and NE (the requirement was not yet, or
// no longer, in force at the certificate's notBefore). zlint prints notice as "info".
type Status string

// The statuses, as stored and shown.
const (
	StatusFatal  Status = "fatal"
	StatusError  Status = "error"
	StatusWarn   Status = "warn"
	StatusNotice Status = "notice"
	StatusPass   Status = "pass"
	StatusNA     Status = "NA"
	StatusNE     Status = "NE"
)

// Statuses lists every status, most severe first.
func Statuses() []Status {
	return []Status{StatusFatal, StatusError, StatusWarn, StatusNotice, StatusPass, StatusNA, StatusNE}
}

// ParseStatus returns the Status named s ("error", "warn", ...; zlint's "info" is accepted for
// notice).
func ParseStatus(s string) (Status, error) {
	if s == "info" {
		return StatusNotice, nil
	}
	for _, st := range Statuses() {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown lint status %q (known: fatal, error, warn, notice, pass, NA, NE)", s)
}

// Finding reports whether s is a result worth showing: fatal, error, warn or notice.
func (s Status) Finding() bool { return s.rank() <= StatusNotice.rank() }

// rank orders statuses by severity, 0 being the most severe.
func (s Status) rank() int {
	for i, st := range Statuses() {
		if st == s {
			return i
		}
	}
	return len(Statuses())
}

func fromZlint(s zl.LintStatus) Status {
	switch s {
	case zl.Fatal:
		return StatusFatal
	case zl.Error:
		return StatusError
	case zl.Warn:
		return StatusWarn
	case zl.Notice:
		return StatusNotice
	case zl.Pass:
		return StatusPass
	case zl.NE:
		return StatusNE
	}
	return StatusNA // NA, and Reserved, which no lint should return
}
