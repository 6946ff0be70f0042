package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// alertDelivery is one alert a sink delivered (alert_deliveries).
type alertDelivery struct {
	sink, id string
	at       time.Time
}

var alertDeliveriesTable = table[alertDelivery]{
	name: "alert_deliveries",
	columns: []column[alertDelivery]{
		{"sink", "text", func(d alertDelivery) any { return d.sink }},
		{"alert_id", "text", func(d alertDelivery) any { return d.id }},
		{"delivered_at", "timestamptz", func(d alertDelivery) any { return Ms(d.at) }},
	},
	conflict: "ON CONFLICT (sink, alert_id) DO NOTHING",
}

// AlertDelivered reports whether sink has delivered the alert with this id.
func (s *Store) AlertDelivered(ctx context.Context, sink, id string) (bool, error) {
	var one int
	err := s.write.QueryRowContext(ctx, "SELECT 1 FROM alert_deliveries WHERE sink = $1 AND alert_id = $2", sink, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: alert delivered: %w", err)
	}
	return true, nil
}

// MarkAlertDelivered records that sink delivered the alert with this id at at; recording it
// again changes nothing.
func (s *Store) MarkAlertDelivered(ctx context.Context, sink, id string, at time.Time) error {
	row := alertDeliveriesTable.values([]alertDelivery{{sink: sink, id: id, at: at}}, s.dialect)[0]
	if _, err := s.write.ExecContext(ctx, alertDeliveriesTable.rowSQL(), row...); err != nil {
		return fmt.Errorf("store: mark alert delivered: %w", err)
	}
	return nil
}
