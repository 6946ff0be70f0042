package rules

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestExpiryScanFiresEachThresholdOnce(t *testing.T) {
	expires := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	c := Cert{SHA256: "aa", TBSSHA256: "bb", Hosts: []string{"www.example.com"}, EffectiveNotAfter: expires}
	at := func(daysLeft float64) time.Time {
		return expires.Add(-time.Duration(daysLeft * 24 * float64(time.Hour)))
	}

	tests := []struct {
		name      string
		policy    string
		scans     []float64 // days left at each scan
		wantFired []int     // thresholds fired, in order
	}{
		{"ages through every threshold", "", []float64{45, 31, 29.9, 29, 20, 14, 13, 8, 6.5, 6, 1, 0.1, -1}, []int{30, 14, 7}},
		{"first seen close to expiry fires only the most urgent", "", []float64{5, 4, 1}, []int{7}},
		{"first seen between thresholds", "", []float64{20, 10, 3}, []int{30, 14, 7}},
		{"first seen between the smaller thresholds", "", []float64{10, 9, 3}, []int{14, 7}},
		{"already expired", "", []float64{-2}, nil},
		{"custom thresholds", "rules: {expiringSoon: {days: [3, 60]}}", []float64{61, 59, 10, 2}, []int{60, 3}},
		{"switched off", "rules: {expiringSoon: false}", []float64{29, 1}, nil},
		{"out of scope", "watch: [example.org]", []float64{29, 1}, nil},
		{"authorized", "authorizations: [{tbsSha256: " + sha64("bb") + "}]", []float64{29}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.policy)
			cert := c
			if tc.name == "authorized" {
				cert.TBSSHA256 = sha64("bb")
			}
			var alerted, fired []int
			for _, left := range tc.scans {
				f, due := p.ExpiryDue(cert, at(left), alerted)
				if !due {
					continue
				}
				assert.Equal(t, TypeExpiringSoon, f.Type)
				assert.Equal(t, "expiringSoon/"+strconv.Itoa(f.ThresholdDays), f.DedupType())
				fired = append(fired, f.ThresholdDays)
				alerted = append(alerted, f.ThresholdDays) // what the store records
			}
			assert.Equal(t, tc.wantFired, fired)
		})
	}
}

func sha64(prefix string) string {
	for len(prefix) < 64 {
		prefix += "0"
	}
	return prefix
}
