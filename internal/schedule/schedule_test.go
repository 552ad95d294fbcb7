package schedule

import (
	"errors"
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
		{spec: "@every 1m", want: from.Add(time.Minute)},
		{spec: "@hourly", want: time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)},
		{spec: "0 3 * * *", want: time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)},
		{spec: "*/15 * * * *", want: time.Date(2026, 11, 25, 10, 15, 0, 0, time.UTC)},
		{spec: "* * * * *", want: time.Date(2026, 11, 25, 10, 8, 0, 0, time.UTC)},
		{spec: "0 0 29 2 *", want: time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)},
		{spec: "0 0 30 2 1", want: time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)}, // day or weekday
		{spec: "0 3 * *", wantErr: `schedule "0 3 * *"`},
		{spec: "@every soon", wantErr: "@every 10m"},
		{spec: "61 * * * *", wantErr: "five cron fields"},
		{spec: "@every 5s", wantErr: `schedule "@every 5s" fires every 5s, more often than the minimum of 1m0s: use`},
		{spec: "@every 59.9s", wantErr: "more often than the minimum"},
		{spec: "0 0 30 2 *", wantErr: `schedule "0 0 30 2 *" never fires: no date matches`},
		{spec: "0 0 31 4 *", wantErr: "never fires"},
		{spec: "0 0 30,31 FEB ?", wantErr: "never fires"},
		{spec: "0 0 31 4,6,9,11 *", wantErr: "never fires"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := Next(tt.spec, from)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Next(%q) error %v, want one containing %q", tt.spec, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), fix) {
					t.Errorf("Next(%q) error %q does not say what to write instead", tt.spec, err)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("Next(%q) = %v, %v; want %v", tt.spec, got, err, tt.want)
			}
		})
	}
}

func TestCheckNamesTheScheduleThatNeverFires(t *testing.T) {
	err := Check("0 0 31 11 *", time.Now())
	if !errors.Is(err, ErrNeverFires) {
		t.Errorf("Check error %v, want ErrNeverFires", err)
	}
	if err := Check("@every 1h", time.Now()); err != nil {
		t.Errorf("Check(@every 1h): %v", err)
	}
}
