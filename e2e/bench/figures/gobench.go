package figures

import (
	"bufio"
	"strconv"
	"strings"
)

// ParseGoBench reads `go test -bench` output and returns, per benchmark (its name without
// the Benchmark prefix and the -CPUS suffix), every run's nanoseconds per operation.
func ParseGoBench(output string) map[string][]float64 {
	runs := map[string][]float64{}
	sc := bufio.NewScanner(strings.NewReader(output))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(fields[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		for i := 2; i < len(fields); i++ {
			if fields[i] != "ns/op" {
				continue
			}
			if v, err := strconv.ParseFloat(fields[i-1], 64); err == nil {
				runs[name] = append(runs[name], v)
			}
		}
	}
	return runs
}

// Writes sums the API requests that change something (POST, PUT, PATCH, DELETE) in a
// Prometheus text exposition of client-go's rest_client_requests_total.
func Writes(metrics string) float64 {
	_, byMethod := Requests(metrics)
	return byMethod["POST"] + byMethod["PUT"] + byMethod["PATCH"] + byMethod["DELETE"]
}

// Requests sums rest_client_requests_total of a Prometheus text exposition, in all and
// by method.
func Requests(metrics string) (float64, map[string]float64) {
	total, byMethod := 0.0, map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(metrics))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "rest_client_requests_total{") {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		if end < 0 {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if err != nil {
			continue
		}
		total += v
		method := "other"
		if _, rest, ok := strings.Cut(line[:end], `method="`); ok {
			method, _, _ = strings.Cut(rest, `"`)
		}
		byMethod[method] += v
	}
	return total, byMethod
}
