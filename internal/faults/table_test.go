package faults

import (
	"fmt"
	"os"
	"sort"
	"sync"
	"text/tabwriter"
)

// row is one line of the fault table.
type row struct {
	N          int // scenario number in the issue; the table is printed in this order
	Scenario   string
	Sent       int
	NoContent  int
	Stored     int
	Lost       int
	Duplicates int
	Note       string
}

var (
	tableMu sync.Mutex
	rows    []row
)

func record(r row) {
	tableMu.Lock()
	defer tableMu.Unlock()
	rows = append(rows, r)
}

func printTable() {
	tableMu.Lock()
	defer tableMu.Unlock()
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].N < rows[j].N })
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\n#\tscenario\tsent\t204s\tstored\tlost\tduplicates\tnote")
	for _, r := range rows {
		fmt.Fprintf(w, "%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", r.N, r.Scenario, r.Sent, r.NoContent, r.Stored, r.Lost, r.Duplicates, r.Note)
	}
	w.Flush()
}
