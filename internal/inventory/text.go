package inventory

import (
	"strings"
	"unicode/utf8"
)

// Text from certificates is hostile: a subject, a host name or a CT log's name may hold NUL bytes
// and invalid UTF-8, which PostgreSQL's text and jsonb refuse. Both databases therefore store
// every NUL and every invalid byte as U+FFFD, the replacement character: the row is written (never
// a dead letter for an odd name), both databases agree, and a reader sees that something was
// there. Query arguments go through the same change, so that a search finds what was stored.

// storable is s as the inventory stores it.
func storable(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// storableJSON is the JSON document doc as the inventory stores it: storable, and with every
// \u0000 escape (which jsonb refuses) written as \ufffd. Outside strings JSON has no backslash,
// and inside one every backslash starts an escape, so a scan that steps over escapes finds them.
func storableJSON(doc string) string {
	doc = storable(doc)
	if !strings.Contains(doc, `\u0000`) {
		return doc
	}
	var b strings.Builder
	b.Grow(len(doc))
	for i := 0; i < len(doc); i++ {
		if doc[i] != '\\' || i+1 == len(doc) {
			b.WriteByte(doc[i])
			continue
		}
		if strings.HasPrefix(doc[i:], `\u0000`) {
			b.WriteString(`\ufffd`)
			i += len(`\u0000`) - 1
			continue
		}
		b.WriteString(doc[i : i+2]) // any other escape, \\ included
		i++
	}
	return b.String()
}
