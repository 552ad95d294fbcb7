package figures

import (
	"reflect"
	"testing"
)

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/netconform/netconform/probes
BenchmarkBuildPlan10000Edges-2   	      60	  19876543 ns/op	        19.88 ms/plan	 9876543 B/op	  123456 allocs/op
BenchmarkBuildPlan10000Edges-2   	      58	  20000000 ns/op	        20.00 ms/plan	 9876543 B/op	  123456 allocs/op
BenchmarkEncodeResults100   	   50000	     23456 ns/op
PASS
ok  	github.com/netconform/netconform/probes	12.345s
`
	want := map[string][]float64{
		"BuildPlan10000Edges": {19876543, 20000000},
		"EncodeResults100":    {23456},
	}
	if got := ParseGoBench(out); !reflect.DeepEqual(got, want) {
		t.Errorf("ParseGoBench = %v, want %v", got, want)
	}
}

func TestWrites(t *testing.T) {
	metrics := `# HELP rest_client_requests_total Number of HTTP requests, partitioned by status code, method, and host.
# TYPE rest_client_requests_total counter
rest_client_requests_total{code="200",host="10.96.0.1:443",method="GET"} 120
rest_client_requests_total{code="200",host="10.96.0.1:443",method="PATCH"} 7
rest_client_requests_total{code="201",host="10.96.0.1:443",method="POST"} 10
rest_client_requests_total{code="200",host="10.96.0.1:443",method="PUT"} 3
rest_client_requests_total{code="200",host="10.96.0.1:443",method="DELETE"} 10
rest_client_requests_total{code="409",host="10.96.0.1:443",method="PATCH"} 1
netconform_probe_errors_total{reason="PodRejected"} 1000
`
	if got := Writes(metrics); got != 31 {
		t.Errorf("Writes = %v, want 31", got)
	}
}
