package probes

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/netconform/netconform/api/v1alpha1"
)

var allObservations = []v1alpha1.Observation{
	v1alpha1.ObservedConnected, v1alpha1.ObservedRefused, v1alpha1.ObservedTimeout,
	v1alpha1.ObservedUnreachable, v1alpha1.ObservedDNSFailure, v1alpha1.ObservedError,
}

// rawMessage wraps raw codec bytes as a termination message.
func rawMessage(raw ...byte) string {
	return codecPrefix + base64.RawURLEncoding.EncodeToString(raw)
}

// mustEncode encodes results and checks the envelope every encoding must respect.
func mustEncode(t testing.TB, results []Result) string {
	t.Helper()
	msg, err := EncodeResults(results)
	if err != nil {
		t.Fatalf("EncodeResults: %v", err)
	}
	if len(msg) > MaxMessageBytes {
		t.Fatalf("encoding of %d results is %d bytes, more than %d", len(results), len(msg), MaxMessageBytes)
	}
	if !strings.HasPrefix(msg, codecPrefix) {
		t.Fatalf("encoding %.20q lacks the %q prefix", msg, codecPrefix)
	}
	return msg
}

func TestResultsRoundTrip(t *testing.T) {
	euro60 := strings.Repeat("€", 60)      // 180 bytes of 3-byte runes
	emoji := "a" + strings.Repeat("😀", 50) // 201 bytes: 160 falls inside a rune
	accents := strings.Repeat("é", 100)    // 200 bytes: 160 falls on a boundary
	ascii := strings.Repeat("x", 500)
	tests := []struct {
		name string
		in   []Result
		want []Result // nil: same as in
	}{
		{
			name: "every observation with attempts, latency, target and message",
			in: []Result{
				{Observation: v1alpha1.ObservedConnected, Attempts: 1, Latency: 3 * time.Millisecond, Target: "10.96.0.12:8080"},
				{Observation: v1alpha1.ObservedRefused, Attempts: 2, Latency: 150 * time.Millisecond, Target: "[fd00::1]:5432", Message: "connection refused"},
				{Observation: v1alpha1.ObservedTimeout, Attempts: 3, Latency: 2000 * time.Millisecond, Target: "10.0.0.7:443", Message: "no answer within 2s"},
				{Observation: v1alpha1.ObservedUnreachable, Attempts: 10, Latency: 17 * time.Millisecond, Target: "192.0.2.1:80", Message: "no route to host"},
				{Observation: v1alpha1.ObservedDNSFailure, Attempts: 15, Latency: 30 * time.Minute, Target: "10.96.0.10:53", Message: "NXDOMAIN"},
				{Observation: v1alpha1.ObservedError, Message: "resolv.conf lists no name server"},
			},
		},
		{
			name: "no target, no message",
			in:   []Result{{Observation: v1alpha1.ObservedTimeout, Attempts: 1}, {Observation: v1alpha1.ObservedConnected, Attempts: 1}},
		},
		{
			name: "a string shared between results and between fields",
			in: []Result{
				{Observation: v1alpha1.ObservedConnected, Attempts: 1, Target: "10.0.0.1:80", Message: "10.0.0.1:80"},
				{Observation: v1alpha1.ObservedRefused, Attempts: 1, Target: "10.0.0.1:80", Message: "refused"},
				{Observation: v1alpha1.ObservedRefused, Attempts: 1, Target: "10.0.0.2:80", Message: "refused"},
			},
		},
		{
			name: "attempts and latency clamped to what the format holds",
			in: []Result{
				{Observation: v1alpha1.ObservedTimeout, Attempts: 16, Latency: 2 * time.Hour},
				{Observation: v1alpha1.ObservedTimeout, Attempts: -1, Latency: -time.Second},
				{Observation: v1alpha1.ObservedConnected, Attempts: 1, Latency: 1500 * time.Microsecond},
			},
			want: []Result{
				{Observation: v1alpha1.ObservedTimeout, Attempts: 15, Latency: maxLatencyMilli * time.Millisecond},
				{Observation: v1alpha1.ObservedTimeout, Attempts: 0},
				{Observation: v1alpha1.ObservedConnected, Attempts: 1, Latency: time.Millisecond},
			},
		},
		{
			name: "an unknown observation travels as Error",
			in:   []Result{{Observation: "Teleported", Attempts: 1}, {Observation: "", Attempts: 1}},
			want: []Result{{Observation: v1alpha1.ObservedError, Attempts: 1}, {Observation: v1alpha1.ObservedError, Attempts: 1}},
		},
		{
			name: "long strings truncated at a rune boundary",
			in: []Result{
				{Observation: v1alpha1.ObservedError, Attempts: 1, Message: euro60},
				{Observation: v1alpha1.ObservedError, Attempts: 1, Message: emoji},
				{Observation: v1alpha1.ObservedError, Attempts: 1, Message: accents},
				{Observation: v1alpha1.ObservedRefused, Attempts: 1, Target: ascii, Message: strings.Repeat("x", 160)},
			},
			want: []Result{
				{Observation: v1alpha1.ObservedError, Attempts: 1, Message: strings.Repeat("€", 53)},
				{Observation: v1alpha1.ObservedError, Attempts: 1, Message: "a" + strings.Repeat("😀", 39)},
				{Observation: v1alpha1.ObservedError, Attempts: 1, Message: strings.Repeat("é", 80)},
				{Observation: v1alpha1.ObservedRefused, Attempts: 1, Target: ascii[:160], Message: ascii[:160]},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == nil {
				want = tt.in
			}
			msg := mustEncode(t, tt.in)
			if again := mustEncode(t, tt.in); again != msg {
				t.Errorf("encoding is not deterministic: %q then %q", msg, again)
			}
			got, err := DecodeResults(msg)
			if err != nil {
				t.Fatalf("DecodeResults(%q): %v", msg, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip\n got %+v\nwant %+v", got, want)
			}
			for i, r := range got {
				for _, s := range []string{r.Target, r.Message} {
					if len(s) > maxStringBytes || !utf8.ValidString(s) {
						t.Errorf("result %d: %d bytes, valid UTF-8 %v: %q", i, len(s), utf8.ValidString(s), s)
					}
				}
			}
		})
	}
	t.Run("no results", func(t *testing.T) {
		got, err := DecodeResults(mustEncode(t, nil))
		if err != nil || len(got) != 0 {
			t.Fatalf("DecodeResults = %v, %v; want no results", got, err)
		}
	})
	t.Run("surrounding whitespace", func(t *testing.T) {
		in := []Result{{Observation: v1alpha1.ObservedRefused, Attempts: 2}}
		got, err := DecodeResults("\n " + mustEncode(t, in) + "\n")
		if err != nil || !reflect.DeepEqual(got, in) {
			t.Fatalf("DecodeResults = %+v, %v; want %+v", got, err, in)
		}
	})
}

func TestTruncate(t *testing.T) {
	for _, s := range []string{"", "abc", strings.Repeat("€", 60), "a" + strings.Repeat("😀", 50), strings.Repeat("é", 100), strings.Repeat("x", 161)} {
		for _, n := range []int{0, 1, 2, 3, 4, 159, 160} {
			got := truncate(s, n)
			if len(got) > n || !utf8.ValidString(got) || !strings.HasPrefix(s, got) {
				t.Errorf("truncate(%.12q…, %d) = %.12q… (%d bytes): want a valid prefix of at most %d bytes", s, n, got, len(got), n)
			}
			// Only the partial rune is cut: no more than 3 bytes go beyond n.
			if len(s) >= n && len(got) < n-3 {
				t.Errorf("truncate(%.12q…, %d) kept only %d bytes", s, n, len(got))
			}
		}
	}
}

// distinctResults makes n results whose targets and messages are all distinct and
// longer than the codec keeps, the worst case for the message size.
func distinctResults(n int) []Result {
	results := make([]Result, n)
	for i := range results {
		results[i] = Result{
			Observation: allObservations[i%len(allObservations)],
			Attempts:    i%15 + 1,
			Latency:     time.Duration(i*4099%maxLatencyMilli) * time.Millisecond,
			Target:      fmt.Sprintf("%03d-%s.example.com:443", i, strings.Repeat("t", 200)),
			Message:     fmt.Sprintf("%03d %s", i, strings.Repeat("m", 200)),
		}
	}
	return results
}

func TestEncodeResultsDegrades(t *testing.T) {
	shortTargets := func(n int) []Result {
		results := distinctResults(n)
		for i := range results {
			results[i].Target = fmt.Sprintf("10.0.%d.%d:80", i/256, i%256)
		}
		return results
	}
	tests := []struct {
		name                      string
		in                        []Result
		latency, targets, message bool
	}{
		{"a few results keep everything", distinctResults(6), true, true, true},
		{"long messages go first", shortTargets(60), true, true, false},
		{"then long targets", distinctResults(60), true, false, false},
		{"500 results with distinct long targets and messages", distinctResults(MaxChecksPerPod), true, false, false},
		{"500 results at the largest latency", func() []Result {
			results := distinctResults(MaxChecksPerPod)
			for i := range results {
				results[i].Latency = time.Hour
			}
			return results
		}(), true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := mustEncode(t, tt.in)
			got, err := DecodeResults(msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.in) {
				t.Fatalf("%d results decoded, want %d", len(got), len(tt.in))
			}
			for i, r := range got {
				in := tt.in[i]
				want := Result{Observation: in.Observation, Attempts: in.Attempts}
				if tt.latency {
					want.Latency = min(in.Latency.Truncate(time.Millisecond), maxLatencyMilli*time.Millisecond)
				}
				if tt.targets {
					want.Target = truncate(in.Target, maxStringBytes)
				}
				if tt.message {
					want.Message = truncate(in.Message, maxStringBytes)
				}
				if r != want {
					t.Fatalf("result %d:\n got %+v\nwant %+v", i, r, want)
				}
			}
		})
	}
}

// Every level of detail the encoder may fall back to decodes to exactly the fields it
// carries: observations and attempts always arrive.
func TestDecodeEveryLevel(t *testing.T) {
	in := distinctResults(12)
	levels := []struct {
		flags                     byte
		latency, targets, message bool
	}{
		{withLatency | withTargets | withMessages, true, true, true},
		{withLatency | withTargets, true, true, false},
		{withLatency, true, false, false},
		{0, false, false, false},
	}
	for _, l := range levels {
		t.Run(fmt.Sprintf("flags=%#x", l.flags), func(t *testing.T) {
			got, err := DecodeResults(rawMessage(encodeRaw(in, l.flags)...))
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range got {
				want := Result{Observation: in[i].Observation, Attempts: in[i].Attempts}
				if l.latency {
					want.Latency = in[i].Latency
				}
				if l.targets {
					want.Target = truncate(in[i].Target, maxStringBytes)
				}
				if l.message {
					want.Message = truncate(in[i].Message, maxStringBytes)
				}
				if r != want {
					t.Fatalf("result %d:\n got %+v\nwant %+v", i, r, want)
				}
			}
		})
	}
}

// The limit is inclusive: an encoding of exactly MaxMessageBytes keeps every field, one
// byte more drops the messages.
func TestEncodeResultsLimitIsInclusive(t *testing.T) {
	results := distinctResults(19)
	for i := range results {
		results[i].Target = ""
	}
	last := &results[len(results)-1]
	fullSize := func() int {
		return len(codecPrefix) + base64.RawURLEncoding.EncodedLen(len(encodeRaw(results, withLatency|withTargets|withMessages)))
	}
	found := false
	for n := 1; n <= maxStringBytes; n++ {
		last.Message = strings.Repeat("z", n)
		if fullSize() == MaxMessageBytes {
			found = true
			break
		}
	}
	if !found {
		t.Fatal("the fixture does not reach exactly MaxMessageBytes; adjust it")
	}
	got, err := DecodeResults(mustEncode(t, results))
	if err != nil {
		t.Fatal(err)
	}
	if got[len(got)-1].Message != last.Message {
		t.Errorf("an encoding of exactly %d bytes dropped the messages", MaxMessageBytes)
	}
	last.Message += "z"
	if fullSize() <= MaxMessageBytes {
		t.Fatal("one more byte still fits; adjust the fixture")
	}
	got, err = DecodeResults(mustEncode(t, results))
	if err != nil {
		t.Fatal(err)
	}
	if got[len(got)-1].Message != "" || got[len(got)-1].Latency != last.Latency {
		t.Errorf("over the limit: got %+v, want the latency without the message", got[len(got)-1])
	}
}

func TestEncodeResultsTooMany(t *testing.T) {
	_, err := EncodeResults(make([]Result, MaxChecksPerPod+1))
	if err == nil {
		t.Fatalf("EncodeResults accepted %d results", MaxChecksPerPod+1)
	}
	for _, want := range []string{fmt.Sprint(MaxChecksPerPod + 1), fmt.Sprint(MaxChecksPerPod)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestDecodeResultsErrors(t *testing.T) {
	valid := mustEncode(t, []Result{{Observation: v1alpha1.ObservedConnected, Attempts: 1, Target: "10.0.0.1:80"}})
	all := withLatency | withTargets | withMessages
	tests := []struct {
		name, msg, want string
	}{
		{"empty", "", "missing the nc1. prefix"},
		{"another prefix", "nc2." + strings.TrimPrefix(valid, codecPrefix), "missing the nc1. prefix"},
		{"plain text", "exec /netconform: no such file or directory", "missing the nc1. prefix"},
		{"bad base64", "nc1.!!!!", "illegal base64"},
		{"padded base64", rawMessage(0, 0, 0) + "=", "illegal base64"},
		{"only the prefix", "nc1.", "truncated"},
		{"trailing bytes", rawMessage(append(mustRaw(t, valid), 0)...), "1 trailing bytes"},
		{"unknown observation code", rawMessage(0, 0, 1, 6<<4|1), "unknown observation code 6"},
		{"largest observation code", rawMessage(0, 0, 1, 15<<4), "unknown observation code 15"},
		{"string index out of range", rawMessage(withTargets, 1, 1, 'x', 1, 0x01, 2), "string index 2 exceeds 1"},
		{"string index without strings", rawMessage(withMessages, 0, 1, 0x01, 1), "string index 1 exceeds 0"},
		{"too many results", rawMessage(binary.AppendUvarint([]byte{0, 0}, MaxChecksPerPod+1)...), "results 501 exceeds 500"},
		{"too many strings", rawMessage(binary.AppendUvarint([]byte{all}, 2*MaxChecksPerPod+1)...), "strings 1001 exceeds 1000"},
		{"string too long", rawMessage(binary.AppendUvarint([]byte{all, 1}, maxStringBytes+1)...), "string length 161 exceeds 160"},
		{"string shorter than its length", rawMessage(all, 1, 5, 'a', 'b'), "truncated string"},
		{"latency too large", rawMessage(binary.AppendUvarint([]byte{withLatency, 0, 1, 0x01}, maxLatencyMilli+1)...), "latency 2097152 exceeds 2097151"},
		{"varint overflow", rawMessage(0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), "results"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeResults(tt.msg)
			if err == nil {
				t.Fatalf("DecodeResults(%q) = %+v, want an error", tt.msg, got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if got != nil {
				t.Errorf("results %+v returned with the error", got)
			}
		})
	}
}

func mustRaw(t *testing.T, msg string) []byte {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(msg, codecPrefix))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// A termination message cut anywhere must be reported, never misread or panic.
func TestDecodeResultsTruncated(t *testing.T) {
	in := []Result{
		{Observation: v1alpha1.ObservedConnected, Attempts: 1, Latency: 3 * time.Millisecond, Target: "10.0.0.1:80"},
		{Observation: v1alpha1.ObservedTimeout, Attempts: 3, Latency: 300 * time.Millisecond, Target: "10.0.0.2:80", Message: "dropped"},
		{Observation: v1alpha1.ObservedDNSFailure, Attempts: 15, Latency: 30 * time.Minute, Target: "10.96.0.10:53", Message: "SERVFAIL"},
	}
	for _, flags := range []byte{withLatency | withTargets | withMessages, withLatency | withTargets, withLatency, 0} {
		raw := encodeRaw(in, flags)
		msg := rawMessage(raw...)
		if _, err := DecodeResults(msg); err != nil {
			t.Fatalf("flags %#x: the untruncated message does not decode: %v", flags, err)
		}
		for k := range len(msg) {
			if got, err := DecodeResults(msg[:k]); err == nil {
				t.Errorf("flags %#x: message cut to %d of %d characters decoded to %+v", flags, k, len(msg), got)
			}
		}
		for k := range len(raw) {
			if got, err := DecodeResults(rawMessage(raw[:k]...)); err == nil {
				t.Errorf("flags %#x: payload cut to %d of %d bytes decoded to %+v", flags, k, len(raw), got)
			}
		}
	}
}

func FuzzDecodeResults(f *testing.F) {
	seeds := [][]Result{
		nil,
		{{Observation: v1alpha1.ObservedConnected, Attempts: 1, Latency: time.Millisecond, Target: "10.0.0.1:80"}},
		distinctResults(6),
		distinctResults(60),
	}
	for _, s := range seeds {
		msg, err := EncodeResults(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg)
	}
	for _, junk := range []string{"", "nc1.", "nc1.AAAA", "nc1.____", "nc1.//", "hello", rawMessage(0, 0, 1, 0xf0), rawMessage(0xff, 1, 0)} {
		f.Add(junk)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		got, err := DecodeResults(msg)
		if err != nil {
			if got != nil {
				t.Fatalf("results %+v returned with error %v", got, err)
			}
			return
		}
		if len(got) > MaxChecksPerPod {
			t.Fatalf("%d results decoded", len(got))
		}
		for i, r := range got {
			if !slices.Contains(allObservations, r.Observation) || r.Attempts < 0 || r.Attempts > 15 ||
				r.Latency < 0 || r.Latency > maxLatencyMilli*time.Millisecond || len(r.Target) > maxStringBytes || len(r.Message) > maxStringBytes {
				t.Fatalf("result %d out of range: %+v", i, r)
			}
		}
		again, err := EncodeResults(got)
		if err != nil {
			t.Fatalf("decoded results do not re-encode: %v", err)
		}
		if len(again) > MaxMessageBytes {
			t.Fatalf("re-encoding is %d bytes", len(again))
		}
		back, err := DecodeResults(again)
		if err != nil {
			t.Fatalf("re-encoded results do not decode: %v", err)
		}
		// The re-encoding may carry less detail if it had to degrade; only that may differ.
		want := stripTo(got, mustRaw(t, again)[0])
		if !reflect.DeepEqual(back, want) {
			t.Fatalf("decode(encode(decode(msg))) differs:\n got %+v\nwant %+v", back, want)
		}
	})
}

// stripTo clears the fields an encoding with these flags leaves out.
func stripTo(results []Result, flags byte) []Result {
	out := slices.Clone(results)
	for i := range out {
		if flags&withLatency == 0 {
			out[i].Latency = 0
		}
		if flags&withTargets == 0 {
			out[i].Target = ""
		}
		if flags&withMessages == 0 {
			out[i].Message = ""
		}
	}
	return out
}

func TestChecksRoundTrip(t *testing.T) {
	checks := []Check{
		{Edge: "fe-web", Kind: KindTCP, Host: "web.shop.svc.cluster.local.", Port: 8080},
		{Edge: "fe-db", Kind: KindTCP, Host: "fd00::11", Port: 5432, Deny: true},
		{Edge: "fe-ntp", Kind: KindUDP, Host: "192.0.2.1", Port: 123, Deny: true},
		{Edge: "fe-dns", Kind: KindDNS, Host: "kubernetes.default.svc.cluster.local"},
		{Edge: "fe-ext", Kind: KindDNS, Host: "example.com", Deny: true},
		{Edge: "edge-max-port", Kind: KindTCP, Host: "10.0.0.1", Port: 65535},
	}
	got, err := DecodeChecks(EncodeChecks(checks))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, checks) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, checks)
	}
}

func TestMadeAndResultIndexes(t *testing.T) {
	api := Check{Edge: "a", Kind: KindTCP, Host: "10.0.0.1", Port: 80}
	db := Check{Edge: "b", Kind: KindTCP, Host: "10.0.0.2", Port: 5432, Deny: true}
	apiAgain, dbAgain := api, db
	apiAgain.Member, apiAgain.Same = 1, 1
	dbAgain.Member, dbAgain.Same = 1, 2
	checks := []Check{api, db, apiAgain, dbAgain}
	if _, err := DecodeChecks(EncodeChecks(checks)); err != nil {
		t.Fatal(err)
	}
	if got := Made(checks); !reflect.DeepEqual(got, []Check{api, db}) {
		t.Errorf("Made = %+v, want each connection once", got)
	}
	if got := ResultIndexes(checks); !reflect.DeepEqual(got, []int{0, 1, 0, 1}) {
		t.Errorf("ResultIndexes = %v, want [0 1 0 1]", got)
	}
}

func TestCheckAddress(t *testing.T) {
	tests := []struct {
		check   Check
		address string
	}{
		{Check{Kind: KindTCP, Host: "web.shop.svc.cluster.local.", Port: 80}, "web.shop.svc.cluster.local.:80"},
		{Check{Kind: KindUDP, Host: "fd00::11", Port: 53, Deny: true}, "[fd00::11]:53"},
		{Check{Kind: KindDNS, Host: "example.com", Deny: true}, "example.com"},
	}
	for _, tt := range tests {
		if got := tt.check.Address(); got != tt.address {
			t.Errorf("%+v.Address() = %q, want %q", tt.check, got, tt.address)
		}
	}
}

func TestDecodeChecksErrors(t *testing.T) {
	ok := `{"e":"ok","k":"tcp","h":"10.0.0.1","p":80}`
	tests := []struct {
		name, in, want string
	}{
		{"not JSON", `--checks=`, "decoding checks"},
		{"an object, not a list", ok, "decoding checks"},
		{"unknown kind", `[` + ok + `,{"e":"x","k":"icmp","h":"10.0.0.1"}]`, `check 1 (x): unknown kind "icmp"`},
		{"no kind", `[{"e":"x","h":"10.0.0.1","p":80}]`, `unknown kind ""`},
		{"tcp without a port", `[{"e":"x","k":"tcp","h":"10.0.0.1"}]`, "port 0 out of range 1-65535"},
		{"udp port too large", `[{"e":"x","k":"udp","h":"10.0.0.1","p":65536}]`, "port 65536 out of range"},
		{"negative port", `[{"e":"x","k":"tcp","h":"10.0.0.1","p":-1}]`, "port -1 out of range"},
		{"dns with a port", `[{"e":"x","k":"dns","h":"example.com","p":53}]`, "a dns check takes no port"},
		{"tcp with an empty host", `[{"e":"x","k":"tcp","h":"","p":80}]`, "empty host"},
		{"dns with no host", `[{"e":"x","k":"dns"}]`, "empty host"},
		{"port beyond int32", `[{"e":"x","k":"tcp","h":"h","p":4294967297}]`, "decoding checks"},
		{"same as itself", `[` + ok + `,{"e":"y","k":"tcp","h":"10.0.0.1","p":80,"s":2}]`, "not an earlier check"},
		{"same as another connection", `[` + ok + `,{"e":"y","k":"tcp","h":"10.0.0.2","p":80,"s":1}]`, "not an earlier check making the same connection"},
		{"same as a check answered by another", `[` + ok + `,{"e":"y","k":"tcp","h":"10.0.0.1","p":80,"s":1},{"e":"z","k":"tcp","h":"10.0.0.1","p":80,"s":2}]`, "check 2 (z)"},
		{"negative member", `[{"e":"x","k":"tcp","h":"10.0.0.1","p":80,"m":-1}]`, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeChecks(tt.in)
			if err == nil {
				t.Fatalf("DecodeChecks(%s) = %+v, want an error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func benchResults(n int) []Result {
	results := make([]Result, n)
	for i := range results {
		results[i] = Result{Observation: allObservations[i%4], Attempts: 1 + i%3, Latency: time.Duration(i) * time.Millisecond, Target: fmt.Sprintf("10.0.%d.%d:8080", i/256, i%256)}
		if i%5 == 0 {
			results[i].Message = "i/o timeout"
		}
	}
	return results
}

func BenchmarkEncodeResults100(b *testing.B) {
	results := benchResults(100)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeResults(results); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeResults100(b *testing.B) {
	msg := mustEncode(b, benchResults(100))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeResults(msg); err != nil {
			b.Fatal(err)
		}
	}
}
