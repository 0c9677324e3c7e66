package metrics

import (
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// scrapeTimeout bounds a scrape's reads of the state store.
const scrapeTimeout = 5 * time.Second

// Temporal is the SDK's metrics handler (client.Options.MetricsHandler)
// over m's registry: the SDK's counters, gauges and timers (temporal_…,
// timers as histograms in seconds) with the tags it gives as labels. It is
// implemented here over client_golang rather than with the SDK's tally
// contrib module, which would add a dependency for the same result. Nil m
// gives the SDK's no-op handler.
func (m *Metrics) Temporal() client.MetricsHandler {
	if m == nil {
		return client.MetricsNopHandler
	}
	return &temporalHandler{c: m.temporalCol}
}

// timerBuckets are the upper bounds (seconds) of the timers' histograms:
// from a millisecond (a local task) to ten minutes (a long poll, a batch).
var timerBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

type series struct {
	name   string
	kind   prometheus.ValueType // CounterValue, GaugeValue; UntypedValue marks a histogram
	labels []string             // names, sorted
	values []string
	bits   atomic.Uint64 // counter or gauge value, as float64 bits

	mu      sync.Mutex // histogram
	count   uint64
	sum     float64
	buckets []uint64
}

// temporalCollector holds every series the SDK reported. The SDK gives a
// metric different tag sets in different places, so series are kept by
// name and tags and collected unchecked (Describe sends nothing).
type temporalCollector struct {
	mu     sync.RWMutex
	series map[string]*series
}

func newTemporalCollector() *temporalCollector {
	return &temporalCollector{series: map[string]*series{}}
}

func (c *temporalCollector) Describe(chan<- *prometheus.Desc) {}

func (c *temporalCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	all := make([]*series, 0, len(c.series))
	for _, s := range c.series {
		all = append(all, s)
	}
	c.mu.RUnlock()
	for _, s := range all {
		desc := prometheus.NewDesc(s.name, "Temporal SDK metric "+s.name+".", s.labels, nil)
		if s.kind == prometheus.UntypedValue {
			s.mu.Lock()
			b := make(map[float64]uint64, len(timerBuckets))
			var cum uint64
			for i, ub := range timerBuckets {
				cum += s.buckets[i]
				b[ub] = cum
			}
			m, err := prometheus.NewConstHistogram(desc, s.count, s.sum, b, s.values...)
			s.mu.Unlock()
			if err == nil {
				ch <- m
			}
			continue
		}
		if m, err := prometheus.NewConstMetric(desc, s.kind, math.Float64frombits(s.bits.Load()), s.values...); err == nil {
			ch <- m
		}
	}
}

func (c *temporalCollector) get(name string, kind prometheus.ValueType, tags map[string]string) *series {
	name = sanitize(name)
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var id strings.Builder
	id.WriteString(name)
	labels, values := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		labels[i], values[i] = sanitize(k), tags[k]
		id.WriteString("\xff" + k + "=" + tags[k])
	}
	key := id.String()
	c.mu.RLock()
	s := c.series[key]
	c.mu.RUnlock()
	if s != nil {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s = c.series[key]; s == nil {
		s = &series{name: name, kind: kind, labels: labels, values: values}
		if kind == prometheus.UntypedValue {
			s.buckets = make([]uint64, len(timerBuckets))
		}
		c.series[key] = s
	}
	return s
}

// sanitize makes s a valid Prometheus metric or label name.
func sanitize(s string) string {
	b := []byte(s)
	for i, r := range b {
		ok := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9'
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

type temporalHandler struct {
	c    *temporalCollector
	tags map[string]string
}

func (h *temporalHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	for k, v := range h.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[k] = v
	}
	return &temporalHandler{c: h.c, tags: merged}
}

func (h *temporalHandler) Counter(name string) client.MetricsCounter {
	s := h.c.get(name, prometheus.CounterValue, h.tags)
	return counterFunc(func(d int64) {
		if d > 0 {
			addFloat(&s.bits, float64(d))
		}
	})
}

func (h *temporalHandler) Gauge(name string) client.MetricsGauge {
	s := h.c.get(name, prometheus.GaugeValue, h.tags)
	return gaugeFunc(func(v float64) { s.bits.Store(math.Float64bits(v)) })
}

func (h *temporalHandler) Timer(name string) client.MetricsTimer {
	s := h.c.get(name, prometheus.UntypedValue, h.tags)
	return timerFunc(func(d time.Duration) {
		v := d.Seconds()
		i := sort.SearchFloat64s(timerBuckets, v) // first bound ≥ v
		s.mu.Lock()
		s.count++
		s.sum += v
		if i < len(s.buckets) {
			s.buckets[i]++
		}
		s.mu.Unlock()
	})
}

func addFloat(bits *atomic.Uint64, d float64) {
	for {
		old := bits.Load()
		if bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

type (
	counterFunc func(int64)
	gaugeFunc   func(float64)
	timerFunc   func(time.Duration)
)

func (f counterFunc) Inc(d int64)          { f(d) }
func (f gaugeFunc) Update(v float64)       { f(v) }
func (f timerFunc) Record(d time.Duration) { f(d) }
