package schedule

import (
	"strings"
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	from := time.Date(2026, 11, 25, 10, 7, 30, 0, time.UTC)
	tests := []struct {
		spec    string
		want    time.Time
		wantErr string
	}{
		{spec: "@every 10m", want: from.Add(10 * time.Minute)},
		{spec: "@hourly", want: time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)},
		{spec: "0 3 * * *", want: time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)},
		{spec: "*/15 * * * *", want: time.Date(2026, 11, 25, 10, 15, 0, 0, time.UTC)},
		{spec: "0 3 * *", wantErr: `schedule "0 3 * *"`},
		{spec: "@every soon", wantErr: "@every 10m"},
		{spec: "61 * * * *", wantErr: "five cron fields"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := Next(tt.spec, from)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Next(%q) error %v, want one containing %q", tt.spec, err, tt.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("Next(%q) = %v, %v; want %v", tt.spec, got, err, tt.want)
			}
		})
	}
}
