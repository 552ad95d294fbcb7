package probes

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/netconform/netconform/api/v1alpha1"
)

// MaxMessageBytes is the size of a container's termination message that the kubelet keeps.
const MaxMessageBytes = 4096

// MaxChecksPerPod is the most checks one probe pod carries. At one byte per result,
// the least the codec falls back to, this many always fit in a termination message.
const MaxChecksPerPod = 500

const (
	codecPrefix     = "nc1."
	maxStringBytes  = 160
	maxLatencyMilli = 1<<21 - 1 // three varint bytes, about 35 minutes

	withLatency byte = 1 << iota
	withTargets
	withMessages
)

var observationCodes = []v1alpha1.Observation{
	v1alpha1.ObservedConnected, v1alpha1.ObservedRefused, v1alpha1.ObservedTimeout,
	v1alpha1.ObservedUnreachable, v1alpha1.ObservedDNSFailure, v1alpha1.ObservedError,
}

// EncodeResults renders the results of a pod's checks, in check order, into a
// termination message of at most MaxMessageBytes. When everything does not fit it
// leaves out messages, then targets, then latencies, so the observations always arrive.
func EncodeResults(results []Result) (string, error) {
	if len(results) > MaxChecksPerPod {
		return "", fmt.Errorf("%d results exceed the %d a probe pod may carry", len(results), MaxChecksPerPod)
	}
	for _, flags := range []byte{withLatency | withTargets | withMessages, withLatency | withTargets, withLatency, 0} {
		msg := codecPrefix + base64.RawURLEncoding.EncodeToString(encodeRaw(results, flags))
		if len(msg) <= MaxMessageBytes {
			return msg, nil
		}
	}
	return "", fmt.Errorf("%d results do not fit in a termination message", len(results))
}

func encodeRaw(results []Result, flags byte) []byte {
	var strs stringTable
	var body []byte
	for _, r := range results {
		attempts := min(max(r.Attempts, 0), 15)
		body = append(body, observationCode(r.Observation)<<4|byte(attempts))
		if flags&withLatency != 0 {
			body = binary.AppendUvarint(body, uint64(min(max(r.Latency.Milliseconds(), 0), maxLatencyMilli)))
		}
		if flags&withTargets != 0 {
			body = binary.AppendUvarint(body, strs.index(r.Target))
		}
		if flags&withMessages != 0 {
			body = binary.AppendUvarint(body, strs.index(r.Message))
		}
	}
	raw := []byte{flags}
	raw = binary.AppendUvarint(raw, uint64(len(strs.list)))
	for _, s := range strs.list {
		raw = binary.AppendUvarint(raw, uint64(len(s)))
		raw = append(raw, s...)
	}
	raw = binary.AppendUvarint(raw, uint64(len(results)))
	return append(raw, body...)
}

// stringTable stores each distinct string once; index 0 means "none".
type stringTable struct {
	list []string
	seen map[string]uint64
}

func (t *stringTable) index(s string) uint64 {
	s = truncate(s, maxStringBytes)
	if s == "" {
		return 0
	}
	if i, ok := t.seen[s]; ok {
		return i
	}
	if t.seen == nil {
		t.seen = map[string]uint64{}
	}
	t.list = append(t.list, s)
	t.seen[s] = uint64(len(t.list))
	return uint64(len(t.list))
}

func observationCode(o v1alpha1.Observation) byte {
	for i, known := range observationCodes {
		if known == o {
			return byte(i)
		}
	}
	return byte(len(observationCodes) - 1) // Error
}

// DecodeResults parses a termination message written by EncodeResults.
func DecodeResults(msg string) ([]Result, error) {
	encoded, ok := strings.CutPrefix(strings.TrimSpace(msg), codecPrefix)
	if !ok {
		return nil, errors.New("not a probe result: missing the nc1. prefix")
	}
	raw, err := base64.RawURLEncoding.DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("probe result: %w", err)
	}
	d := decoder{r: bytes.NewReader(raw)}
	results := d.results()
	if d.err != nil {
		return nil, fmt.Errorf("probe result: %w", d.err)
	}
	if d.r.Len() != 0 {
		return nil, fmt.Errorf("probe result: %d trailing bytes", d.r.Len())
	}
	return results, nil
}

type decoder struct {
	r   *bytes.Reader
	err error
}

func (d *decoder) results() []Result {
	flags := d.byte()
	strs := d.strings()
	n := d.count(MaxChecksPerPod, "results")
	if d.err != nil {
		return nil
	}
	results := make([]Result, 0, n)
	for range n {
		b := d.byte()
		if int(b>>4) >= len(observationCodes) {
			d.fail(fmt.Errorf("unknown observation code %d", b>>4))
		}
		if d.err != nil {
			return nil
		}
		r := Result{Observation: observationCodes[b>>4], Attempts: int(b & 0x0f)}
		if flags&withLatency != 0 {
			r.Latency = time.Duration(d.count(maxLatencyMilli, "latency")) * time.Millisecond
		}
		if flags&withTargets != 0 {
			r.Target = d.lookup(strs)
		}
		if flags&withMessages != 0 {
			r.Message = d.lookup(strs)
		}
		results = append(results, r)
	}
	return results
}

func (d *decoder) strings() []string {
	n := d.count(2*MaxChecksPerPod, "strings")
	var strs []string
	for range n {
		size := d.count(maxStringBytes, "string length")
		if d.err != nil {
			return nil
		}
		buf := make([]byte, size)
		if _, err := io.ReadFull(d.r, buf); err != nil {
			d.fail(errors.New("truncated string"))
			return nil
		}
		strs = append(strs, string(buf))
	}
	return strs
}

func (d *decoder) lookup(strs []string) string {
	i := d.count(uint64(len(strs)), "string index")
	if d.err != nil || i == 0 {
		return ""
	}
	return strs[i-1]
}

func (d *decoder) count(limit uint64, what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.r)
	if err != nil {
		d.fail(fmt.Errorf("truncated %s", what))
		return 0
	}
	if v > limit {
		d.fail(fmt.Errorf("%s %d exceeds %d", what, v, limit))
		return 0
	}
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	b, err := d.r.ReadByte()
	if err != nil {
		d.fail(errors.New("truncated"))
	}
	return b
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// truncate shortens s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
