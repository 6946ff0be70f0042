package faults

import (
	"fmt"
	"os"
	"sync"
	"text/tabwriter"
)

// row is one line of the fault table.
type row struct {
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
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\nscenario\tsent\t204s\tstored\tlost\tduplicates\tnote")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Scenario, r.Sent, r.NoContent, r.Stored, r.Lost, r.Duplicates, r.Note)
	}
	w.Flush()
}
