package console

import (
	"strconv"
	"time"

	"github.com/hzhook/hzhook/internal/inventory"
)

// The console draws its charts as SVG on the server: no script, and the Content-Security-Policy
// forbids inline styles, so sizes are SVG attributes computed here.

// barRow is one row of a table with a horizontal bar: Pct of the largest count (0-100).
type barRow struct {
	Label string
	Count int
	Pct   float64
	Href  string // the certificates or findings behind the count, "" for none
}

// bars turns counts into rows scaled to the largest; href (may be nil) links each row.
func bars(counts []inventory.Count, href func(key string) string) []barRow {
	top := 0
	for _, c := range counts {
		top = max(top, c.Count)
	}
	out := make([]barRow, 0, len(counts))
	for _, c := range counts {
		r := barRow{Label: c.Key, Count: c.Count}
		if top > 0 {
			r.Pct = float64(c.Count) * 100 / float64(top)
		}
		if href != nil {
			r.Href = href(c.Key)
		}
		out = append(out, r)
	}
	return out
}

// dayChart is a column chart of one count per day.
type dayChart struct {
	Width, Height float64 // of the plot area, in SVG units
	Bars          []dayBar
	Max           int
	Total         int
	Ticks         []dayTick // x-axis labels
	Label         string    // what the chart shows, for screen readers
}

type dayBar struct {
	X, Y, W, H float64
	Day        time.Time
	Count      int
}

type dayTick struct {
	X     float64
	Label string
}

const (
	chartWidth  = 720.0
	chartHeight = 160.0
)

// newDayChart lays out days as columns; every seventh day (and the last) gets a label.
func newDayChart(days []inventory.DayCount, what string) dayChart {
	ch := dayChart{Width: chartWidth, Height: chartHeight}
	for _, d := range days {
		ch.Max = max(ch.Max, d.Count)
		ch.Total += d.Count
	}
	if len(days) == 0 {
		return ch
	}
	slot := chartWidth / float64(len(days))
	gap := min(4.0, slot*0.2)
	for i, d := range days {
		h := 0.0
		if ch.Max > 0 {
			h = float64(d.Count) * chartHeight / float64(ch.Max)
		}
		if d.Count > 0 && h < 2 {
			h = 2 // a day with issuances is never invisible
		}
		x := float64(i) * slot
		ch.Bars = append(ch.Bars, dayBar{X: x + gap/2, Y: chartHeight - h, W: slot - gap, H: h, Day: d.Day, Count: d.Count})
		if (len(days)-1-i)%7 == 0 {
			ch.Ticks = append(ch.Ticks, dayTick{X: x + slot/2, Label: d.Day.Format("Jan 2")})
		}
	}
	ch.Label = what + ", " + strconv.Itoa(len(days)) + " days from " + days[0].Day.Format("2006-01-02") + " to " +
		days[len(days)-1].Day.Format("2006-01-02") + ": " + strconv.Itoa(ch.Total) + " in all, at most " + strconv.Itoa(ch.Max) + " a day"
	return ch
}
