package handlers

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// NewEcho returns the echo instance of one listener: errors answered by ErrorHandler, panics
// turned into a 500 and a log line, and every answer counted in hz_http_requests_total and
// hz_http_request_seconds with the listener label. Metrics go to reg; the returned Metrics feed
// InFlightLimit.
func NewEcho(listener string, log *slog.Logger, reg prometheus.Registerer) (*echo.Echo, *Metrics) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = ErrorHandler(log)
	m := newMetrics(reg, listener)
	e.Use(recoverPanics(log), m.middleware)
	return e, m
}

// recoverPanics turns a panic into a 500 and a log line; it never takes the process down.
func recoverPanics(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler {
						panic(r)
					}
					log.ErrorContext(c.Request().Context(), "handler panic", "panic", fmt.Sprint(r), "path", c.Path())
					err = Error(http.StatusInternalServerError, "internal error")
				}
			}()
			return next(c)
		}
	}
}

// InFlightLimit answers 429 with Retry-After (seconds) when more than limit requests are being
// served, and counts those in flight in m's hz_http_in_flight_requests.
func InFlightLimit(limit int, retryAfter string, m *Metrics) echo.MiddlewareFunc {
	sem := make(chan struct{}, max(1, limit))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			select {
			case sem <- struct{}{}:
			default:
				c.Response().Header().Set("Retry-After", retryAfter)
				return Error(http.StatusTooManyRequests, "too many requests in flight; retry later")
			}
			m.inFlight.Inc()
			defer func() { <-sem; m.inFlight.Dec() }()
			return next(c)
		}
	}
}

// Metrics are the request metrics of one listener.
type Metrics struct {
	requests *prometheus.CounterVec
	seconds  prometheus.Histogram
	inFlight prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, listener string) *Metrics {
	f := promauto.With(prometheus.WrapRegistererWith(prometheus.Labels{"listener": listener}, reg))
	return &Metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hz_http_requests_total",
			Help: "HTTP requests answered, by status code.",
		}, []string{"code"}),
		seconds: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "hz_http_request_seconds",
			Help:    "Time to answer an HTTP request.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		inFlight: f.NewGauge(prometheus.GaugeOpts{
			Name: "hz_http_in_flight_requests",
			Help: "HTTP requests being served now.",
		}),
	}
}

// middleware counts every answer, including those written by the error handler.
func (m *Metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		m.requests.WithLabelValues(strconv.Itoa(c.Response().Status)).Inc()
		m.seconds.Observe(time.Since(start).Seconds())
		return nil
	}
}
