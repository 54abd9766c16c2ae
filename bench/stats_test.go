package main

import (
	"math"
	"testing"
)

func TestSummarize(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want summary
	}{
		{[]float64{3, 1, 2}, summary{Median: 2, Min: 1, Max: 3, N: 3}},
		{[]float64{4, 1, 3, 2}, summary{Median: 2.5, Min: 1, Max: 4, N: 4}},
		{[]float64{7}, summary{Median: 7, Min: 7, Max: 7, N: 1}},
		{nil, summary{}},
	} {
		if got := summarize(c.in); got != c.want {
			t.Errorf("summarize(%v) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestSummarizeKeepsInput(t *testing.T) {
	in := []float64{3, 1, 2}
	summarize(in)
	if in[0] != 3 || in[1] != 1 || in[2] != 2 {
		t.Fatalf("summarize sorted its argument: %v", in)
	}
}

func TestPercentile(t *testing.T) {
	var hundred, twoHundred []float64
	for i := 200; i >= 1; i-- { // descending: percentile must sort
		twoHundred = append(twoHundred, float64(i))
		if i <= 100 {
			hundred = append(hundred, float64(i))
		}
	}
	for _, c := range []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{hundred, 50, 50},
		{hundred, 99, 99},
		{hundred, 100, 100},
		{twoHundred, 50, 100},
		{twoHundred, 99, 198},
		{[]float64{10, 20, 30}, 50, 20},
		{[]float64{10, 20, 30}, 99, 30},
		{[]float64{10, 20, 30}, 1, 10},
		{[]float64{5}, 99, 5},
	} {
		if got := percentile(c.xs, c.p); got != c.want {
			t.Errorf("percentile(%d values, %v) = %v, want %v", len(c.xs), c.p, got, c.want)
		}
	}
	if got := percentile(nil, 50); !math.IsNaN(got) {
		t.Errorf("percentile of nothing = %v, want NaN", got)
	}
}
