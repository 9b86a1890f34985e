package app

import "testing"

func TestGroupDigits(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {4096, "4,096"}, {1234567, "1,234,567"},
		{-5, "-5"}, {-999, "-999"}, {-1000, "-1,000"}, {-123456, "-123,456"},
	} {
		if got := GroupDigits(tt.n); got != tt.want {
			t.Errorf("GroupDigits(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
